"""The seven fact hypertables: every row is one version of one observation.

Three clocks on every row: ``obs_time`` (the period the value is about, the partition column),
``knowledge_time`` (when this version became public) and ``ingested_at`` (when mp stored it).
Rows are append-only: a revision is a new row with a later ``knowledge_time``.

The primary key ``(series_id, obs_time, [entity,] knowledge_time)`` is what every as-of query
walks; where a table has a single value it is carried in the index (``INCLUDE``), so reads are
index-only scans.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from mp_schema._enum_checks import enum_check
from mp_schema._specs import FactSpec
from mp_schema.enums import KnowledgeTimeSource, ReleaseStatus, SeriesKind, TraderCategory
from mp_schema.models._base import Base

__all__ = [
    "FACT_MODELS",
    "CurvePoint",
    "FactMixin",
    "MacroObservation",
    "MarketBar",
    "PositioningFlow",
    "RateFixing",
    "ReleaseCalendarEntry",
    "SignalValue",
]

_TENOR = "^(ON|TN|SN|[1-9][0-9]{0,2}[DWMY])$"


def _finite(column: str) -> str:
    # NaN sorts above every number in PostgreSQL, so these two bounds exclude NaN and both
    # infinities at once; NULL passes (nullable columns decide that separately).
    return f"{column} > '-Infinity'::float8 AND {column} < 'Infinity'::float8"


def fact_constraints(
    spec: FactSpec, *, include: tuple[str, ...] = (), finite: tuple[str, ...] | None = None
) -> list[Any]:
    """Primary key and point-in-time CHECKs shared by every fact table.

    Args:
        spec: the table's spec.
        include: non-key columns carried in the primary key index (index-only scans).
        finite: float columns that must be finite; all value columns when omitted.
    """
    items: list[Any] = [
        PrimaryKeyConstraint(*spec.key_columns, postgresql_include=list(include)),
        CheckConstraint("revision >= 0", name="revision_non_negative"),
        enum_check("knowledge_time_source", KnowledgeTimeSource),
    ]
    if spec.knowledge_after_obs:
        items.append(CheckConstraint("knowledge_time >= obs_time", name="knowledge_after_obs"))
    if spec.dated:
        items.append(
            CheckConstraint(
                "obs_time = date_trunc('day', obs_time, 'UTC')", name="obs_time_midnight_utc"
            )
        )
    for column in spec.value_columns if finite is None else finite:
        items.append(CheckConstraint(_finite(column), name=f"{column}_finite"))
    return items


class FactMixin:
    """Columns every fact table has; ``sort_order`` keeps keys first and bookkeeping last."""

    @declared_attr
    def series_id(cls) -> Mapped[int]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(Integer, ForeignKey("series.series_id"), sort_order=-30)

    obs_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), sort_order=-20)
    knowledge_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), sort_order=-10)
    #: 0 for the first print, then 1, 2... in knowledge_time order.
    revision: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"), sort_order=90)
    knowledge_time_source: Mapped[str] = mapped_column(String(16), sort_order=91)
    ingested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), sort_order=92
    )
    #: The ingest (``mp.ingest_log``) that stored the row; 0 for rows older than the log.
    ingest_id: Mapped[int] = mapped_column(
        BigInteger, server_default=text("mp.current_ingest_id()"), sort_order=93
    )


_MACRO = FactSpec(
    kind=SeriesKind.MACRO,
    value_columns=("value",),
    # Agencies revise for years: annual GDP updates reach back 3-5 years, seasonally adjusted
    # CPI is revised 5 years back each February. A year's chunk is compressed once all of it is
    # older than that, so routine revisions never land in a compressed chunk.
    compress_after="1825 days",
)


class MacroObservation(FactMixin, Base):
    """Vintaged economic series: CPI, payrolls, GDP, PMIs, fiscal data."""

    __tablename__ = "macro_observations"
    __table_args__ = (
        *fact_constraints(_MACRO, include=("value",)),
        # Cross-sections (every series at one period, as known at T) walk this index instead
        # of visiting each series: measured 10x faster where such queries are made.
        Index(
            "ix_macro_observations_cross_section",
            "obs_time",
            "series_id",
            text("knowledge_time DESC"),
        ),
        {"info": {"fact": _MACRO}},
    )

    value: Mapped[float] = mapped_column(DOUBLE_PRECISION)


_BARS = FactSpec(
    kind=SeriesKind.MARKET_BAR,
    value_columns=("open", "high", "low", "close", "settle", "volume", "open_interest"),
    # Bars are final once settled; vendor corrections come within days. Half a year of margin.
    compress_after="180 days",
)


class MarketBar(FactMixin, Base):
    """Daily bars of an instrument's series: OHLC, settlement, volume, open interest."""

    __tablename__ = "market_bars"
    __table_args__ = (
        *fact_constraints(_BARS),
        CheckConstraint("high IS NULL OR low IS NULL OR high >= low", name="high_not_below_low"),
        CheckConstraint("volume IS NULL OR volume >= 0", name="volume_non_negative"),
        CheckConstraint(
            "open_interest IS NULL OR open_interest >= 0", name="open_interest_non_negative"
        ),
        CheckConstraint("num_nonnulls(open, high, low, close, settle) > 0", name="has_a_price"),
        {"info": {"fact": _BARS}},
    )

    open: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    high: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    low: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    close: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    settle: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    volume: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    open_interest: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)


