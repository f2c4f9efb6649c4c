"""Columnar reads against the server's own execution time, side by side in one run.

    python bench_db_columnar.py [--quick] [--out DIR] [--database NAME]

Loads the issue-13 shape (20 series x 30 years business-daily x 5 vintages, and a fleet of
500 series x 2 years x 2 vintages; ``--quick``: 4 series x 3 years and 500 x 3 months) into a
throwaway cluster (or, with ``--database``, a database of that name on the server .env names,
loaded once and kept), then times per shape, interleaved: EXPLAIN ANALYZE's execution time of
the statement (the server's floor), typed rows, ``FrameReader`` with ``ARROW``, ``PANDAS`` and
``POLARS`` sync, ``AsyncFrameReader`` (``ARROW``) async, ``ARROW`` on a held Connection (no
pool checkout, ping or rollback per read), the same read streamed (``.stream``, batches of
100,000 rows, sync and async), and, when ``adbc-driver-postgresql`` is installed, the ADBC
driver on the same statement. It records rows touched (rows out of the
scan nodes) against rows returned and the shared buffers, prints a table with the issue's
targets and writes ``columnar.json`` to ``--out``. Speed is reported, never judged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from bench_db_common import interleaved, log, quiet_gc
from bench_db_data import AS_OF, DataSet, as_dicts, as_tuples, business_days, create_series
from bench_db_reads import decision_times
from sqlalchemy import Engine, text

from mp_config import PostgresSettings
from mp_db import (
    ARROW,
    PANDAS,
    POLARS,
    AsyncFrameReader,
    Form,
    FrameReader,
    Query,
    Reader,
    create_db_engine,
    create_db_engine_async,
    ingest,
    join_as_of,
)
from mp_db._columnar import render_sql
from mp_db._read_queries import _Queries
from mp_testing import start_throwaway_postgres

ROW = "macro_observations"
#: Issue 13's best peer per shape (ms, same data, its run) and the ratio mp must keep to it.
TARGETS = {
    "as_of_1_series": ("ArcticDB", 1.4, 1.0),
    "as_of_20_series": ("DuckDB", 9.8, 3.0),
    "backtest_20x360": ("ArcticDB", 41.5, 1.0),
    "latest_500": ("polars", 20.5, 1.0),
    "cross_section_500": ("polars", 5.4, 1.0),
}


@dataclass(frozen=True)
class Sizes:
    """How much data and how many samples."""

    series: int
    years: float
    vintages: int
    fleet: int
    fleet_years: float
    repeats: int


FULL = Sizes(series=20, years=30, vintages=5, fleet=500, fleet_years=2, repeats=7)
QUICK = Sizes(series=4, years=3, vintages=5, fleet=500, fleet_years=0.25, repeats=3)


def _load(engine: Engine, sizes: Sizes) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The backfill and the fleet through mp's ingest (once: a kept database is reused)."""
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT source_code, series_id FROM mp.series ORDER BY series_id")
        ).all()
    backfill = tuple(sid for code, sid in found if str(code).startswith("COLUMNAR_BF"))
    fleet = tuple(sid for code, sid in found if str(code).startswith("COLUMNAR_FLEET"))
    if backfill and fleet:
        return backfill, fleet
    backfill = create_series(engine, "COLUMNAR_BF", sizes.series)
    fleet = create_series(engine, "COLUMNAR_FLEET", sizes.fleet)
    parts = [
        DataSet(backfill, tuple(business_days(sizes.years)), sizes.vintages),
        DataSet(fleet, tuple(business_days(sizes.fleet_years, last=AS_OF.date())), 2),
    ]
    for data in parts:
        for part in data.split(200_000):
            ingest(engine, ROW, as_dicts(as_tuples(part)))
        log(f"loaded {data.rows:,} rows")
    with engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.execute(text(f"VACUUM (ANALYZE) mp.{ROW}"))
    return backfill, fleet


@dataclass(frozen=True)
class Shape:
    """One read: its name, the reader method and arguments, and its Query (for EXPLAIN)."""

    name: str
    method: str
    args: tuple[Any, ...]
    options: dict[str, Any]
    query: Query[Any]


