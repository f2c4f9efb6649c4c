"""Ingest paths of the mp-db benchmark: mp-db's ingest, the raw COPY limit, hand-written SQL.

Every path receives the same rows. The raw COPY paths get them as prepared tuples (their
preparation is not timed: they are the limit); mp-db and the SQLAlchemy paths get one dict per
row, as a caller holds them, and the timed call includes everything they do with it (mp-db's
validation, SQLAlchemy's object construction).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from bench_db_common import Context, Timing, interleaved, log, quiet_gc, ratio
from bench_db_data import (
    COPY_COLUMNS,
    COPY_TYPES,
    SOURCE,
    DataSet,
    Version,
    as_dicts,
    as_tuples,
    business_days,
    create_series,
    new_vintages,
)
from sqlalchemy import Engine, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from mp_db import IngestReport, ingest, ingest_async, resolve_table, validate_batch
from mp_schema import FACT_TABLES
from mp_schema.models import MacroObservation

__all__ = ["backfill", "handwritten", "raw_copy", "raw_copy_async"]

TABLE = "macro_observations"
_COPY = f"COPY mp.{TABLE} ({', '.join(COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_ON_CONFLICT = (
    f"INSERT INTO mp.{TABLE} ({', '.join(COPY_COLUMNS)}) VALUES (%s, %s, %s, %s, %s) "
    "ON CONFLICT DO NOTHING"
)
#: One in this many observations gets a new vintage in the "re-run with new vintages" case.
NEW_VINTAGE_EVERY = 20


# -- the paths -----------------------------------------------------------------------------------


def raw_copy(engine: Engine, records: Sequence[Version]) -> int:
    """psycopg 3 binary COPY of prepared tuples straight into the hypertable: the limit."""
    with engine.begin() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(_COPY) as copy:
            copy.set_types(list(COPY_TYPES))
            for record in records:
                copy.write_row(record)
    return len(records)


async def raw_copy_async(engine: AsyncEngine, records: Sequence[Version]) -> int:
    """asyncpg ``copy_records_to_table`` of the same tuples: the async limit."""
    async with engine.begin() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.copy_records_to_table(
            TABLE, records=records, columns=list(COPY_COLUMNS), schema_name="mp"
        )
    return len(records)


def _orm_add_all(engine: Engine, rows: Sequence[dict[str, Any]]) -> int:
    # The unit of work: one object per row, flushed with insertmanyvalues and RETURNING of
    # the server defaults (revision, ingested_at).
    with Session(engine) as session:
        session.add_all([MacroObservation(**row) for row in rows])
        session.commit()
    return len(rows)


def _orm_bulk_insert(engine: Engine, rows: Sequence[dict[str, Any]]) -> int:
    # ORM bulk INSERT: session.execute(insert(Model), list_of_dicts), no objects.
    with Session(engine) as session:
        session.execute(insert(MacroObservation), list(rows))
        session.commit()
    return len(rows)


def _core_executemany(engine: Engine, rows: Sequence[dict[str, Any]]) -> int:
    with engine.begin() as connection:
        connection.execute(insert(FACT_TABLES[TABLE]), list(rows))
    return len(rows)


def _core_on_conflict(engine: Engine, rows: Sequence[dict[str, Any]]) -> int:
    # Idempotent, but with no revision logic: unchanged re-publications are stored too.
    with engine.begin() as connection:
        connection.execute(pg_insert(FACT_TABLES[TABLE]).on_conflict_do_nothing(), list(rows))
    return len(rows)


def _psycopg_on_conflict(engine: Engine, records: Sequence[Version]) -> int:
    # psycopg 3's executemany (pipeline mode) of a parameterized INSERT ... ON CONFLICT.
    with engine.begin() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:
            cursor.executemany(_ON_CONFLICT, records)
    return len(records)


def _mp_sync(engine: Engine, rows: Sequence[dict[str, Any]]) -> IngestReport:
    return ingest(engine, TABLE, rows)


def _mp_async(context: Context, rows: Sequence[dict[str, Any]]) -> IngestReport:
    return context.run(ingest_async(context.async_engine, TABLE, rows))


# -- reporting helpers ---------------------------------------------------------------------------


def _path_result(timing: Timing, received: int, reference: Timing | None) -> dict[str, Any]:
    """Rows per second over the rows received, the ratio against the reference path's time
    (higher is better for the path), and mp's report and Python-side time when it is mp."""
    result = timing.as_dict()
    result["rows_received"] = received
    result["rows_per_second"] = received / timing.median
    if reference is not None:
        result["throughput_vs_raw_copy"] = ratio(reference.median, timing.median)
    if isinstance(timing.last, IngestReport):
        report = timing.last
        result["report"] = asdict(report)
        result["rows_stored"] = report.inserted
        # IngestReport.elapsed_seconds starts after validation: the rest is Python-side.
        result["python_side_seconds_last"] = timing.samples[-1] - report.elapsed_seconds
    else:
        result["rows_stored"] = timing.last
    return result


