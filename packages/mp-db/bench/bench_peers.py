"""Benchmark mp against ArcticDB, DuckDB and polars on the same data, side by side, in one run.

    python bench_peers.py --out DIR [--quick] [--no-durable]
        [--peers ArcticDB,DuckDB,polars] [--shapes NAME_OR_KIND,...] [--no-ingest]

On a throwaway TimescaleDB cluster of its own (fsync on unless ``--no-durable``) and the peers'
stores in a temporary folder, following issue 13 and the design's performance.md:

1. ingest of the backfill (20 series x 30 years business-daily x 5 vintages) from dicts,
   pandas, pyarrow and polars, against binary COPY into a hypertable with only the primary
   key (the floor) and into today's mp table, and each peer's first load; an unchanged re-run
   and a re-run with 5% new vintages by mp and by every peer (``bench_peers_ingest``);
   ``--no-ingest`` loads the backfill untimed instead;
2. a fleet of 500 series x 2 years is added (untimed), and every shape of issue 13's table
   (``--shapes`` picks some, by name such as ``latest_500`` or by kind: ``as_of``,
   ``latest``, ``cross_section``, ``backtest``) is answered by every mp variant (typed rows and
   the frame readers, see ``bench_peers_mp``) and every peer, each answer checked against a
   brute-force numpy reference, with the server's EXPLAIN ANALYZE execution time of mp's
   statement beside them;
3. bytes per stored row of every store.

Writes ``peers.json``, ``peers.md`` and ``peers.png`` to ``--out`` and logs progress on
stderr. Speed is reported, never judged; the run fails (exit code 1) if any answer differs
from the reference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from importlib import metadata
from typing import Any

from bench_cli import bench_database, bench_settings, options, write_results
from bench_db import machine
from bench_peers_data import FULL, QUICK, PeerSizes
from bench_peers_ingest import ingest_section, untimed_backfill
from bench_peers_report import markdown, plot
from bench_peers_sections import (
    MP_TABLE,
    Bench,
    ReadClients,
    build_shapes,
    load_fleet,
    read_section,
)
from bench_peers_systems import PEERS, make_peers, remove

from mp_db import create_db_engine_async

PEER_DISTRIBUTIONS = ("arcticdb", "duckdb", "polars", "pyarrow", "pandas", "numpy")


def _storage(bench: Bench, versions: int) -> dict[str, Any]:
    """Bytes per stored row of mp's hypertable and of every peer's store."""
    stored = int(bench.scalar(f"SELECT count(*) FROM {MP_TABLE}"))
    size = int(bench.scalar(f"SELECT hypertable_size('{MP_TABLE}')"))
    found = {"mp (hypertable_size)": (size, stored)}
    for peer in bench.peers:
        found[peer.name] = (peer.stored_bytes(), versions)
    return {
        name: {
            "bytes": size,
            "rows": rows,
            "bytes_per_stored_row": size / rows,
            "bytes_per_version": size / versions,
        }
        for name, (size, rows) in found.items()
    }


def _all_equal(results: dict[str, Any]) -> bool:
    shapes = results.get("reads", {}).get("shapes", {})
    checks = results.get("ingest", {}).get("checks", {})
    answers = all(all(shape["same_answer_as_reference"].values()) for shape in shapes.values())
    return bool(shapes) and answers and all(checks.values())


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--peers", type=_names, default=list(PEERS), help="comma-separated peers (default all)"
    )
    parser.add_argument(
        "--shapes", type=_names, default=[], help="comma-separated shape names or kinds"
    )
    parser.add_argument(
        "--ingest",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="time the ingest section (default) or load the backfill untimed",
    )


def run(sizes: PeerSizes, parsed: argparse.Namespace) -> dict[str, Any]:
    """Start a cluster and the peers, run every section, remove them all; return the results."""
    results: dict[str, Any] = {
        "sizes": sizes.as_dict(),
        "selection": {"peers": parsed.peers, "shapes": parsed.shapes, "ingest": parsed.ingest},
    }
    peers, folder = make_peers(parsed.peers)
    load_start = os.getloadavg()
    try:
        with (
            bench_database(parsed.durable, "mp-bench-peers", results) as (server, engine),
            asyncio.Runner() as runner,
        ):
            settings = bench_settings(server, "mp-bench-peers")
            async_engine = create_db_engine_async(settings)
            try:
                results["machine"] = machine(engine, parsed.durable)
                results["machine"]["versions"] |= {
                    name: metadata.version(name) for name in PEER_DISTRIBUTIONS
                }
                clients = ReadClients(settings, async_engine, runner)
                bench = Bench(server, engine, peers, sizes, clients, frozenset(parsed.shapes))
                if parsed.ingest:
                    results["ingest"], backfill, tables = ingest_section(bench)
                else:
                    backfill, tables = untimed_backfill(bench)
                fleet, fleet_table = load_fleet(bench)
                shapes = build_shapes(backfill, fleet, sizes.backtest_times)
                results["reads"] = read_section(bench, shapes, [*tables, fleet_table])
                results["storage"] = _storage(bench, backfill.rows + fleet.rows)
            finally:
                runner.run(async_engine.dispose())
    finally:
        remove(folder)
    results.setdefault("machine", {})["load_average_start"] = load_start
    results["machine"]["load_average_end"] = os.getloadavg()
    results["all_answers_equal"] = _all_equal(results)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write peers.json, peers.md and peers.png to --out."""
    parsed = options(__doc__, argv, _selection)
    results = run(QUICK if parsed.quick else FULL, parsed)
    results["plot"] = "peers.png" if plot(results, parsed.out / "peers.png") else None
    return write_results(parsed.out, "peers", results, markdown(results))


if __name__ == "__main__":
    raise SystemExit(main())
