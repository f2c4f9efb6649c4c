"""What the peer benchmark's sections share (:class:`Bench`), the fleet, the shapes and the
read section; the ingest section is :mod:`bench_peers_ingest`.

Every system gets the same generated rows, each in its own input form built outside the
timing. Each shape interleaves its variants (round-robin, rotating start), checks every
answer against the brute-force reference, and asks the server for its own execution time of
mp's statement (EXPLAIN ANALYZE), the floor of any client.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import psycopg

# The peers and pyarrow are installed by the bench session only, not where mypy runs
# (hence the ignores, unused where they are present).
import pyarrow as pa  # type: ignore[import-not-found, import-untyped, unused-ignore]
from bench_db_common import Timing, interleaved, log, ratio
from bench_db_data import AS_OF, DataSet, as_dicts, as_tuples, business_days, create_series
from bench_db_reads import ONE_YEAR, decision_times
from bench_peers_data import Answer, PeerSizes, Reference, Shape, canonical, to_arrow
from bench_peers_mp import answer_table, read_variants, server_statement
from bench_peers_systems import Peer
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mp_config import PostgresSettings
from mp_db import ingest
from mp_db._columnar import render_sql
from mp_db._engines import session_options
from mp_testing import ThrowawayPostgres

__all__ = [
    "MP_TABLE",
    "Bench",
    "ReadClients",
    "build_shapes",
    "dataset",
    "load_fleet",
    "read_section",
    "selected",
]

MP_TABLE = "mp.macro_observations"


@dataclass(frozen=True)
class ReadClients:
    """What mp's read variants use besides the sync engine.

    Attributes:
        settings: mp's settings on the throwaway server (EXPLAIN runs on a connection of its
            own made from them).
        async_engine: mp's async engine (asyncpg), used on ``runner``'s loop only.
        runner: one event loop for the run, so pooled asyncpg connections stay valid.
    """

    settings: PostgresSettings
    async_engine: AsyncEngine
    runner: asyncio.Runner


@dataclass
class Bench:
    """The server, mp's engine and the peers of one run.

    Attributes:
        server: the throwaway cluster.
        engine: mp's sync engine (psycopg 3).
        peers: the peers selected.
        sizes: how much data and how many samples.
        clients: what the read section needs besides ``engine``.
        shapes: the shape names or kinds to read (empty: all).
    """

    server: ThrowawayPostgres
    engine: Engine
    peers: list[Peer]
    sizes: PeerSizes
    clients: ReadClients | None = None
    shapes: frozenset[str] = frozenset()

    def checkpoint(self) -> None:
        """Flush dirty pages, so no timed load pays for an earlier one's checkpoint."""
        with self.server.cluster.connect_admin("mp") as admin:
            admin.execute("CHECKPOINT")

    def truncate(self, table: str) -> None:
        """Empty a hypertable (its chunks go too), then checkpoint."""
        with self.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {table}"))
        self.checkpoint()

    def vacuum(self, table: str) -> None:
        """VACUUM (ANALYZE): statistics and the visibility map settled before timed reads."""
        with self.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.execute(text(f"VACUUM (ANALYZE) {table}"))

    def scalar(self, sql: str) -> Any:
        """One value."""
        with self.engine.connect() as connection:
            return connection.execute(text(sql)).scalar_one()


def dataset(bench: Bench, prefix: str, series: int, years: float, vintages: int) -> DataSet:
    ids = create_series(bench.engine, prefix, series)
    last = AS_OF.date() if prefix == "FLEET" else None
    days = business_days(years, last=last) if last else business_days(years)
    return DataSet(ids, tuple(days), vintages)


def load_fleet(bench: Bench) -> tuple[DataSet, pa.Table]:
    """Many series with short histories, into mp (dicts) and every peer, untimed."""
    sizes = bench.sizes
    fleet = dataset(bench, "FLEET", sizes.fleet_series, sizes.fleet_years, sizes.fleet_vintages)
    records = as_tuples(fleet)
    arrow = to_arrow(records)
    for part in fleet.split(1_000_000):
        ingest(bench.engine, "macro_observations", as_dicts(as_tuples(part)))
    for peer in bench.peers:
        peer.append(peer.input_form(arrow))
    bench.vacuum(MP_TABLE)
    log(f"peers: fleet of {len(fleet.series_ids)} series loaded ({fleet.rows:,} rows)")
    return fleet, arrow


