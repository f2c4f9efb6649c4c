"""The peer benchmark's data, read shapes and brute-force reference answers.

Every system (mp and each peer) gets the same generated versions (``bench_db_data``) and is
asked the same questions. Answers are compared in one canonical form: sorted tuples of
integers (times as nanoseconds since the epoch, UTC) and values. Knowledge times are not part
of it: mp stores the first of identical re-publications only (the ALFRED rule) while the peers
keep every version, so the version that answers may differ while the value known at T cannot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

# The peers and pyarrow are installed by the bench session only, not where mypy runs
# (hence the ignores, unused where they are present).
import pyarrow as pa  # type: ignore[import-not-found, import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-not-found, import-untyped, unused-ignore]
from bench_db_data import Version

__all__ = [
    "FULL",
    "QUICK",
    "Answer",
    "PeerSizes",
    "Reference",
    "Shape",
    "canonical",
    "nanoseconds",
    "to_arrow",
]

#: One canonical answer: sorted (series_id, obs_time ns, value) tuples, with the decision time
#: in front for backtests.
Answer = list[tuple[Any, ...]]
UTC_NS = pa.timestamp("ns", tz="UTC")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PeerSizes:
    """How much data and how many samples."""

    backfill_series: int
    backfill_years: float
    backfill_vintages: int
    fleet_series: int
    fleet_years: float
    fleet_vintages: int
    ingest_repeats: int
    read_repeats: int
    backtest_times: int
    backtest_repeats: int

    def as_dict(self) -> dict[str, Any]:
        """Plain values for the JSON results."""
        return asdict(self)


FULL = PeerSizes(20, 30, 5, 500, 2, 2, 2, 10, 360, 3)
QUICK = PeerSizes(4, 3, 5, 500, 0.25, 2, 2, 3, 60, 2)


@dataclass(frozen=True)
class Shape:
    """One question every system answers.

    Attributes:
        name: key in the results.
        label: the row label of the tables.
        kind: ``as_of``, ``latest``, ``backtest`` or ``cross_section``.
        series_ids: the series asked for (all of them for a cross-section).
        as_of: T.
        start, end: the obs_time range [start, end) of an as-of read (None: unbounded).
        obs_time: the period of a cross-section.
        decision_times: the backtest's decision times.
    """

    name: str
    label: str
    kind: str
    series_ids: tuple[int, ...]
    as_of: datetime
    start: datetime | None = None
    end: datetime | None = None
    obs_time: datetime | None = None
    decision_times: tuple[datetime, ...] = ()


def to_arrow(records: Sequence[Version]) -> pa.Table:
    """The versions as the columnar table every peer loads from (no knowledge_time_source:
    it is the same on every row and no peer needs it)."""
    series, obs, known, value, _ = zip(*records, strict=True)
    return pa.table(
        {
            "series_id": pa.array(series, pa.int32()),
            "obs_time": pa.array(obs, pa.timestamp("us", tz="UTC")),
            "knowledge_time": pa.array(known, pa.timestamp("us", tz="UTC")),
            "value": pa.array(value, pa.float64()),
        }
    )


def nanoseconds(moment: datetime) -> int:
    """A timezone-aware datetime as nanoseconds since the epoch."""
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


def _ns_column(table: pa.Table, name: str) -> list[int]:
    # Any: pyarrow-stubs type each compute step's result apart (array, chunked array).
    column: Any = table.column(name)
    if pa.types.is_timestamp(column.type) and column.type.tz is None:
        column = pc.assume_timezone(column, "UTC")
    values: list[Any] = pc.cast(pc.cast(column, UTC_NS), pa.int64()).to_pylist()
    return [int(item) for item in values]


def canonical(table: pa.Table, kind: str) -> Answer:
    """The sorted canonical tuples of a columnar answer (columns series_id, obs_time, value,
    and decision_time for a backtest)."""
    columns: list[list[Any]] = []
    if kind == "backtest":
        columns.append(_ns_column(table, "decision_time"))
    series: list[Any] = table.column("series_id").to_pylist()
    values: list[Any] = table.column("value").to_pylist()
    columns.append([int(item) for item in series])
    columns.append(_ns_column(table, "obs_time"))
    columns.append([float(item) for item in values])
    return sorted(zip(*columns, strict=True))


class Reference:
    """Brute-force answers with numpy: mask every version by the question, keep the last of
    each group in key order. Slow and obvious on purpose."""

    def __init__(self, tables: Sequence[pa.Table]) -> None:
        whole = pa.concat_tables(tables)
        series = whole.column("series_id").to_numpy().astype(np.int64)
        obs = np.asarray(_ns_column(whole, "obs_time"), dtype=np.int64)
        known = np.asarray(_ns_column(whole, "knowledge_time"), dtype=np.int64)
        order = np.lexsort((known, obs, series))
        self.series = series[order]
        self.obs = obs[order]
        self.known = known[order]
        self.value = whole.column("value").to_numpy()[order]

    def _last_of_groups(self, mask: np.ndarray, by_obs: bool) -> np.ndarray:
        # Rows stay in (series, obs_time, knowledge_time) order, so the last row of each group
        # is its newest version.
        index = np.flatnonzero(mask)
        if index.size == 0:
            return index
        series = self.series[index]
        boundary = series[1:] != series[:-1]
        if by_obs:
            boundary |= self.obs[index][1:] != self.obs[index][:-1]
        last: np.ndarray = index[np.append(boundary, True)]
        return last

    def _tuples(self, index: np.ndarray, prefix: tuple[int, ...] = ()) -> Answer:
        return [
            (*prefix, int(self.series[i]), int(self.obs[i]), float(self.value[i])) for i in index
        ]

    def answer(self, shape: Shape) -> Answer:
        """What a correct system answers to ``shape``."""
        wanted = np.isin(self.series, np.asarray(shape.series_ids))
        if shape.kind == "backtest":
            found: Answer = []
            for moment in shape.decision_times:
                ns = nanoseconds(moment)
                index = self._last_of_groups(wanted & (self.known <= ns), by_obs=False)
                found.extend(self._tuples(index, (ns,)))
            return sorted(found)
        mask = wanted & (self.known <= nanoseconds(shape.as_of))
        if shape.kind == "latest":
            return sorted(self._tuples(self._last_of_groups(mask, by_obs=False)))
        if shape.kind == "cross_section":
            assert shape.obs_time is not None
            mask &= self.obs == nanoseconds(shape.obs_time)
        if shape.start is not None:
            mask &= self.obs >= nanoseconds(shape.start)
        if shape.end is not None:
            mask &= self.obs < nanoseconds(shape.end)
        return sorted(self._tuples(self._last_of_groups(mask, by_obs=True)))
