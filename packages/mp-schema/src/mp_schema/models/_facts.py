"""The seven fact hypertables, declared once each as a registry entry (:class:`FactSpec`).

Every row is one version of one observation. Three clocks on every row: ``obs_time`` (the
period the value is about, the partition column), ``knowledge_time`` (when this version became
public) and ``ingested_at`` (when mp stored it). Rows are append-only: a revision is a new row
with a later ``knowledge_time``.

The primary key ``(series_id, obs_time, [entity,] knowledge_time)`` is what every as-of query
walks. It carries no ``INCLUDE`` columns (until revision 0006 the single-value tables carried
``value``): every mp read also selects the bookkeeping columns and visits the heap anyway, so
``INCLUDE (value)`` bought no read and cost 10 bytes a row (docs/performance.md).

Each spec below is the single source of its table: the table, its CHECKs and its model are
derived by :func:`register_fact_table`; mp-db derives its row types, staging types and
validator from the same spec.
"""

from __future__ import annotations

from mp_schema._rules import (
    FLOAT8,
    INT4,
    TIMESTAMPTZ,
    AtLeast,
    AtLeastOne,
    Column,
    Matches,
    NonNegative,
    NotBelow,
    OneOf,
    varchar,
)
from mp_schema._specs import FactSpec
from mp_schema.enums import ReleaseStatus, SeriesKind, TraderCategory
from mp_schema.models._registry import FactMixin, fact_model, register_fact_table

__all__ = [
    "FACT_MODELS",
    "FACT_SPECS",
    "CurvePoint",
    "FactMixin",
    "MacroObservation",
    "MarketBar",
    "PositioningFlow",
    "RateFixing",
    "ReleaseCalendarEntry",
    "SignalValue",
]


def _number(name: str, *, nullable: bool = False) -> Column:
    return Column(name, FLOAT8, nullable=nullable)


_VALUE = (_number("value"),)

MACRO_OBSERVATIONS = FactSpec(
    name="macro_observations",
    kind=SeriesKind.MACRO,
    values=_VALUE,
    # Cross-sections (every series at one period, as known at T) walk this index instead
    # of visiting each series: measured 10x faster where such queries are made.
    indexes=(
        (
            "ix_macro_observations_cross_section",
            ("obs_time", "series_id", "knowledge_time DESC"),
        ),
    ),
    # Agencies revise for years: annual GDP updates reach back 3-5 years, seasonally adjusted
    # CPI is revised 5 years back each February. A year's chunk is compressed once all of it is
    # older than that, so routine revisions never land in a compressed chunk.
    compress_after="1825 days",
    model="MacroObservation",
    doc="Vintaged economic series: CPI, payrolls, GDP, PMIs, fiscal data.",
)

_PRICES = ("open", "high", "low", "close", "settle")

MARKET_BARS = FactSpec(
    name="market_bars",
    kind=SeriesKind.MARKET_BAR,
    values=tuple(_number(name, nullable=True) for name in (*_PRICES, "volume", "open_interest")),
    rules=(
        NotBelow("high", "low", name="high_not_below_low"),
        NonNegative(("volume",), name="volume_non_negative"),
        NonNegative(("open_interest",), name="open_interest_non_negative"),
        AtLeastOne(
            _PRICES, name="has_a_price", code="no_price", message="a bar needs at least one price"
        ),
    ),
    # Bars are final once settled; vendor corrections come within days. Half a year of margin.
    compress_after="180 days",
    model="MarketBar",
    doc="Daily bars of an instrument's series: OHLC, settlement, volume, open interest.",
)

CURVE_POINTS = FactSpec(
    name="curve_points",
    kind=SeriesKind.CURVE,
    values=_VALUE,
    entities=(
        Column(
            "tenor",
            varchar(8),
            rules=(
                Matches(
                    "ON|TN|SN|[1-9][0-9]{0,2}[DWMY]",
                    name="tenor_format",
                    expected=(
                        "a tenor: ON, TN, SN or a number and D/W/M/Y, e.g. 3M, 10Y (upper case)"
                    ),
                ),
            ),
        ),
    ),
    # Fitted from settled market data: corrected within days, like the bars they come from.
    compress_after="180 days",
    model="CurvePoint",
    doc="Yield and swap curves: one row per tenor (``3M``, ``10Y``, ``ON``...).",
)