def build_shapes(backfill: DataSet, fleet: DataSet, times: int) -> list[Shape]:
    """The shapes of issue 13's table on the loaded data."""
    one = backfill.series_ids[:1]
    every = (*backfill.series_ids, *fleet.series_ids)
    count = len(backfill.series_ids)
    years = len(backfill.days) / 261
    return [
        Shape("as_of_1_full", f"as of T, 1 series, full ({years:.0f} years)", "as_of", one, AS_OF),
        Shape("as_of_1_year", "as of T, 1 series, 1 year", "as_of", one, AS_OF, *ONE_YEAR),
        Shape(
            f"as_of_{count}_full",
            f"as of T, {count} series, full",
            "as_of",
            backfill.series_ids,
            AS_OF,
        ),
        Shape(
            f"latest_{count}", f"latest print, {count} series", "latest", backfill.series_ids, AS_OF
        ),
        Shape(
            f"latest_{len(fleet.series_ids)}",
            f"latest print, {len(fleet.series_ids)} series",
            "latest",
            fleet.series_ids,
            AS_OF,
        ),
        Shape(
            f"backtest_{count}x{times}",
            f"backtest, {count} series x {times} decision times",
            "backtest",
            backfill.series_ids,
            AS_OF,
            decision_times=tuple(decision_times(times, AS_OF)),
        ),
        Shape(
            f"cross_section_{len(every)}",
            f"cross-section, {len(every)} series",
            "cross_section",
            every,
            AS_OF,
            obs_time=fleet.days[len(fleet.days) // 2],
        ),
    ]


def _session_kwargs(settings: PostgresSettings) -> dict[str, Any]:
    """A connection planning as mp's engines' sessions do, so EXPLAIN's planning time is the
    one mp's reads pay (``constraint_exclusion`` among them)."""
    return {**settings.psycopg_kwargs(), "options": session_options(settings)}


def _explained(raw: psycopg.Connection[Any], shape: Shape, lean: bool) -> dict[str, Any]:
    # TIMING OFF: per-node clocks would inflate the many small loops of a latest print or a
    # backtest's probes; the statement's own total is still measured.
    query, statement = server_statement(shape, lean=lean)
    for name, value in query.planner:
        raw.execute("SELECT set_config(%s, %s, false)", (name, value))
    sql = render_sql(statement, query.parameters)
    row = raw.execute(f"EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {sql}").fetchone()
    for name, _ in query.planner:
        raw.execute(f"RESET {name}")
    assert row is not None
    document: dict[str, Any] = row[0][0]
    return document


def _server(raw: psycopg.Connection[Any], shape: Shape, lean: bool) -> dict[str, Any]:
    """The server's own time for mp's statement (its lean twin with ``lean``): medians of
    three EXPLAIN ANALYZE runs."""
    plans = [_explained(raw, shape, lean) for _ in range(3)]
    return {
        "execution_ms": statistics.median(float(plan["Execution Time"]) for plan in plans),
        "planning_ms": statistics.median(float(plan["Planning Time"]) for plan in plans),
        "rows_returned": int(plans[-1]["Plan"]["Actual Rows"]),
        "statement": "lean" if lean else "every column",
    }


def _fastest(timings: dict[str, Timing], names: Sequence[str]) -> str:
    return min(names, key=lambda name: timings[name].median)


def selected(bench: Bench, shapes: Sequence[Shape]) -> list[Shape]:
    """The shapes ``bench.shapes`` names (by name or by kind), all when it is empty."""
    if not bench.shapes:
        return list(shapes)
    return [shape for shape in shapes if {shape.name, shape.kind} & bench.shapes]


def read_section(
    bench: Bench, shapes: Sequence[Shape], tables: Sequence[pa.Table]
) -> dict[str, Any]:
    """Every shape by every mp variant and every peer, interleaved; answers checked against
    the brute-force reference; the server's execution time of mp's statement beside them."""
    reference = Reference(tables)
    clients = bench.clients
    assert clients is not None, "the read section needs Bench.clients"
    with (
        bench.engine.connect() as connection,
        psycopg.connect(**_session_kwargs(clients.settings), autocommit=True) as raw,
    ):
        mp = read_variants(connection, clients.async_engine, clients.runner)
        frames = [item.name for item in mp if item.frame]
        lean = {item.name: item.lean for item in mp}
        results: dict[str, Any] = {
            "descriptions": {item.name: item.description for item in mp}
            | {peer.name: peer.description for peer in bench.peers},
            "frame_variants": frames,
            "shapes": {},
        }
        for shape in selected(bench, shapes):
            log(f"peers reads: {shape.name} ...")
            variants: dict[str, Callable[[], object]] = {
                item.name: partial(item.run, shape) for item in mp
            }
            variants |= {peer.name: partial(peer.read, shape) for peer in bench.peers}
            repeats = (
                bench.sizes.backtest_repeats
                if shape.kind == "backtest"
                else bench.sizes.read_repeats
            )
            timings = interleaved(variants, repeats, warm_up=True)
            connection.commit()
            expected: Answer = reference.answer(shape)
            same = {
                name: canonical(answer_table(timing.last), shape.kind) == expected
                for name, timing in timings.items()
            }
            best_mp = _fastest(timings, [item.name for item in mp])
            best_frame = _fastest(timings, frames)
            # The yardstick is the statement the best frame read runs.
            server = _server(raw, shape, lean=lean[best_frame])
            entry: dict[str, Any] = {
                "label": shape.label,
                "rows_answered": len(expected),
                "timings": {name: timing.as_dict() for name, timing in timings.items()},
                "same_answer_as_reference": same,
                "server": server,
                "best_mp": best_mp,
                "best_frame": best_frame,
                "best_frame_vs_server": ratio(
                    timings[best_frame].median * 1000, server["execution_ms"]
                ),
                # A COPY cannot be prepared: every frame read is planned too.
                "best_frame_vs_planned": ratio(
                    timings[best_frame].median * 1000,
                    server["execution_ms"] + server["planning_ms"],
                ),
            }
            if bench.peers:
                best_peer = _fastest(timings, [peer.name for peer in bench.peers])
                entry |= {
                    "best_peer": best_peer,
                    "best_mp_vs_best_peer": ratio(
                        timings[best_mp].median, timings[best_peer].median
                    ),
                    "mp_vs_best_peer": {
                        item.name: ratio(timings[item.name].median, timings[best_peer].median)
                        for item in mp
                    },
                }
            results["shapes"][shape.name] = entry
            medians = ", ".join(f"{n} {t.median * 1000:.1f}" for n, t in timings.items())
            log(
                f"peers reads: {shape.name} ({len(expected):,} rows): {medians} ms; server "
                f"{server['execution_ms']:.1f} ms; equal: {all(same.values())}"
            )
    return results
