"""Peak memory of a large frame read, one-shot against streamed, each in a fresh process.

    python bench_memory_read.py [--rows 1000000,3000000,10000000] [--one-shot-max N]
                                [--batch-rows N] [--database NAME] [--keep] [--out DIR]

Loads ``max(--rows)`` rows of macro observations (1,000 series of daily observations, one
version each, written on the server by ``INSERT ... SELECT`` from ``generate_series``) into a
database of its own on the server .env names (``--database``, created and migrated; dropped at
the end unless ``--keep``), then for each size reads the as-of answer of just enough series
(``FrameReader(engine, ARROW).as_of`` one-shot, and ``.stream.as_of`` with ``--batch-rows``)
in a child process that reports its peak RSS (``resource.getrusage().ru_maxrss``), its RSS
before the read (the interpreter with pyarrow, numpy and mp-db imported and an engine
connected), the rows and the seconds. One-shot reads above ``--one-shot-max`` rows are left
out (they need memory in proportion: the curve below shows how much). Prints a Markdown
table and writes ``memory.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from mp_config import PostgresSettings

#: Daily observations per series; the answer of ``n`` series holds ``n * DAYS`` rows.
DAYS = 10_000
SERIES = 1_000
FIRST_DAY = datetime(1990, 1, 1, tzinfo=UTC)
AS_OF = datetime(2030, 1, 1, tzinfo=UTC)
PREFIX = "MEMORY_READ"


def _settings(database: str) -> PostgresSettings:
    base = PostgresSettings.load()
    return base.model_copy(update={"database": database, "statement_timeout_ms": 0})


def _prepare(database: str) -> None:
    """The database, migrated, with SERIES series of DAYS rows (once: kept ones are reused)."""
    base = PostgresSettings.load()
    with psycopg.connect(**base.psycopg_kwargs(), autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if found.fetchone() is None:
            admin.execute(f'CREATE DATABASE "{database}"')
    settings = _settings(database)
    from mp_schema import upgrade

    upgrade(settings, "head")
    with psycopg.connect(**settings.psycopg_kwargs(), autocommit=True) as connection:
        loaded = connection.execute(
            "SELECT count(*) FROM mp.series WHERE source_code LIKE %s", (f"{PREFIX}%",)
        ).fetchone()
        if loaded is not None and loaded[0] == SERIES:
            return
    _load(settings)


def _load(settings: PostgresSettings) -> None:
    from bench_db_data import create_series

    from mp_db import create_db_engine

    engine = create_db_engine(settings)
    try:
        ids = create_series(engine, PREFIX, SERIES)
    finally:
        engine.dispose()
    started = time.perf_counter()
    with psycopg.connect(**settings.psycopg_kwargs(), autocommit=True) as connection:
        for at in range(0, SERIES, 100):
            connection.execute(
                "INSERT INTO mp.macro_observations (series_id, obs_time, knowledge_time, value, "
                "knowledge_time_source, ingest_id) "
                "SELECT s, %(first)s + d * interval '1 day', "
                "%(first)s + (d + 1) * interval '1 day', d * 0.25, 'vendor', 0 "
                "FROM unnest(%(ids)s::int[]) s, generate_series(0, %(days)s - 1) d",
                {"first": FIRST_DAY, "ids": list(ids[at : at + 100]), "days": DAYS},
            )
            print(f"loaded {(at + 100) * DAYS:,} rows", file=sys.stderr, flush=True)
        connection.execute("VACUUM (ANALYZE) mp.macro_observations")
    print(f"load: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


def _child(database: str, rows: int, mode: str, batch_rows: int) -> dict[str, Any]:
    """One read in this process: rows, seconds, RSS before and peak (MiB)."""
    import pyarrow

    from mp_db import ARROW, FrameReader, create_db_engine

    engine = create_db_engine(_settings(database))
    with engine.connect() as connection:
        ids = [
            row[0]
            for row in connection.exec_driver_sql(
                "SELECT series_id FROM mp.series WHERE source_code LIKE %(p)s "
                "ORDER BY series_id LIMIT %(n)s",
                {"p": f"{PREFIX}%", "n": rows // DAYS},
            )
        ]
    before = _rss_mib()
    started = time.perf_counter()
    reader = FrameReader(engine, ARROW, batch_rows=batch_rows)
    got, largest, checksum = 0, 0, 0.0
    if mode == "one-shot":
        table = reader.as_of("macro_observations", ids, as_of=AS_OF)
        got = largest = table.num_rows
        checksum = float(pyarrow.compute.sum(table.column("value")).as_py())
    else:
        for batch in reader.stream.as_of("macro_observations", ids, as_of=AS_OF):
            got += batch.num_rows
            largest = max(largest, batch.num_rows)
            checksum += float(pyarrow.compute.sum(batch.column("value")).as_py() or 0)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "mode": mode,
        "rows": got,
        "largest_batch": largest,
        "seconds": seconds,
        "rows_per_second": got / seconds,
        "rss_before_mib": before,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "value_sum": checksum,
    }


def _rss_mib() -> float:
    resident = int(Path("/proc/self/statm").read_text().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE") / 2**20


def _measure(database: str, rows: int, mode: str, batch_rows: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--database", database]
    command += ["--rows", str(rows), "--batch-rows", str(batch_rows)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def report(results: list[dict[str, Any]], batch_rows: int) -> str:
    """The Markdown table of every run."""
    lines = [
        f"| rows | read | peak RSS (MiB) | RSS before (MiB) | the read's own (MiB) | largest "
        f"batch | seconds | rows/s |  (stream: batches of {batch_rows:,})",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for item in results:
        lines.append(
            f"| {item['rows']:,} | {item['mode']} | {item['peak_rss_mib']:.0f} "
            f"| {item['rss_before_mib']:.0f} "
            f"| {item['peak_rss_mib'] - item['rss_before_mib']:.0f} "
            f"| {item['largest_batch']:,} | {item['seconds']:.1f} "
            f"| {item['rows_per_second']:,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Load, measure each size and mode in a child process, print and write the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", default="1000000,3000000,10000000")
    parser.add_argument("--one-shot-max", type=int, default=10_000_000)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--database", default="mp_bench_memory_read")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        rows = int(options.rows)
        print(json.dumps(_child(options.database, rows, options.child, options.batch_rows)))
        return 0
    sizes = [int(size) for size in options.rows.split(",")]
    if max(sizes) > SERIES * DAYS:
        parser.error(f"at most {SERIES * DAYS:,} rows")
    _prepare(options.database)
    results = []
    try:
        for rows in sizes:
            modes = ["stream"] + (["one-shot"] if rows <= options.one_shot_max else [])
            for mode in modes:
                results.append(_measure(options.database, rows, mode, options.batch_rows))
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    finally:
        if not options.keep:
            base = PostgresSettings.load()
            with psycopg.connect(**base.psycopg_kwargs(), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{options.database}" WITH (FORCE)')
    table = report(results, options.batch_rows)
    print(table)
    if options.out:
        options.out.mkdir(parents=True, exist_ok=True)
        document = {"load_average": os.getloadavg(), "runs": results}
        (options.out / "memory.json").write_text(json.dumps(document, indent=2) + "\n")
        (options.out / "memory.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
