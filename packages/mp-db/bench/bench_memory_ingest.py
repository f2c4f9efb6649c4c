"""Peak memory of a large ingest streamed as frames: does it grow with the rows?

    python bench_memory_ingest.py --database NAME --rows 1000000 [--rows 10000000 ...]
        [--frame-rows 200000] [--library pandas|arrow] [--out FILE]

Each size runs in a subprocess of its own (so each peak is its own): a generator of frames of
``--frame-rows`` rows each (synthetic macro_observations: 1,000 series, business days, five
vintages per observation, built with numpy, never as Python rows) is given to one ``ingest``
call, written in one transaction. Reported per size: seconds, rows/s, the peak resident set
size of the process (``resource.getrusage``), and the peak before the ingest (the frames'
generator, imports, the engine). The series are created under a throwaway code prefix and
deleted with their rows afterwards, so it can run on a shared database (use one of its own if
possible: ``--database``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SERIES = 1000
VINTAGES = 5
#: Days after obs_time each vintage is known: the first release, then revisions.
LAGS_DAYS = (1, 30, 90, 365, 1095)


def _peak_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def frames(series: list[int], rows: int, frame_rows: int, library: str) -> Iterator[Any]:
    """``rows`` rows as frames of ``frame_rows``: observation-major (each observation's five
    vintages adjacent, so they rarely span two frames), values a pure function of the row."""
    import numpy as np
    import pandas as pd

    ids = np.asarray(series, dtype=np.int64)
    per_day = len(ids) * VINTAGES
    start_day = np.datetime64("1990-01-01", "D")
    lags = np.asarray(LAGS_DAYS, dtype="timedelta64[D]")
    for first in range(0, rows, frame_rows):
        row = np.arange(first, min(rows, first + frame_rows), dtype=np.int64)
        day, within = np.divmod(row, per_day)
        series_of, vintage = np.divmod(within, VINTAGES)
        obs = (start_day + day).astype("datetime64[us]")
        known = obs + lags[vintage].astype("timedelta64[us]") + np.timedelta64(12, "h")
        frame = pd.DataFrame(
            {
                "series_id": ids[series_of],
                "obs_time": pd.DatetimeIndex(obs).tz_localize("UTC"),
                "knowledge_time": pd.DatetimeIndex(known).tz_localize("UTC"),
                "value": (day % 97) * 0.5 + vintage * (vintage % 2),
            }
        )
        if library == "arrow":
            import pyarrow as pa

            yield pa.Table.from_pandas(frame, preserve_index=False)
        else:
            yield frame


def _one(database: str, rows: int, frame_rows: int, library: str) -> dict[str, Any]:
    """Run one size in this process."""
    from sqlalchemy import text

    from mp_config import PostgresSettings, get_settings
    from mp_db import create_db_engine, ingest

    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from bench_db_data import create_series

    settings = get_settings(PostgresSettings).model_copy(update={"database": database})
    engine = create_db_engine(settings)
    series = list(create_series(engine, f"MEM{uuid.uuid4().hex[:8]}_", SERIES))
    try:
        before = _peak_mib()
        started = time.perf_counter()
        report = ingest(engine, "macro_observations", frames(series, rows, frame_rows, library))
        seconds = time.perf_counter() - started
        return {
            "rows": rows,
            "frame_rows": frame_rows,
            "library": library,
            "seconds": seconds,
            "rows_per_second": rows / seconds,
            "inserted": report.inserted,
            "received": report.received,
            "peak_rss_mib": _peak_mib(),
            "peak_rss_before_ingest_mib": before,
        }
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("DELETE FROM mp.macro_observations WHERE series_id = ANY(:ids)"),
                {"ids": series},
            )
            connection.execute(
                text("DELETE FROM mp.series WHERE series_id = ANY(:ids)"), {"ids": series}
            )
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Each size in a subprocess; print and optionally write the results as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--rows", type=int, action="append", required=True)
    parser.add_argument("--frame-rows", type=int, default=200_000)
    parser.add_argument("--library", choices=["pandas", "arrow"], default="pandas")
    parser.add_argument("--out")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.one:
        print(
            json.dumps(_one(options.database, options.rows[0], options.frame_rows, options.library))
        )
        return 0
    results = []
    for rows in options.rows:
        command = [sys.executable, __file__, "--one", "--database", options.database]
        command += ["--rows", str(rows), "--frame-rows", str(options.frame_rows)]
        command += ["--library", options.library]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(result), flush=True)
        results.append(result)
    if options.out:
        with Path(options.out).open("w", encoding="utf-8") as written:
            json.dump(results, written, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