RATE_FIXINGS = FactSpec(
    name="rate_fixings",
    kind=SeriesKind.RATE_FIXING,
    values=_VALUE,
    # A published fixing is corrected the same day or not at all.
    compress_after="180 days",
    model="RateFixing",
    doc="SOFR, ESTR, SONIA, policy rates, FX fixings: published after their effective date.",
)

RELEASE_CALENDAR = FactSpec(
    name="release_calendar",
    kind=SeriesKind.RELEASE,
    values=(
        Column("scheduled_at", TIMESTAMPTZ),
        Column("status", varchar(16), rules=(OneOf(ReleaseStatus),)),
        _number("consensus", nullable=True),
        _number("actual", nullable=True),
        _number("prior", nullable=True),
    ),
    knowledge_after_obs=False,
    # Entries change until the release and once more when the next release revises "prior";
    # small, so two years of margin cost little.
    compress_after="730 days",
    model="ReleaseCalendarEntry",
    doc="""Scheduled releases with consensus, actual and prior: the inputs of surprise signals.

    Unlike other facts, a version may be known before its period (consensus for March CPI
    exists in February), so ``knowledge_time >= obs_time`` is not enforced here.
    """,
)

_POSITIONS = ("long_positions", "short_positions", "spread_positions")

POSITIONING_FLOWS = FactSpec(
    name="positioning_flows",
    kind=SeriesKind.POSITIONING,
    # ``value``: net flow or any single figure that is not a position count.
    values=tuple(_number(name, nullable=True) for name in (*_POSITIONS, "value")),
    entities=(Column("category", varchar(32), rules=(OneOf(TraderCategory),)),),
    rules=(
        AtLeastOne(
            (*_POSITIONS, "value"),
            name="has_a_value",
            code="missing_value",
            message="a positioning row needs at least one figure",
        ),
        NonNegative(_POSITIONS, name="positions_non_negative"),
    ),
    # The CFTC republishes corrected reports weeks later, rarely months: a year of margin.
    compress_after="365 days",
    model="PositioningFlow",
    doc="CFTC Commitments of Traders (as of Tuesday, public on Friday) and fund flows.",
)

SIGNAL_VALUES = FactSpec(
    name="signal_values",
    kind=SeriesKind.SIGNAL,
    values=_VALUE,
    entities=(
        Column(
            "instrument_id",
            INT4,
            rules=(AtLeast(0, name="instrument_id_non_negative"),),
            default=0,
            references="instruments",
        ),
    ),
    dated=False,
    # 500 signals x 5,000 instruments x 260 days is 650M rows a year: a week per chunk keeps a
    # chunk and its indexes near a few GB instead of tens.
    chunk_interval="7 days",
    # Signals are recomputed by whole reruns (new knowledge times over all of history), which
    # are backfills: pause compression for them. Day to day, only recent weeks change.
    compress_after="90 days",
    model="SignalValue",
    doc="""Derived signals exactly as the live system saw them, optionally per instrument.

    ``instrument_id`` 0 means "not instrument-specific". It is not a foreign key: at this
    table's volume the per-row check costs more than it protects; ingest validates it.
    """,
)

#: Every built-in fact table's spec, in the order the migrations create them.
FACT_SPECS: tuple[FactSpec, ...] = (
    MACRO_OBSERVATIONS,
    MARKET_BARS,
    CURVE_POINTS,
    RATE_FIXINGS,
    RELEASE_CALENDAR,
    POSITIONING_FLOWS,
    SIGNAL_VALUES,
)

for _spec in FACT_SPECS:
    register_fact_table(_spec)

MacroObservation = fact_model("macro_observations")
MarketBar = fact_model("market_bars")
CurvePoint = fact_model("curve_points")
RateFixing = fact_model("rate_fixings")
ReleaseCalendarEntry = fact_model("release_calendar")
PositioningFlow = fact_model("positioning_flows")
SignalValue = fact_model("signal_values")

#: Every fact model, in the order the migrations create them.
FACT_MODELS: tuple[type[FactMixin], ...] = tuple(fact_model(spec.name) for spec in FACT_SPECS)
