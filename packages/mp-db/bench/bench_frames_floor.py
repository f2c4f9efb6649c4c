"""Frames in against the floor: mp's ingest of a DataFrame / Arrow table vs binary COPY of the
same rows into a bare hypertable with only the primary key, all in one run.

    python bench_frames_floor.py --database NAME [--series 40] [--years 4] [--repeats 3]

The data is bench_db_data's backfill shape (business days, five vintages, values a pure
function of series, day and vintage). The floor gets prepared tuples (preparation untimed) and
COPYs them with psycopg into ``bench.bare`` (bench_schema_variants' ``bare``); mp's paths get
the rows as dicts, a pandas DataFrame, a pyarrow Table or a polars DataFrame, timestamps
timezone-aware, and the timed call includes everything ingest does with them. Three cases:
first load into an empty table, the same batch again (stores nothing), and the batch plus a
new vintage for one observation in twenty. Ratios are the floor's time over the path's (higher
is faster; the targets are 0.5x, 2x and 1x). Prints JSON; writes it to ``--out`` if given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, __file__.rsplit("/", 1)[0])

import pandas as pd
import polars as pl
import pyarrow as pa
from bench_db_data import (
    COPY_COLUMNS,
    DataSet,
    as_dicts,
    as_tuples,
    business_days,
    create_series,
    new_vintages,
)
from bench_schema_variants import copy_rows, create_variant, variant
from sqlalchemy import Engine, text

from mp_config import PostgresSettings, get_settings
from mp_db import create_db_engine, create_db_engine_async, ingest, ingest_async

TABLE = "macro_observations"


def _frames(records: list[Any]) -> dict[str, Any]:
    frame = pd.DataFrame.from_records(records, columns=COPY_COLUMNS)
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    polars = pl.from_arrow(arrow)
    return {"dicts": as_dicts(records), "pandas": frame, "arrow": arrow, "polars": polars}


def _timed(
    call: Callable[[], object], repeats: int, before: Callable[[], object]
) -> dict[str, Any]:
    samples, last = [], None
    for _ in range(repeats):
        before()
        started = time.perf_counter()
        last = call()
        samples.append(time.perf_counter() - started)
    return {
        "median_seconds": median(samples),
        "samples": samples,
        "inserted": getattr(last, "inserted", last),
    }


def _run_async(loop: asyncio.AbstractEventLoop, engine: Any, rows: Any) -> Any:
    return loop.run_until_complete(ingest_async(engine, TABLE, rows))


def run(database: str, series_count: int, years: float, repeats: int) -> dict[str, Any]:
    settings = get_settings(PostgresSettings).model_copy(update={"database": database})
    engine: Engine = create_db_engine(settings)
    async_engine = create_db_engine_async(settings)
    loop = asyncio.new_event_loop()
    series = create_series(engine, f"FLOOR{uuid.uuid4().hex[:8]}_", series_count)
    data = DataSet(series, tuple(business_days(years)), 5)
    records = as_tuples(data)
    inputs = _frames(records)
    bare = variant("bare")
    create_variant(engine, bare)

    def empty() -> None:
        with engine.begin() as connection:
            connection.execute(
                text(f"DELETE FROM mp.{TABLE} WHERE series_id = ANY(:ids)"), {"ids": list(series)}
            )

    def empty_bare() -> None:
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {bare.table}"))

    def nothing() -> None:
        return None

    results: dict[str, Any] = {"rows": len(records), "series": series_count, "repeats": repeats}
    try:
        floor = _timed(lambda: copy_rows(engine, bare.table, records), repeats, empty_bare)
        results["floor"] = floor
        first: dict[str, Any] = {}
        for name, rows in inputs.items():
            first[f"{name}_sync"] = _timed(partial(ingest, engine, TABLE, rows), repeats, empty)
        for name in ("dicts", "pandas", "arrow"):
            rows = inputs[name]
            first[f"{name}_async"] = _timed(
                partial(_run_async, loop, async_engine, rows),
                repeats,
                empty,
            )
        results["first_load"] = first
        empty()
        ingest(engine, TABLE, inputs["pandas"])
        rerun = {
            f"{name}_sync": _timed(partial(ingest, engine, TABLE, rows), repeats, nothing)
            for name, rows in inputs.items()
        }
        rerun["pandas_async"] = _timed(
            lambda: loop.run_until_complete(ingest_async(async_engine, TABLE, inputs["pandas"])),
            repeats,
            nothing,
        )
        results["unchanged_rerun"] = rerun
        fresh: dict[str, Any] = {}
        for name in ("dicts", "pandas", "arrow"):
            samples, inserted = [], 0
            for repeat in range(repeats):
                extra = new_vintages(data, every=20, offset_days=len(fresh) * repeats + repeat)
                batch = _frames([*records, *extra])[name]
                started = time.perf_counter()
                inserted = ingest(engine, TABLE, batch).inserted
                samples.append(time.perf_counter() - started)
            fresh[f"{name}_sync"] = {
                "median_seconds": median(samples),
                "samples": samples,
                "inserted": inserted,
                "new_rows": len(extra),
            }
        results["five_percent_new"] = fresh
    finally:
        empty()
        with engine.begin() as connection:
            connection.execute(
                text("DELETE FROM mp.series WHERE series_id = ANY(:ids)"), {"ids": list(series)}
            )
            connection.execute(text(f"DROP TABLE IF EXISTS {bare.table}"))
        loop.run_until_complete(async_engine.dispose())
        engine.dispose()
    base = results["floor"]["median_seconds"]
    for case in ("first_load", "unchanged_rerun", "five_percent_new"):
        for path in results.get(case, {}).values():
            path["vs_floor"] = base / path["median_seconds"]
    return results


def main(argv: list[str] | None = None) -> int:
    """Run; print the JSON (and write it to --out)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--series", type=int, default=40)
    parser.add_argument("--years", type=float, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out")
    options = parser.parse_args(argv)
    results = run(options.database, options.series, options.years, options.repeats)
    print(json.dumps(results, indent=2))
    if options.out:
        with Path(options.out).open("w", encoding="utf-8") as written:
            json.dump(results, written, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
