"""Benchmark mp against ArcticDB, DuckDB and polars on the same data, side by side, in one run.

    python bench_peers.py --out DIR [--quick] [--no-durable]

On a throwaway TimescaleDB cluster of its own (fsync on unless ``--no-durable``) and the peers'
stores in a temporary folder, following issue 13 and the design's performance.md:

1. ingest of the backfill (20 series x 30 years business-daily x 5 vintages) from dicts, a
   pandas DataFrame and an Arrow table, against binary COPY into a hypertable with only the
   primary key (the floor) and into today's mp table, and each peer's first load; then an
   unchanged re-run by mp and by every peer;
2. a fleet of 500 series x 2 years is added (untimed), and every shape of issue 13's table is
   answered by every mp variant (see ``bench_peers_mp``) and every peer, each answer checked
   against a brute-force numpy reference;
3. bytes per stored row of every store.

Writes ``peers.json``, ``peers.md`` and ``peers.png`` to ``--out``. Speed is reported, never
judged; the run fails (exit code 1) if any answer differs from the reference.
"""

from __future__ import annotations

import os
from importlib import metadata
from typing import Any

from bench_cli import bench_database, options, write_results
from bench_db import machine
from bench_peers_data import FULL, QUICK, PeerSizes
from bench_peers_report import markdown, plot
from bench_peers_sections import (
    MP_TABLE,
    Bench,
    build_shapes,
    ingest_section,
    load_fleet,
    read_section,
)
from bench_peers_systems import make_peers, remove

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


def run(sizes: PeerSizes, durable: bool) -> dict[str, Any]:
    """Start a cluster and the peers, run every section, remove them all; return the results."""
    results: dict[str, Any] = {"sizes": sizes.as_dict()}
    peers, folder = make_peers()
    try:
        with bench_database(durable, "mp-bench-peers", results) as (server, engine):
            results["machine"] = machine(engine, durable)
            results["machine"]["versions"] |= {
                name: metadata.version(name) for name in PEER_DISTRIBUTIONS
            }
            bench = Bench(server, engine, peers, sizes)
            results["ingest"], backfill, tables = ingest_section(bench)
            fleet, fleet_table = load_fleet(bench)
            shapes = build_shapes(backfill, fleet, sizes.backtest_times)
            results["reads"] = read_section(bench, shapes, [*tables, fleet_table])
            results["storage"] = _storage(bench, backfill.rows + fleet.rows)
    finally:
        remove(folder)
    results.setdefault("machine", {})["load_average_end"] = os.getloadavg()
    results["all_answers_equal"] = _all_equal(results)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write peers.json, peers.md and peers.png to --out."""
    parsed = options(__doc__, argv)
    results = run(QUICK if parsed.quick else FULL, parsed.durable)
    results["plot"] = "peers.png" if plot(results, parsed.out / "peers.png") else None
    return write_results(parsed.out, "peers", results, markdown(results))


if __name__ == "__main__":
    raise SystemExit(main())
