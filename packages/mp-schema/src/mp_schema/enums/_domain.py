"""The enumerations of mp's data model, defined once, here.

The database follows from these: each enum column is VARCHAR with a CHECK constraint listing the
values (see :mod:`mp_schema._enum_checks`). Native PostgreSQL enums were weighed and rejected:
Alembic's autogenerate never sees a new value, and ``ALTER TYPE ... ADD VALUE`` cannot be used
in the transaction that adds it. Adding a value here is one migration that replaces the CHECK.
Values are lower-case snake_case so they read the same in SQL, JSON and Python.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AssetClass",
    "Frequency",
    "InstrumentType",
    "KnowledgeTimeSource",
    "ReleaseStatus",
    "SeasonalAdjustment",
    "SeriesKind",
    "SourceType",
    "TraderCategory",
    "VintageCapability",
]


class AssetClass(StrEnum):
    """Broad asset class of an instrument."""

    EQUITY = "equity"
    FIXED_INCOME = "fixed_income"
    RATES = "rates"
    FX = "fx"
    COMMODITY = "commodity"
    CREDIT = "credit"
    CRYPTO = "crypto"
    VOLATILITY = "volatility"
    MULTI_ASSET = "multi_asset"


class InstrumentType(StrEnum):
    """What kind of contract or product an instrument is."""

    STOCK = "stock"
    ETF = "etf"
    FUND = "fund"
    INDEX = "index"
    FUTURE = "future"
    OPTION = "option"
    BOND = "bond"
    BILL = "bill"
    SWAP = "swap"
    FX_SPOT = "fx_spot"
    FX_FORWARD = "fx_forward"
    INTEREST_RATE = "interest_rate"
    CDS = "cds"
    CRYPTO_SPOT = "crypto_spot"


class Frequency(StrEnum):
    """How often a series has an observation."""

    INTRADAY = "intraday"
    DAILY = "daily"
    BUSINESS_DAILY = "business_daily"
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    ANNUAL = "annual"
    IRREGULAR = "irregular"

    @property
    def daily_or_slower(self) -> bool:
        """True when observations are dated (obs_time at 00:00 UTC), not timed."""
        return self not in (Frequency.INTRADAY, Frequency.IRREGULAR)


class SeriesKind(StrEnum):
    """Which fact table holds a series' observations."""

    MACRO = "macro"
    MARKET_BAR = "market_bar"
    CURVE = "curve"
    RATE_FIXING = "rate_fixing"
    RELEASE = "release"
    POSITIONING = "positioning"
    SIGNAL = "signal"


class KnowledgeTimeSource(StrEnum):
    """How a row's knowledge_time was established: the quality of its point-in-time stamp.

    Research can filter on it, for example to keep only exact vendor timestamps.
    """

    #: The publisher or vendor states when this version became public (ALFRED vintages).
    VENDOR = "vendor"
    #: Taken from the official release calendar (scheduled release time).
    CALENDAR = "calendar"
    #: Estimated by a rule (for example "T+1 at 08:30 New York" for history without vintages).
    RULE = "rule"
    #: Observed by mp's own poller: the first time we saw it (an upper bound).
    CAPTURED = "captured"


class SeasonalAdjustment(StrEnum):
    """Seasonal adjustment of a macro series."""

    NSA = "nsa"
    SA = "sa"
    SAAR = "saar"
    WORKING_DAY_ADJUSTED = "wda"
    SA_WORKING_DAY_ADJUSTED = "sa_wda"
    TREND = "trend"
    NOT_APPLICABLE = "not_applicable"


class SourceType(StrEnum):
    """What kind of organisation publishes a data source."""

    CENTRAL_BANK = "central_bank"
    STATISTICS_OFFICE = "statistics_office"
    EXCHANGE = "exchange"
    REGULATOR = "regulator"
    INTERNATIONAL_ORGANISATION = "international_organisation"
    VENDOR = "vendor"
    INTERNAL = "internal"


class VintageCapability(StrEnum):
    """How much revision history a source can give."""

    #: Every past vintage is published (ALFRED, many central banks' real-time databases).
    FULL = "full"
    #: First release and latest value only.
    FIRST_AND_LATEST = "first_and_latest"
    #: Only the latest value: vintages exist only from the day mp started capturing.
    LATEST_ONLY = "latest_only"
    #: The data is never revised (exchange prints, fixings).
    NOT_REVISED = "not_revised"


class ReleaseStatus(StrEnum):
    """State of a release calendar entry, as known at its knowledge_time."""

    SCHEDULED = "scheduled"
    RELEASED = "released"
    DELAYED = "delayed"
    CANCELLED = "cancelled"


class TraderCategory(StrEnum):
    """Trader categories of positioning data (CFTC COT reports and fund flows)."""

    TOTAL = "total"
    COMMERCIAL = "commercial"
    NONCOMMERCIAL = "noncommercial"
    NONREPORTABLE = "nonreportable"
    PRODUCER_MERCHANT = "producer_merchant"
    SWAP_DEALER = "swap_dealer"
    MANAGED_MONEY = "managed_money"
    OTHER_REPORTABLES = "other_reportables"
    DEALER = "dealer"
    ASSET_MANAGER = "asset_manager"
    LEVERAGED_FUNDS = "leveraged_funds"
