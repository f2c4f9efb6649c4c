"""Backup and restore figures for a benchmark backfill: pgBackRest on a throwaway cluster.

    python bench_backup.py [--series 40 --years 4 --vintages 5] [--out results.json]

For each size: ingest the backfill (WAL written), a full backup (time, repository bytes), a
small revision and an incremental backup, a recorded point between two ingests, then the data
folder deleted and restored to the newest point and to the recorded point (times, and whether
the restored row counts equal the ones counted before the loss). Figures, not a test: nothing
fails because the machine is slow. The drill that asserts is tests/test_restore_drill.py.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_db_data import DataSet, as_dicts, as_tuples, business_days, create_series, new_vintages
from sqlalchemy import Engine, text

from mp_db import create_db_engine, ingest
from mp_stack.native import BackupRepository
from mp_testing import start_throwaway_postgres


@dataclass(frozen=True)
class Size:
    """One backfill: series x business days over the years x vintages per observation."""

    series: int
    years: float
    vintages: int


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


def _rows(engine: Engine) -> int:
    return _scalar(engine, "SELECT count(*) FROM mp.macro_observations")


def _lsn(engine: Engine) -> int:
    return _scalar(engine, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")


def measure(size: Size) -> dict[str, Any]:
    """Every figure for one backfill size."""
    server = start_throwaway_postgres(durable=True, settings={"archive_mode": "on"})
    repository = BackupRepository(server.cluster, server.cluster.root.parent / "backup")
    engine = create_db_engine(server.settings)
    try:
        repository.attach()
        series = create_series(engine, "B", size.series)
        data = DataSet(series, tuple(business_days(size.years)), size.vintages)
        wal_start = _lsn(engine)
        clock = time.perf_counter()
        for part in data.split(200_000):
            ingest(engine, "macro", as_dicts(as_tuples(part)))
        ingest_seconds = time.perf_counter() - clock
        stored = _rows(engine)
        wal_backfill = _lsn(engine) - wal_start

        clock = time.perf_counter()
        full = repository.backup("full")
        full_seconds = time.perf_counter() - clock
        time.sleep(1.1)  # a point in time must fall after the backup's end (to the second)
        revision = as_dicts(new_vintages(data, every=50, offset_days=0))
        ingest(engine, "macro", revision)
        target = datetime.now(UTC)
        rows_at_target = _rows(engine)
        time.sleep(0.2)
        ingest(engine, "macro", as_dicts(new_vintages(data, every=50, offset_days=1)))
        clock = time.perf_counter()
        incremental = repository.backup("incr")
        incremental_seconds = time.perf_counter() - clock
        rows_newest = _rows(engine)
        clock = time.perf_counter()
        repository.verify()
        verify_seconds = time.perf_counter() - clock

        repository.switch_and_archive()
        server.cluster.stop("immediate")
        shutil.rmtree(server.cluster.data_dir)
        engine.dispose()
        clock = time.perf_counter()
        repository.restore()
        restore_seconds = time.perf_counter() - clock
        newest_ok = _rows(engine) == rows_newest
        engine.dispose()
        clock = time.perf_counter()
        repository.restore(target)
        pitr_seconds = time.perf_counter() - clock
        target_ok = _rows(engine) == rows_at_target
        return {
            "series": size.series,
            "years": size.years,
            "vintages": size.vintages,
            "rows_generated": data.rows,
            "rows_stored": stored,
            "ingest_seconds": round(ingest_seconds, 2),
            "backfill_wal_bytes": wal_backfill,
            "database_bytes": full.database_bytes,
            "full_backup_seconds": round(full_seconds, 2),
            "full_repository_bytes": full.repository_bytes,
            "revision_rows": len(revision),
            "incremental_backup_seconds": round(incremental_seconds, 2),
            "incremental_repository_bytes": incremental.repository_bytes,
            "verify_seconds": round(verify_seconds, 2),
            "restore_newest_seconds": round(restore_seconds, 2),
            "restore_point_in_time_seconds": round(pitr_seconds, 2),
            "newest_rows_equal": newest_ok,
            "point_in_time_rows_equal": target_ok,
        }
    finally:
        engine.dispose()
        server.destroy()
        shutil.rmtree(repository.root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Measure each size given (default: about 100k and 830k rows) and print JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--series", type=int, nargs="*", default=[20, 160])
    parser.add_argument("--years", type=float, default=4.0)
    parser.add_argument("--vintages", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    arguments = parser.parse_args(argv)
    results = []
    for count in arguments.series:
        size = Size(count, arguments.years, arguments.vintages)
        _log(f"measuring {size}")
        results.append(measure(size))
        _log(json.dumps(results[-1]))
    text_out = json.dumps(results, indent=2)
    print(text_out)
    if arguments.out is not None:
        arguments.out.write_text(text_out + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
