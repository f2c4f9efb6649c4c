"""The three metadata tables: who publishes (data_sources), what trades (instruments) and what
is observed (series). Plain tables; rows are never deleted (no role but the owner may)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mp_schema._enum_checks import enum_check
from mp_schema.enums import (
    AssetClass,
    Country,
    Currency,
    Frequency,
    InstrumentType,
    SeasonalAdjustment,
    SeriesKind,
    SourceType,
    VintageCapability,
)
from mp_schema.models._base import Base

__all__ = ["DataSource", "Instrument", "Series"]

_TIMEZONE_NAME = r"^(UTC|[A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2})$"


class DataSource(Base):
    """A publisher mp ingests from (FRED/ALFRED, ECB, BLS, CME, CFTC...)."""

    __tablename__ = "data_sources"
    __table_args__ = (
        CheckConstraint("code ~ '^[a-z][a-z0-9_]{0,63}$'", name="code_format"),
        CheckConstraint(f"timezone ~ '{_TIMEZONE_NAME}'", name="timezone_format"),
        enum_check("source_type", SourceType),
        enum_check("vintage_capability", VintageCapability),
    )

    source_id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    #: Short stable name used in code and keys, e.g. ``fred``.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    publisher: Mapped[str | None] = mapped_column(Text)
    source_type: Mapped[str] = mapped_column(String(32))
    vintage_capability: Mapped[str] = mapped_column(String(32))
    #: IANA time zone the publisher announces release times in.
    timezone: Mapped[str] = mapped_column(String(64), server_default=text("'UTC'"))
    website: Mapped[str | None] = mapped_column(Text)
    #: Terms of use or licence of the data.
    terms: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Instrument(Base):
    """Something that trades. Dead instruments keep their row: ``delisted_at`` marks them."""

    __tablename__ = "instruments"
    __table_args__ = (
        enum_check("asset_class", AssetClass),
        enum_check("instrument_type", InstrumentType),
        enum_check("country", Country),
        enum_check("currency", Currency),
        CheckConstraint("exchange_mic ~ '^[A-Z0-9]{4}$'", name="exchange_mic_format"),
        CheckConstraint("figi ~ '^[A-Z0-9]{2}G[A-Z0-9]{8}[0-9]$'", name="figi_format"),
        CheckConstraint("isin ~ '^[A-Z]{2}[A-Z0-9]{9}[0-9]$'", name="isin_format"),
        CheckConstraint(
            "delisted_at IS NULL OR listed_at IS NULL OR delisted_at >= listed_at",
            name="listing_order",
        ),
        UniqueConstraint("exchange_mic", "symbol", "listed_at", postgresql_nulls_not_distinct=True),
        UniqueConstraint("figi"),
    )

    instrument_id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(Text)
    asset_class: Mapped[str] = mapped_column(String(32))
    instrument_type: Mapped[str] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))
    currency: Mapped[str | None] = mapped_column(String(3))
    #: ISO 10383 market identifier code of the listing exchange.
    exchange_mic: Mapped[str | None] = mapped_column(String(4))
    figi: Mapped[str | None] = mapped_column(String(12))
    isin: Mapped[str | None] = mapped_column(String(12))
    #: Vendor identifiers, e.g. ``{"bloomberg": "ESA Index"}``.
    vendor_codes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    listed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delisted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Series(Base):
    """One time series from one source. ``kind`` says which fact table holds its values."""

    __tablename__ = "series"
    __table_args__ = (
        UniqueConstraint("source_id", "source_code"),
        CheckConstraint("length(source_code) > 0", name="source_code_present"),
        CheckConstraint(
            f"release_timezone IS NULL OR release_timezone ~ '{_TIMEZONE_NAME}'",
            name="release_timezone_format",
        ),
        enum_check("kind", SeriesKind),
        enum_check("frequency", Frequency),
        enum_check("seasonal_adjustment", SeasonalAdjustment),
        enum_check("country", Country),
        enum_check("currency", Currency),
    )

    series_id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("data_sources.source_id"))
    #: The source's own identifier, e.g. ``CPIAUCSL`` at FRED.
    source_code: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    frequency: Mapped[str] = mapped_column(String(32))
    units: Mapped[str | None] = mapped_column(Text)
    seasonal_adjustment: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))
    currency: Mapped[str | None] = mapped_column(String(3))
    #: Local clock time of releases (e.g. 08:30) in ``release_timezone``.
    release_time: Mapped[time | None] = mapped_column(Time)
    release_timezone: Mapped[str | None] = mapped_column(String(64))
    #: From when the source has real vintages; earlier knowledge times are estimates.
    vintage_history_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.instrument_id"))
    description: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    discontinued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
