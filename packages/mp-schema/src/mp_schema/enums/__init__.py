"""Every enumeration of mp's data model (the database's CHECK constraints follow from these)."""

from mp_schema.enums._domain import (
    AssetClass,
    Frequency,
    InstrumentType,
    KnowledgeTimeSource,
    ReleaseStatus,
    SeasonalAdjustment,
    SeriesKind,
    SourceType,
    TraderCategory,
    VintageCapability,
)
from mp_schema.enums._iso import COUNTRY_NAMES, CURRENCY_NAMES, Country, Currency

__all__ = [
    "COUNTRY_NAMES",
    "CURRENCY_NAMES",
    "AssetClass",
    "Country",
    "Currency",
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
