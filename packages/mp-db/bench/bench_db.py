"""Benchmark mp-db against the limit and against hand-written code, side by side, in one run.

    python bench_db.py --out DIR [--quick] [--sizes 0.1,1,10] [--no-durable]

On a throwaway TimescaleDB cluster of its own (durable: fsync on, unless ``--no-durable``),
following docs/performance.md and the design's performance.md:

1. backfill (30 years x 5 vintages x 20 series): raw binary COPY (psycopg 3 and asyncpg), mp-db
   ingest sync and async, an unchanged re-run, a re-run with 5% new vintages; then SQLAlchemy
   ORM / Core / ON CONFLICT executemany on a subset, next to mp-db and raw COPY;
2. as-of reads: every shape of schema.md through ``Reader``, against the ``row_number()``
   window query and naive ``DISTINCT ON``, noting which mp plans sort;
3. growth: ingest time and read latency at 0.1M, 1M and 10M rows.

Writes ``db.json`` (machine, versions, sizes, every raw timing and ratio), ``db.md`` (tables),
``growth.png`` and ``plans.txt`` (EXPLAIN ANALYZE of every mp and baseline statement) to
``--out``. It never fails because something was slow: speed is reported, not judged.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
import time
import traceback
from dataclasses import replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg
from bench_cli import bench_settings, options
from bench_db_common import FULL, QUICK, Context, Sizes, log
from bench_db_growth import growth
from bench_db_ingest import backfill, handwritten
from bench_db_reads import reads
from bench_db_report import markdown, plot_growth, targets
from sqlalchemy import Engine, text

from mp_db import create_db_engine, create_db_engine_async
from mp_testing import start_throwaway_postgres

#: Distributions whose versions go into the results.
DISTRIBUTIONS = (
    "mp-db",
    "mp-schema",
    "psycopg",
    "psycopg-binary",
    "asyncpg",
    "sqlalchemy",
    "matplotlib",
)
#: Server settings recorded with the results (they shape every figure).
SERVER_SETTINGS = (
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "max_wal_size",
    "jit",
    "max_parallel_workers_per_gather",
)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def machine(engine: Engine, durable: bool) -> dict[str, Any]:
    """The machine, the server and the client versions the figures were measured with."""
    with engine.connect() as connection:

        def scalar(sql: str) -> str:
            return str(connection.execute(text(sql)).scalar_one())

        server = {name: scalar(f"SHOW {name}") for name in SERVER_SETTINGS}
        postgresql = scalar("SHOW server_version")
        timescaledb = scalar("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
        license_name = scalar("SHOW timescaledb.license")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "load_average_start": os.getloadavg(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "postgresql": postgresql,
        "timescaledb": timescaledb,
        "timescaledb_license": license_name,
        "server_settings": server,
        "durable": durable,
        "psycopg_implementation": psycopg.pq.__impl__,
        "versions": {name: _version(name) for name in DISTRIBUTIONS},
    }


def _sections(context: Context, results: dict[str, Any], out: Path) -> None:
    """Run the sections in the order their table states allow: the reads use the backfill's
    mp-loaded table; the hand-written paths and the growth section empty it."""
    backfill_result, data, records = backfill(context)
    results["backfill"] = backfill_result
    results["reads"], plans = reads(context, data)
    results["handwritten"] = handwritten(context, records, data.vintages)
    del records
    growth_plans: list[str] = []
    results["growth"] = growth(context, context.sizes.growth_millions, growth_plans)
    (out / "plans.txt").write_text(plans + "".join(growth_plans))


def run(sizes: Sizes, durable: bool, out: Path) -> dict[str, Any]:
    """Start a cluster, run every section, destroy the cluster; return the results (with an
    ``error`` entry and whatever was measured if a section failed)."""
    started = time.perf_counter()
    log(f"starting a throwaway cluster (durable={durable})")
    server = start_throwaway_postgres(durable=durable)
    results: dict[str, Any] = {"sizes": sizes.as_dict()}
    try:
        settings = bench_settings(server, "mp-bench")
        engine = create_db_engine(settings)
        async_engine = create_db_engine_async(settings)
        results["machine"] = machine(engine, durable)
        with asyncio.Runner() as runner:
            context = Context(server, engine, async_engine, runner, sizes)
            try:
                _sections(context, results, out)
            except Exception:  # noqa: BLE001 - any failure: keep what was measured, report it
                # Keep what was measured; the error is part of the results.
                results["error"] = traceback.format_exc()
                log(results["error"])
            finally:
                runner.run(async_engine.dispose())
                engine.dispose()
    finally:
        server.destroy()
    results["wall_seconds"] = time.perf_counter() - started
    results["machine"]["load_average_end"] = os.getloadavg()
    return results


def _parse_sizes(value: str) -> tuple[float, ...]:
    return tuple(float(part) for part in value.split(",") if part.strip())


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write db.json, db.md, growth.png and plans.txt to --out."""
    parsed = options(
        __doc__,
        argv,
        lambda parser: parser.add_argument(
            "--sizes", type=_parse_sizes, help="growth sizes in millions of rows, e.g. 0.1,1,10"
        ),
    )
    sizes = QUICK if parsed.quick else FULL
    if parsed.sizes:
        sizes = replace(sizes, growth_millions=parsed.sizes)
    out: Path = parsed.out
    results = run(sizes, parsed.durable, out)
    results["targets"] = targets(results)
    plotted = plot_growth(results.get("growth", {}), out / "growth.png")
    results["growth_plot"] = "growth.png" if plotted else None
    (out / "db.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    report = markdown(results)
    (out / "db.md").write_text(report)
    print(report)
    return 1 if "error" in results else 0


if __name__ == "__main__":
    raise SystemExit(main())