def shapes(backfill: Sequence[int], fleet: Sequence[int]) -> list[Shape]:
    """The five shapes of the issue's table."""
    one, ids, crowd = backfill[0], list(backfill), list(fleet)
    times = decision_times(360, AS_OF)
    day = datetime.combine(AS_OF.date() - timedelta(days=30), datetime.min.time(), AS_OF.tzinfo)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    none: dict[str, Any] = {"start": None, "end": None, "ingested_before": None}
    return [
        Shape(
            "as_of_1_series",
            "as_of",
            (ROW, one),
            {"as_of": AS_OF},
            _Queries.as_of(ROW, series_ids=one, as_of=AS_OF, **none),
        ),
        Shape(
            "as_of_20_series",
            "as_of",
            (ROW, ids),
            {"as_of": AS_OF},
            _Queries.as_of(ROW, series_ids=ids, as_of=AS_OF, **none),
        ),
        Shape(
            "backtest_20x360",
            "backtest",
            (ROW, ids, times),
            {},
            _Queries.backtest(ROW, ids, times, None),
        ),
        Shape(
            "latest_500",
            "latest",
            (ROW, crowd),
            {"as_of": AS_OF},
            _Queries.latest(ROW, crowd, AS_OF, None, bounded=True),
        ),
        Shape(
            "cross_section_500",
            "cross_section",
            (ROW, day),
            {"as_of": AS_OF, "series_ids": crowd},
            _Queries.cross_section(ROW, day, AS_OF, crowd, None),
        ),
    ]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def explain(connection: psycopg.Connection[Any], query: Query[Any]) -> dict[str, Any]:
    """Server execution time (ms), rows returned, rows touched by scans, shared buffers."""
    for name, value in query.planner:
        connection.execute("SELECT set_config(%s, %s, false)", (name, value))
    sql = render_sql(query.sql, query.parameters)
    row = connection.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}").fetchone()
    assert row is not None
    for name, _ in query.planner:
        connection.execute(f"RESET {name}")
    document = row[0][0]
    plan = document["Plan"]
    # Heap rows the scans returned or filtered out; TimescaleDB's appends and the unnest of
    # the backtest's probes pass rows on without touching a table. (Per-loop averages are
    # rounded in PostgreSQL 15's EXPLAIN, so lateral probes are counted to within rounding.)
    scans = [
        node
        for node in _nodes(plan)
        if "Scan" in str(node["Node Type"])
        and node["Node Type"] not in {"Function Scan", "Bitmap Index Scan", "Subquery Scan"}
        and node.get("Custom Plan Provider") not in {"ChunkAppend", "ConstraintAwareAppend"}
    ]
    return {
        "execution_ms": float(document["Execution Time"]),
        "planning_ms": float(document["Planning Time"]),
        "rows_returned": int(plan["Actual Rows"]) * int(plan.get("Actual Loops", 1)),
        "rows_touched": sum(
            int(node["Actual Rows"]) * int(node.get("Actual Loops", 1))
            + int(node.get("Rows Removed by Filter", 0))
            for node in scans
        ),
        "shared_buffers": int(plan.get("Shared Hit Blocks", 0))
        + int(plan.get("Shared Read Blocks", 0)),
    }


def _adbc(uri: str) -> Any:
    try:
        import adbc_driver_postgresql.dbapi as adbc
    except ImportError:
        return None
    return adbc.connect(uri)


def measure(
    settings: PostgresSettings, shape: Shape, sizes: Sizes, runner: asyncio.Runner
) -> dict[str, Any]:
    """Every variant of one shape, interleaved, with the server's own time beside them."""
    engine = create_db_engine(settings)
    async_engine = create_db_engine_async(settings)
    raw = psycopg.connect(**settings.psycopg_kwargs(), autocommit=True)
    secret = settings.password.get_secret_value() if settings.password else ""
    uri = (
        f"postgresql://{settings.user}:{secret}@{settings.host}:{settings.port}/{settings.database}"
    )
    adbc = _adbc(uri)
    stack = ExitStack()
    try:
        rows = Reader(engine)
        frames: dict[str, Form[Any]] = {"arrow": ARROW, "pandas": PANDAS, "polars": POLARS}
        async_reader = AsyncFrameReader(async_engine, ARROW)

        def call(reader: Any) -> Callable[[], Any]:
            return lambda: getattr(reader, shape.method)(*shape.args, **shape.options)

        held = engine.connect()
        stack.callback(held.close)

        def streamed() -> object:
            stream = FrameReader(engine, ARROW).stream
            return list(getattr(stream, shape.method)(*shape.args, **shape.options))

        async def streamed_async() -> object:
            stream = async_reader.stream
            batches = getattr(stream, shape.method)(*shape.args, **shape.options)
            return [batch async for batch in batches]

        variants: dict[str, Callable[[], object]] = {
            "server": lambda: explain(raw, shape.query),
            "rows": call(rows),
            **{name: call(FrameReader(engine, form)) for name, form in frames.items()},
            "arrow_async": lambda: runner.run(call(async_reader)()),
            "arrow_held": call(FrameReader(held, ARROW)),
            "arrow_stream": streamed,
            "arrow_stream_async": lambda: runner.run(streamed_async()),
        }
        if adbc is not None and not shape.query.planner:
            sql = render_sql(shape.query.sql, shape.query.parameters)

            def adbc_read() -> object:
                with adbc.cursor() as cursor:
                    cursor.execute(sql)
                    return cursor.fetch_arrow_table()

            variants["adbc"] = adbc_read
        timings = interleaved(variants, sizes.repeats, warm_up=True)
        plans = [explain(raw, shape.query) for _ in range(3)]
        result: dict[str, Any] = {
            name: statistics.median(timing.samples) * 1000 for name, timing in timings.items()
        }
        result["server"] = statistics.median(plan["execution_ms"] for plan in plans)
        result["planning"] = statistics.median(plan["planning_ms"] for plan in plans)
        if shape.method == "backtest":
            result["before_stream_join"] = _stream_join(rows, shape)
        result |= {
            key: plans[-1][key] for key in ("rows_returned", "rows_touched", "shared_buffers")
        }
        return result
    finally:
        stack.close()
        if adbc is not None:
            adbc.close()
        raw.close()
        runner.run(async_engine.dispose())
        engine.dispose()