def _warm(context: Context, records: Sequence[Version]) -> None:
    """Run every path once on a few rows: pooled connections, mp's staging table, plans."""
    rows = as_dicts(records)
    for run in (
        lambda: raw_copy(context.engine, records),
        lambda: context.run(raw_copy_async(context.async_engine, records)),
        lambda: _mp_sync(context.engine, rows),
        lambda: _mp_async(context, rows),
    ):
        context.empty_table()
        run()
    context.empty_table()


# -- backfill ------------------------------------------------------------------------------------


def _first_loads(
    context: Context, records: Sequence[Version], rows: Sequence[dict[str, Any]]
) -> dict[str, Timing]:
    variants: dict[str, Callable[[], object]] = {
        "raw_copy_psycopg": lambda: raw_copy(context.engine, records),
        "raw_copy_asyncpg": lambda: context.run(raw_copy_async(context.async_engine, records)),
        "mp_ingest_sync": lambda: _mp_sync(context.engine, rows),
        "mp_ingest_async": lambda: _mp_async(context, rows),
    }
    return interleaved(
        variants, context.sizes.ingest_repeats, before=lambda _: context.empty_table()
    )


def _validation(rows: Sequence[dict[str, Any]], repeats: int) -> dict[str, Any]:
    """mp-db's whole-batch validation alone (pure Python, no database)."""
    fact = resolve_table(TABLE)
    samples = []
    with quiet_gc():
        for _ in range(repeats):
            started = time.perf_counter()
            validate_batch(fact, rows, default_source=SOURCE)
            samples.append(time.perf_counter() - started)
    return Timing(samples).as_dict() | {"rows_per_second": len(rows) / Timing(samples).median}


def _reruns(context: Context, rows: Sequence[dict[str, Any]]) -> dict[str, Timing]:
    """The same backfill again onto the mp-loaded table: must insert nothing."""
    context.empty_table()
    _mp_sync(context.engine, rows)
    context.checkpoint()
    variants: dict[str, Callable[[], object]] = {
        "mp_rerun_sync": lambda: _mp_sync(context.engine, rows),
        "mp_rerun_async": lambda: _mp_async(context, rows),
    }
    return interleaved(variants, context.sizes.ingest_repeats)


def _with_new_vintages(
    context: Context, data: DataSet, rows: Sequence[dict[str, Any]]
) -> tuple[Timing, list[int]]:
    """The backfill again with a new vintage for 1 observation in 20; each repeat brings
    vintages of its own, so each inserts rows and nothing needs cleaning up in between."""
    timing = Timing([])
    expected = []
    for repeat in range(context.sizes.ingest_repeats):
        extra = new_vintages(data, every=NEW_VINTAGE_EVERY, offset_days=repeat)
        batch = [*rows, *as_dicts(extra)]
        expected.append(len(extra))
        context.checkpoint()
        with quiet_gc():
            started = time.perf_counter()
            timing.last = _mp_sync(context.engine, batch)
            timing.samples.append(time.perf_counter() - started)
    return timing, expected


