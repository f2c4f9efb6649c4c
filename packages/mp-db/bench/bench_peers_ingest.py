"""The peer benchmark's ingest section: the backfill against the floor, three ways.

1. First load into an empty store: binary COPY of prepared tuples into a hypertable with only
   the primary key (the floor, the row store's limit) and into today's mp table, mp's
   ``ingest`` from each input form, and each peer's first load.
2. Unchanged re-run: the same batch again, into stores that hold it (nothing is new).
3. Re-run with new vintages: the batch plus a new vintage of one observation in four, so 5% of
   the rows received are new (a distinct set each sample, so every sample stores as many).

Every input is built outside the timing; variants are interleaved (round-robin, rotating
start). Throughput is compared as rows received per second against the floor's first load.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

# The peers and pyarrow are installed by the bench session only, not where mypy runs
# (hence the ignores, unused where they are present).
import pyarrow as pa  # type: ignore[import-not-found, import-untyped, unused-ignore]
from bench_db_common import Timing, interleaved, log
from bench_db_data import DataSet, Version, as_dicts, as_tuples, new_vintages
from bench_peers_data import to_arrow
from bench_peers_mp import INGEST_VARIANTS, TABLE
from bench_peers_sections import MP_TABLE, Bench, dataset
from bench_schema_variants import copy_rows, create_variant, variant

from mp_db import IngestReport, ingest

__all__ = ["FLOOR", "NEW_EVERY", "TODAY", "ingest_section", "load_backfill", "untimed_backfill"]

FLOOR = "COPY into a bare hypertable (the floor)"
TODAY = "COPY into today's mp table"
#: One observation in NEW_EVERY gets a new vintage: with 5 vintages per observation, 1 in 20
#: of the rows received (5%) is new.
NEW_EVERY = 4


def _stored(last: Any) -> Any:
    return last.inserted if isinstance(last, IngestReport) else last


def _result(timing: Timing, received: int, floor_rate: float) -> dict[str, Any]:
    result = timing.as_dict()
    result["rows_received"] = received
    result["rows_per_second"] = received / timing.median
    result["throughput_vs_floor"] = result["rows_per_second"] / floor_rate
    result["rows_stored"] = _stored(timing.last)
    return result


def load_backfill(
    bench: Bench, rows: Sequence[dict[str, Any]], peer_inputs: dict[str, Any]
) -> None:
    """mp's table (from dicts) and every peer holding exactly the backfill, untimed."""
    bench.truncate(MP_TABLE)
    ingest(bench.engine, TABLE, rows)
    for peer in bench.peers:
        peer.load(peer_inputs[peer.name])
    bench.checkpoint()


def _logged(section: str) -> Callable[[str], None]:
    counter = itertools.count(1)

    def before(name: str) -> None:
        log(f"peers ingest, {section}: sample {next(counter)}: {name}")

    return before


def _first_loads(
    bench: Bench, records: list[Version], inputs: dict[str, Any], peer_inputs: dict[str, Any]
) -> dict[str, Timing]:
    floor_table = variant("bare")
    create_variant(bench.engine, floor_table)
    first: dict[str, Callable[[], object]] = {
        FLOOR: lambda: copy_rows(bench.engine, floor_table.table, records),
        TODAY: lambda: copy_rows(bench.engine, MP_TABLE, records),
    }
    first |= {
        item.name: partial(item.run, bench.engine, inputs[item.name]) for item in INGEST_VARIANTS
    }
    first |= {peer.name: partial(peer.load, peer_inputs[peer.name]) for peer in bench.peers}
    progress = _logged("first load")

    def before(name: str) -> None:
        progress(name)
        if name == FLOOR:
            bench.truncate(floor_table.table)
        elif name == TODAY or name.startswith("mp "):
            bench.truncate(MP_TABLE)

    return interleaved(first, bench.sizes.ingest_repeats, before=before)


def _unchanged(
    bench: Bench, inputs: dict[str, Any], peer_inputs: dict[str, Any]
) -> dict[str, Timing]:
    again: dict[str, Callable[[], object]] = {
        item.name: partial(item.run, bench.engine, inputs[item.name]) for item in INGEST_VARIANTS
    }
    again |= {peer.name: partial(peer.rerun, peer_inputs[peer.name]) for peer in bench.peers}
    return interleaved(again, bench.sizes.ingest_repeats, before=_logged("unchanged re-run"))