def _stream_join(reader: Reader, shape: Shape) -> float:
    """The backtest as it was before (the whole release stream to the client, then
    join_as_of), timed once: the reference for the server-side probes."""
    table, ids, times = shape.args
    started = time.perf_counter()
    stream = reader.run(_Queries.stream(table, ids, max(times), None))
    join_as_of(stream, times, ids)
    return (time.perf_counter() - started) * 1000


def report(results: dict[str, dict[str, Any]]) -> str:
    """The Markdown table: times (ms, medians), ratios to the server and to the target."""
    lines = [
        "| shape | rows | touched | server (planning) | rows | arrow | pandas | polars "
        "| arrow async | arrow held | stream | stream async | adbc | pandas / server "
        "| held / (server + planning) | best peer (issue) | pandas / peer |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: | --- | ---: |",
    ]
    for name, figures in results.items():
        peer, peer_ms, allowed = TARGETS[name]

        def ms(key: str, figures: dict[str, Any] = figures) -> str:
            value = figures.get(key)
            return "-" if value is None else f"{value:.1f}"

        lines.append(
            f"| {name} | {figures['rows_returned']:,} | {figures['rows_touched']:,} "
            f"| {ms('server')} ({ms('planning')}) "
            f"| {ms('rows')} | {ms('arrow')} | {ms('pandas')} | {ms('polars')} "
            f"| {ms('arrow_async')} | {ms('arrow_held')} | {ms('arrow_stream')} "
            f"| {ms('arrow_stream_async')} | {ms('adbc')} "
            f"| {figures['pandas'] / figures['server']:.2f} (target 1.5) "
            f"| {figures['arrow_held'] / (figures['server'] + figures['planning']):.2f} "
            f"| {peer} {peer_ms} ms | {figures['pandas'] / peer_ms:.2f} (target {allowed}) |"
        )
    before = results.get("backtest_20x360", {}).get("before_stream_join")
    if before is not None:
        lines.append(
            f"\nBacktest before (stream to the client + join_as_of, one run): {before:.0f} ms."
        )
    return "\n".join(lines)


def _run(settings: PostgresSettings, sizes: Sizes) -> dict[str, dict[str, Any]]:
    engine = create_db_engine(settings)
    try:
        backfill, fleet = _load(engine, sizes)
    finally:
        engine.dispose()
    results = {}
    with asyncio.Runner() as runner, quiet_gc():
        for shape in shapes(backfill, fleet):
            results[shape.name] = measure(settings, shape, sizes, runner)
            log(f"{shape.name}: {results[shape.name]}")
    return results


def _kept_database(name: str) -> PostgresSettings:
    base = PostgresSettings.load()
    with psycopg.connect(**base.psycopg_kwargs(), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            admin.execute(f'CREATE DATABASE "{name}"')
    settings = base.model_copy(update={"database": name, "statement_timeout_ms": 0})
    from mp_schema import upgrade

    upgrade(settings, "head")
    return settings


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, write columnar.json to --out."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--out", type=Path, help="folder for columnar.json")
    parser.add_argument("--database", help="load into (and keep) this database on .env's server")
    options = parser.parse_args(argv)
    sizes = QUICK if options.quick else FULL
    started = time.perf_counter()
    if options.database:
        results = _run(_kept_database(options.database), sizes)
    else:
        server = start_throwaway_postgres()
        try:
            settings = server.settings.model_copy(update={"statement_timeout_ms": 0})
            results = _run(settings, sizes)
        finally:
            server.destroy()
    table = report(results)
    print(table)
    if options.out:
        options.out.mkdir(parents=True, exist_ok=True)
        document = {
            "sizes": sizes.__dict__,
            "load_average": os.getloadavg(),
            "wall_seconds": time.perf_counter() - started,
            "shapes": results,
        }
        (options.out / "columnar.json").write_text(json.dumps(document, indent=2) + "\n")
        (options.out / "columnar.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