def backfill(context: Context) -> tuple[dict[str, Any], DataSet, list[Version]]:
    """Section 1: first loads, validation, re-runs and re-runs with new vintages.

    Leaves the table holding the mp-loaded backfill (plus the new vintages) for the reads.
    """
    sizes = context.sizes
    series = create_series(context.engine, "BACKFILL", sizes.backfill_series)
    data = DataSet(series, tuple(business_days(sizes.backfill_years)), sizes.backfill_vintages)
    records = as_tuples(data)
    rows = as_dicts(records)
    log(
        f"backfill: {len(rows):,} rows ({len(series)} series x {len(data.days):,} days x "
        f"{data.vintages} vintages)"
    )
    _warm(context, records[:50])
    first = _first_loads(context, records, rows)
    log("backfill: first loads done")
    validation = _validation(rows, sizes.ingest_repeats)
    reruns = _reruns(context, rows)
    log("backfill: re-runs done")
    fresh, expected = _with_new_vintages(context, data, rows)
    log("backfill: re-runs with new vintages done")
    raw = first["raw_copy_psycopg"]
    paths = {name: _path_result(timing, len(rows), raw) for name, timing in first.items()}
    paths |= {name: _path_result(timing, len(rows), raw) for name, timing in reruns.items()}
    fresh_result = _path_result(fresh, len(rows) + expected[-1], raw)
    fresh_result["new_rows_per_repeat"] = expected
    paths["mp_rerun_with_new_vintages_sync"] = fresh_result
    paths["mp_ingest_async"]["throughput_vs_raw_copy_asyncpg"] = ratio(
        first["raw_copy_asyncpg"].median, first["mp_ingest_async"].median
    )
    checks = {
        "rerun_inserted_nothing": all(timing.last.inserted == 0 for timing in reruns.values()),
        "new_vintages_all_inserted": fresh.last.inserted == expected[-1],
        "first_load_sync_equals_async": first["mp_ingest_sync"].last.inserted
        == first["mp_ingest_async"].last.inserted,
    }
    result = {
        "shape": {
            "series": len(series),
            "business_days": len(data.days),
            "vintages": data.vintages,
            "rows": len(rows),
            "first_day": data.days[0].date().isoformat(),
            "last_day": data.days[-1].date().isoformat(),
        },
        "paths": paths,
        "validation_only": validation,
        "checks": checks,
    }
    return result, data, records


# -- hand-written paths on a subset --------------------------------------------------------------


def handwritten(context: Context, records: Sequence[Version], vintages: int) -> dict[str, Any]:
    """Section 1e: what users write by hand, against mp-db and raw COPY on the same subset.

    These paths are slow, so they run on a subset of the backfill (whole observations). They
    store every row they are given: no revision logic, revision left at 0.
    """
    count = (context.sizes.subset_rows // vintages) * vintages
    subset = list(records[:count])
    rows = as_dicts(subset)
    variants: dict[str, Callable[[], object]] = {
        "raw_copy_psycopg": lambda: raw_copy(context.engine, subset),
        "mp_ingest_sync": lambda: _mp_sync(context.engine, rows),
        "sqlalchemy_orm_add_all": lambda: _orm_add_all(context.engine, rows),
        "sqlalchemy_orm_bulk_insert": lambda: _orm_bulk_insert(context.engine, rows),
        "sqlalchemy_core_executemany": lambda: _core_executemany(context.engine, rows),
        "sqlalchemy_core_on_conflict_do_nothing": lambda: _core_on_conflict(context.engine, rows),
        "psycopg_executemany_on_conflict_do_nothing": lambda: _psycopg_on_conflict(
            context.engine, subset
        ),
    }
    log(f"hand-written paths: {count:,} rows each")
    timings = interleaved(
        variants, context.sizes.handwritten_repeats, before=lambda _: context.empty_table()
    )
    raw = timings["raw_copy_psycopg"]
    paths = {name: _path_result(timing, count, raw) for name, timing in timings.items()}
    mp_rate = paths["mp_ingest_sync"]["rows_per_second"]
    for name, path in paths.items():
        path["mp_ingest_throughput_vs_this"] = ratio(mp_rate, path["rows_per_second"])
        if name == "mp_ingest_sync":
            path["mp_ingest_throughput_vs_this"] = 1.0
    return {"rows": count, "paths": paths}


def create_growth_series(context: Context, count: int) -> tuple[int, ...]:
    """Series for the growth section (created once, for the largest size)."""
    return create_series(context.engine, "GROWTH", count)


def timed_parts(context: Context, parts: Sequence[DataSet], path: str) -> dict[str, Any]:
    """Load ``parts`` into an empty table with one call each; time only the calls.

    Building each part's rows is not timed: at 10M rows they cannot all be held at once.
    """
    context.empty_table()
    calls: list[float] = []
    stored = 0
    for part in parts:
        records = as_tuples(part)
        rows = as_dicts(records) if path == "mp_ingest_sync" else []
        # No collect: this part's rows are all alive, and a collection per part is slow.
        with quiet_gc(collect=False):
            started = time.perf_counter()
            if path == "raw_copy_psycopg":
                stored += raw_copy(context.engine, records)
            else:
                stored += _mp_sync(context.engine, rows).inserted
            calls.append(time.perf_counter() - started)
        del records, rows
    received = sum(part.rows for part in parts)
    return {
        "seconds": sum(calls),
        "rows_received": received,
        "rows_stored": stored,
        "rows_per_second": received / sum(calls),
        "calls": len(parts),
        # One figure per call, in order: a call that slows as the table fills shows here.
        "seconds_per_call": calls,
    }
