"""The sections of the peer benchmark: ingest against the floor, then every read shape.

Every system gets the same generated rows: the binary COPY baselines and mp's dicts as
prepared tuples and dicts, the DataFrame and Arrow forms and each peer's input built from them
outside the timing. Each section interleaves its variants (round-robin, rotating start).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

# The peers and pyarrow are installed by the bench session only, not where mypy runs
# (hence the ignores, unused where they are present).
import pyarrow as pa  # type: ignore[import-not-found, import-untyped, unused-ignore]
from bench_db_common import Timing, interleaved, log, ratio
from bench_db_data import AS_OF, DataSet, Version, as_dicts, as_tuples, business_days, create_series
from bench_db_reads import ONE_YEAR, decision_times
from bench_peers_data import Answer, PeerSizes, Reference, Shape, canonical, to_arrow
from bench_peers_mp import IngestVariant, frame_of, ingest_variants, read_variants
from bench_peers_systems import Peer, as_arrow
from bench_schema_variants import copy_rows, create_variant, variant
from sqlalchemy import Engine, text

from mp_db import IngestReport, ingest
from mp_testing import ThrowawayPostgres

__all__ = ["Bench", "build_shapes", "dataset", "ingest_section", "load_fleet", "read_section"]

MP_TABLE = "mp.macro_observations"
FLOOR = "COPY into a bare hypertable (the floor)"
TODAY = "COPY into today's mp table"


@dataclass
class Bench:
    """The server, mp's engine and the peers of one run."""

    server: ThrowawayPostgres
    engine: Engine
    peers: list[Peer]
    sizes: PeerSizes

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


def _arrow_native(engine: Engine, rows: Sequence[dict[str, Any]]) -> bool:
    """Whether ``ingest`` takes a pyarrow Table on this checkout (tried on a few rows)."""
    sample = pa.Table.from_pylist(list(rows))
    try:
        report = ingest(engine, "macro_observations", sample)
    except Exception:  # noqa: BLE001 - any refusal means "not accepted here"
        return False
    return report.received == len(rows)


def dataset(bench: Bench, prefix: str, series: int, years: float, vintages: int) -> DataSet:
    ids = create_series(bench.engine, prefix, series)
    last = AS_OF.date() if prefix == "FLEET" else None
    days = business_days(years, last=last) if last else business_days(years)
    return DataSet(ids, tuple(days), vintages)


def _result(timing: Timing, received: int, floor: Timing) -> dict[str, Any]:
    result = timing.as_dict()
    result["rows_received"] = received
    result["rows_per_second"] = received / timing.median
    result["throughput_vs_floor"] = ratio(floor.median, timing.median)
    last = timing.last
    result["rows_stored"] = last.inserted if isinstance(last, IngestReport) else last
    return result


def _variants(
    bench: Bench,
    mp: Sequence[IngestVariant],
    inputs: dict[str, Any],
    peer_inputs: dict[str, Any],
    rerun: bool,
) -> dict[str, Callable[[], object]]:
    variants: dict[str, Callable[[], object]] = {}
    for item in mp:
        variants[item.name] = partial(item.run, bench.engine, inputs[item.name])
    for peer in bench.peers:
        method = peer.rerun if rerun else peer.load
        variants[peer.name] = partial(method, peer_inputs[peer.name])
    return variants


def ingest_section(bench: Bench) -> tuple[dict[str, Any], DataSet, list[pa.Table]]:
    """First loads (floor, today's table, mp's inputs, the peers) and unchanged re-runs.

    Leaves mp's table and every peer holding the backfill (mp loaded from dicts)."""
    sizes = bench.sizes
    data = dataset(
        bench, "BACKFILL", sizes.backfill_series, sizes.backfill_years, sizes.backfill_vintages
    )
    records: list[Version] = as_tuples(data)
    rows = as_dicts(records)
    arrow = to_arrow(records)
    log(f"peers ingest: {len(rows):,} rows")
    floor_table = variant("bare")
    create_variant(bench.engine, floor_table)
    native = _arrow_native(bench.engine, rows[:10])
    bench.truncate(MP_TABLE)
    mp = ingest_variants(native)
    inputs = {item.name: item.prepare(rows, arrow) for item in mp}
    peer_inputs = {peer.name: peer.input_form(arrow) for peer in bench.peers}
    first = {
        FLOOR: lambda: copy_rows(bench.engine, floor_table.table, records),
        TODAY: lambda: copy_rows(bench.engine, MP_TABLE, records),
    } | _variants(bench, mp, inputs, peer_inputs, rerun=False)

    def before(name: str) -> None:
        if name == FLOOR:
            bench.truncate(floor_table.table)
        elif name == TODAY or name.startswith("mp "):
            bench.truncate(MP_TABLE)

    loads = interleaved(first, sizes.ingest_repeats, before=before)
    log("peers ingest: first loads done")
    bench.truncate(MP_TABLE)
    ingest(bench.engine, "macro_observations", rows)
    for peer in bench.peers:
        peer.load(peer_inputs[peer.name])
    bench.checkpoint()
    again = interleaved(_variants(bench, mp, inputs, peer_inputs, rerun=True), sizes.ingest_repeats)
    log("peers ingest: re-runs done")
    floor = loads[FLOOR]
    stored = {name: timing.last for name, timing in loads.items() if name.startswith("mp ")}
    checks = {
        "mp_variants_store_the_same_rows": len({report.inserted for report in stored.values()})
        == 1,
        "every_rerun_stores_nothing": all(
            (t.last.inserted if isinstance(t.last, IngestReport) else t.last) == 0
            for t in again.values()
        ),
        "copies_and_peers_store_every_row": all(
            loads[name].last == len(records) for name in (FLOOR, TODAY, *peer_inputs)
        ),
    }
    result = {
        "shape": {"series": len(data.series_ids), "days": len(data.days), "rows": len(rows)},
        "arrow_accepted_natively": native,
        "descriptions": {item.name: item.description for item in mp},
        "first_load": {name: _result(t, len(rows), floor) for name, t in loads.items()},
        "unchanged_rerun": {name: _result(t, len(rows), floor) for name, t in again.items()},
        "checks": checks,
    }
    return result, data, [arrow]


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


def read_section(
    bench: Bench, shapes: Sequence[Shape], tables: Sequence[pa.Table]
) -> dict[str, Any]:
    """Every shape by every mp variant and every peer, interleaved; answers checked against
    the brute-force reference."""
    reference = Reference(tables)
    mp = read_variants()
    results: dict[str, Any] = {
        "descriptions": {item.name: item.description for item in mp}
        | {peer.name: peer.description for peer in bench.peers},
        "shapes": {},
    }
    with bench.engine.connect() as connection:
        for shape in shapes:
            variants: dict[str, Callable[[], object]] = {
                item.name: partial(item.run, connection, shape) for item in mp
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
                name: canonical(as_arrow(frame_of(timing.last)), shape.kind) == expected
                for name, timing in timings.items()
            }
            best_peer = min((peer.name for peer in bench.peers), key=lambda n: timings[n].median)
            results["shapes"][shape.name] = {
                "label": shape.label,
                "rows_answered": len(expected),
                "timings": {name: timing.as_dict() for name, timing in timings.items()},
                "same_answer_as_reference": same,
                "best_peer": best_peer,
                "mp_vs_best_peer": {
                    item.name: ratio(timings[item.name].median, timings[best_peer].median)
                    for item in mp
                },
            }
            medians = ", ".join(f"{n} {t.median * 1000:.1f}" for n, t in timings.items())
            log(f"peers reads: {shape.name} ({len(expected):,} rows): {medians} ms")
    return results