_CURVE = FactSpec(
    kind=SeriesKind.CURVE,
    value_columns=("value",),
    entity_columns=("tenor",),
    # Fitted from settled market data: corrected within days, like the bars they come from.
    compress_after="180 days",
)


class CurvePoint(FactMixin, Base):
    """Yield and swap curves: one row per tenor (``3M``, ``10Y``, ``ON``...)."""

    __tablename__ = "curve_points"
    __table_args__ = (
        *fact_constraints(_CURVE, include=("value",)),
        CheckConstraint(f"tenor ~ '{_TENOR}'", name="tenor_format"),
        {"info": {"fact": _CURVE}},
    )

    tenor: Mapped[str] = mapped_column(String(8), sort_order=-15)
    value: Mapped[float] = mapped_column(DOUBLE_PRECISION)


_FIXINGS = FactSpec(
    kind=SeriesKind.RATE_FIXING,
    value_columns=("value",),
    # A published fixing is corrected the same day or not at all.
    compress_after="180 days",
)


class RateFixing(FactMixin, Base):
    """SOFR, ESTR, SONIA, policy rates, FX fixings: published after their effective date."""

    __tablename__ = "rate_fixings"
    __table_args__ = (
        *fact_constraints(_FIXINGS, include=("value",)),
        {"info": {"fact": _FIXINGS}},
    )

    value: Mapped[float] = mapped_column(DOUBLE_PRECISION)


_RELEASES = FactSpec(
    kind=SeriesKind.RELEASE,
    value_columns=("scheduled_at", "status", "consensus", "actual", "prior"),
    knowledge_after_obs=False,
    # Entries change until the release and once more when the next release revises "prior";
    # small, so two years of margin cost little.
    compress_after="730 days",
)


class ReleaseCalendarEntry(FactMixin, Base):
    """Scheduled releases with consensus, actual and prior: the inputs of surprise signals.

    Unlike other facts, a version may be known before its period (consensus for March CPI
    exists in February), so ``knowledge_time >= obs_time`` is not enforced here.
    """

    __tablename__ = "release_calendar"
    __table_args__ = (
        *fact_constraints(_RELEASES, finite=("consensus", "actual", "prior")),
        enum_check("status", ReleaseStatus),
        {"info": {"fact": _RELEASES}},
    )

    scheduled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    consensus: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    actual: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    prior: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)


_POSITIONING = FactSpec(
    kind=SeriesKind.POSITIONING,
    value_columns=("long_positions", "short_positions", "spread_positions", "value"),
    entity_columns=("category",),
    # The CFTC republishes corrected reports weeks later, rarely months: a year of margin.
    compress_after="365 days",
)


class PositioningFlow(FactMixin, Base):
    """CFTC Commitments of Traders (as of Tuesday, public on Friday) and fund flows."""

    __tablename__ = "positioning_flows"
    __table_args__ = (
        *fact_constraints(_POSITIONING),
        enum_check("category", TraderCategory),
        CheckConstraint(
            "num_nonnulls(long_positions, short_positions, spread_positions, value) > 0",
            name="has_a_value",
        ),
        CheckConstraint(
            "coalesce(long_positions, 0) >= 0 AND coalesce(short_positions, 0) >= 0"
            " AND coalesce(spread_positions, 0) >= 0",
            name="positions_non_negative",
        ),
        {"info": {"fact": _POSITIONING}},
    )

    category: Mapped[str] = mapped_column(String(32), sort_order=-15)
    long_positions: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    short_positions: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    spread_positions: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    #: Net flow or any single figure that is not a position count.
    value: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)


_SIGNALS = FactSpec(
    kind=SeriesKind.SIGNAL,
    value_columns=("value",),
    entity_columns=("instrument_id",),
    dated=False,
    # 500 signals x 5,000 instruments x 260 days is 650M rows a year: a week per chunk keeps a
    # chunk and its indexes near a few GB instead of tens.
    chunk_interval="7 days",
    # Signals are recomputed by whole reruns (new knowledge times over all of history), which
    # are backfills: pause compression for them. Day to day, only recent weeks change.
    compress_after="90 days",
)


class SignalValue(FactMixin, Base):
    """Derived signals exactly as the live system saw them, optionally per instrument.

    ``instrument_id`` 0 means "not instrument-specific". It is not a foreign key: at this
    table's volume the per-row check costs more than it protects; ingest validates it.
    """

    __tablename__ = "signal_values"
    __table_args__ = (
        *fact_constraints(_SIGNALS, include=("value",)),
        CheckConstraint("instrument_id >= 0", name="instrument_id_non_negative"),
        {"info": {"fact": _SIGNALS}},
    )

    instrument_id: Mapped[int] = mapped_column(Integer, server_default=text("0"), sort_order=-15)
    value: Mapped[float] = mapped_column(DOUBLE_PRECISION)


#: Every fact model, in the order the migrations create them.
FACT_MODELS: tuple[type[FactMixin], ...] = (
    MacroObservation,
    MarketBar,
    CurvePoint,
    RateFixing,
    ReleaseCalendarEntry,
    PositioningFlow,
    SignalValue,
)
