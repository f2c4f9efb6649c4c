"""What the benchmark scripts share around their sections: options, settings, result files."""

from __future__ import annotations

import argparse
import json
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench_db_common import log
from sqlalchemy import Engine

from mp_config import PostgresSettings
from mp_db import create_db_engine
from mp_testing import ThrowawayPostgres, start_throwaway_postgres

__all__ = [
    "STATEMENT_TIMEOUT_MS",
    "bench_database",
    "bench_settings",
    "options",
    "write_results",
]

#: The benchmark's own statements may run long (naive baselines at 10M rows); the engines
#: otherwise keep mp's defaults.
STATEMENT_TIMEOUT_MS = 15 * 60 * 1000


def bench_settings(server: ThrowawayPostgres, application_name: str) -> PostgresSettings:
    """The throwaway server's settings with the benchmark's long timeouts."""
    return server.settings.model_copy(
        update={
            "statement_timeout_ms": STATEMENT_TIMEOUT_MS,
            "idle_in_transaction_timeout_ms": STATEMENT_TIMEOUT_MS,
            "application_name": application_name,
        }
    )


@contextmanager
def bench_database(
    durable: bool, application_name: str, results: dict[str, Any]
) -> Iterator[tuple[ThrowawayPostgres, Engine]]:
    """A throwaway cluster and mp's sync engine on it, both gone afterwards. A failure inside
    is recorded as ``results["error"]`` (with whatever was measured kept), not raised."""
    started = time.perf_counter()
    log(f"starting a throwaway cluster (durable={durable})")
    server = start_throwaway_postgres(durable=durable)
    try:
        engine = create_db_engine(bench_settings(server, application_name))
        try:
            yield server, engine
        except Exception:  # noqa: BLE001 - keep what was measured, report the failure
            results["error"] = traceback.format_exc()
            log(results["error"])
        finally:
            engine.dispose()
    finally:
        server.destroy()
        results["wall_seconds"] = time.perf_counter() - started


def options(
    description: str | None,
    argv: list[str] | None,
    extra: Callable[[argparse.ArgumentParser], object] | None = None,
) -> argparse.Namespace:
    """``--out DIR [--quick] [--no-durable]`` plus ``extra``'s; the output folder is created."""
    parser = argparse.ArgumentParser(description=(description or "").splitlines()[0])
    if extra is not None:
        extra(parser)
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument(
        "--durable",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fsync on (realistic; default) or off",
    )
    parsed = parser.parse_args(argv)
    parsed.out.mkdir(parents=True, exist_ok=True)
    return parsed


def write_results(out: Path, stem: str, results: dict[str, Any], report: str) -> int:
    """Write ``stem``.json and ``stem``.md, print the report; 1 if an answer differed or a
    section failed (never because of speed), else 0."""
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / f"{stem}.md").write_text(report)
    print(report)
    return 0 if results.get("all_answers_equal") and "error" not in results else 1
