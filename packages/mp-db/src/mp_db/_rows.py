"""Plain typed rows returned by the point-in-time reads, one class per fact table.

Reads select columns in the order of the row class's fields (:func:`row_fields`), so a
database row maps onto its class positionally.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

__all__ = [
    "ROW_TYPES",
    "AlfredInterval",
    "AsOfValue",
    "CurvePointRow",
    "FactRow",
    "MacroObservationRow",
    "MarketBarRow",
    "PositioningFlowRow",
    "RateFixingRow",
    "ReleaseCalendarRow",
    "SignalValueRow",
    "row_fields",
]


@dataclass(frozen=True, slots=True)
class FactRow:
    """Base of every fact row: the series, the three clocks and the revision.

    Subclasses add the table's entity columns (tenor, category, instrument) and values.
    """

    table: ClassVar[str] = ""
    series_id: int
    obs_time: datetime
    knowledge_time: datetime
    revision: int
    knowledge_time_source: str
    ingested_at: datetime
    #: The ingest that stored the row (``mp.ingest_log``; 0: stored before the log existed).
    ingest_id: int

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict (column name -> value)."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


@dataclass(frozen=True, slots=True)
class MacroObservationRow(FactRow):
    """One version of one macro observation."""

    table: ClassVar[str] = "macro_observations"
    value: float


@dataclass(frozen=True, slots=True)
class MarketBarRow(FactRow):
    """One version of one daily bar."""

    table: ClassVar[str] = "market_bars"
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    settle: float | None
    volume: float | None
    open_interest: float | None


@dataclass(frozen=True, slots=True)
class CurvePointRow(FactRow):
    """One version of one curve point."""

    table: ClassVar[str] = "curve_points"
    tenor: str
    value: float


@dataclass(frozen=True, slots=True)
class RateFixingRow(FactRow):
    """One version of one fixing."""

    table: ClassVar[str] = "rate_fixings"
    value: float


@dataclass(frozen=True, slots=True)
class ReleaseCalendarRow(FactRow):
    """One version of one release calendar entry."""

    table: ClassVar[str] = "release_calendar"
    scheduled_at: datetime
    status: str
    consensus: float | None
    actual: float | None
    prior: float | None


@dataclass(frozen=True, slots=True)
class PositioningFlowRow(FactRow):
    """One version of one positioning figure for one trader category."""

    table: ClassVar[str] = "positioning_flows"
    category: str
    long_positions: float | None
    short_positions: float | None
    spread_positions: float | None
    value: float | None


@dataclass(frozen=True, slots=True)
class SignalValueRow(FactRow):
    """One version of one signal value (``instrument_id`` 0: not instrument-specific)."""

    table: ClassVar[str] = "signal_values"
    instrument_id: int
    value: float


@dataclass(frozen=True, slots=True)
class AlfredInterval:
    """A value and the real-time interval it was the latest vintage for (ALFRED's form).

    ``realtime_start`` is inclusive and ``realtime_end`` exclusive (``None``: still current).
    ALFRED itself uses closed intervals of dates; mp keeps timestamps, so half-open intervals
    are exact. ``row`` holds the full version (with its value columns).
    """

    row: FactRow
    realtime_start: datetime
    realtime_end: datetime | None


@dataclass(frozen=True, slots=True)
class AsOfValue:
    """What a backtest saw: one row of the latest print of a series as known at
    ``decision_time`` (one per entity: a whole curve, every trader category), or ``row`` None
    when nothing of the series was known yet."""

    decision_time: datetime
    series_id: int
    row: FactRow | None


ROW_TYPES: dict[str, type[FactRow]] = {
    kind.table: kind
    for kind in (
        MacroObservationRow,
        MarketBarRow,
        CurvePointRow,
        RateFixingRow,
        ReleaseCalendarRow,
        PositioningFlowRow,
        SignalValueRow,
    )
}


def row_fields(row_type: type[FactRow]) -> tuple[str, ...]:
    """Field names of a row class, in column order."""
    return tuple(item.name for item in fields(row_type))