def _with_new_vintages(
    bench: Bench, data: DataSet, records: list[Version]
) -> tuple[dict[str, Timing], int, int]:
    """Each sample gets its own new vintages (a later publication each), built untimed."""
    offsets = itertools.count()
    pending: dict[str, Any] = {}
    mp = {item.name: item for item in INGEST_VARIANTS}
    peers = {peer.name: peer for peer in bench.peers}
    progress = _logged("re-run with 5% new vintages")

    def before(name: str) -> None:
        progress(name)
        extra = new_vintages(data, every=NEW_EVERY, offset_days=next(offsets))
        # Both are in key order; merged, the batch stays in it (ArcticDB's date_range reads
        # need each symbol's index sorted).
        batch = list(heapq.merge(records, extra))
        if name in mp:
            pending[name] = mp[name].prepare(as_dicts(batch))
        else:
            pending[name] = peers[name].input_form(to_arrow(batch))
        bench.checkpoint()

    def run(name: str) -> object:
        if name in mp:
            return mp[name].run(bench.engine, pending.pop(name))
        return peers[name].rerun(pending.pop(name))

    variants: dict[str, Callable[[], object]] = {name: partial(run, name) for name in [*mp, *peers]}
    timings = interleaved(variants, bench.sizes.ingest_repeats, before=before)
    new = len(new_vintages(data, every=NEW_EVERY, offset_days=0))
    return timings, len(records) + new, new


def ingest_section(bench: Bench) -> tuple[dict[str, Any], DataSet, list[pa.Table]]:
    """First loads, unchanged re-runs and re-runs with 5% new vintages, against the floor.

    Leaves mp's table and every peer holding exactly the backfill (mp loaded from dicts)."""
    sizes = bench.sizes
    data = dataset(
        bench, "BACKFILL", sizes.backfill_series, sizes.backfill_years, sizes.backfill_vintages
    )
    records: list[Version] = as_tuples(data)
    rows = as_dicts(records)
    arrow = to_arrow(records)
    log(f"peers ingest: {len(rows):,} rows")
    inputs = {item.name: item.prepare(rows) for item in INGEST_VARIANTS}
    peer_inputs = {peer.name: peer.input_form(arrow) for peer in bench.peers}
    loads = _first_loads(bench, records, inputs, peer_inputs)
    load_backfill(bench, rows, peer_inputs)
    again = _unchanged(bench, inputs, peer_inputs)
    del inputs
    fresh, received, new = _with_new_vintages(bench, data, records)
    log("peers ingest: restoring the backfill alone")
    load_backfill(bench, rows, peer_inputs)
    floor_rate = len(rows) / loads[FLOOR].median
    mp_names = [item.name for item in INGEST_VARIANTS]
    checks = {
        "mp_variants_store_the_same_rows": len({_stored(loads[n].last) for n in mp_names}) == 1,
        # None: a peer that cannot tell (ArcticDB).
        "every_unchanged_rerun_stores_nothing": all(
            _stored(t.last) in {0, None} for t in again.values()
        ),
        "copies_and_peers_store_every_row": all(
            loads[name].last == len(records) for name in (FLOOR, TODAY, *peer_inputs)
        ),
        "mp_new_vintage_reruns_store_exactly_the_new_rows": all(
            _stored(fresh[n].last) == new for n in mp_names
        ),
    }
    result = {
        "shape": {"series": len(data.series_ids), "days": len(data.days), "rows": len(rows)},
        "new_vintages": {"every": NEW_EVERY, "rows_new": new, "rows_received": received},
        "descriptions": {item.name: item.description for item in INGEST_VARIANTS},
        "first_load": {name: _result(t, len(rows), floor_rate) for name, t in loads.items()},
        "unchanged_rerun": {name: _result(t, len(rows), floor_rate) for name, t in again.items()},
        "new_vintages_rerun": {name: _result(t, received, floor_rate) for name, t in fresh.items()},
        "checks": checks,
    }
    return result, data, [arrow]


def untimed_backfill(bench: Bench) -> tuple[DataSet, list[pa.Table]]:
    """The backfill into mp and every peer without timing (a run of the reads alone)."""
    sizes = bench.sizes
    data = dataset(
        bench, "BACKFILL", sizes.backfill_series, sizes.backfill_years, sizes.backfill_vintages
    )
    records = as_tuples(data)
    arrow = to_arrow(records)
    load_backfill(
        bench, as_dicts(records), {peer.name: peer.input_form(arrow) for peer in bench.peers}
    )
    log(f"peers: backfill loaded untimed ({len(records):,} rows)")
    return data, [arrow]
