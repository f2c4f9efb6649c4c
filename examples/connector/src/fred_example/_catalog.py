"""The data source and series this connector writes, and their registration in mp's catalog.

Registration is idempotent: the rows are inserted with ``ON CONFLICT DO NOTHING`` on their
natural keys (the source's ``code``; the series' ``(source_id, source_code)``) and the ids are
read back, so a second run returns the same ids and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert

from mp_schema.enums import Frequency, SeasonalAdjustment, SeriesKind, SourceType, VintageCapability
from mp_schema.models import DataSource, Series

__all__ = [
    "RELEASE_CLOCK",
    "RELEASE_TIMEZONE",
    "SERIES",
    "SOURCE",
    "SeriesInfo",
    "SourceInfo",
    "register",
]

#: BLS publishes the CPI and the Employment Situation at 08:30 Washington time.
RELEASE_CLOCK = time(8, 30)
RELEASE_TIMEZONE = "America/New_York"


@dataclass(frozen=True, kw_only=True)
class SourceInfo:
    """What ``mp.data_sources`` records about the publisher."""

    code: str
    name: str
    publisher: str
    website: str
    timezone: str
    terms: str


@dataclass(frozen=True, kw_only=True)
class SeriesInfo:
    """What ``mp.series`` records about one series."""

    code: str
    name: str
    units: str
    seasonal_adjustment: SeasonalAdjustment


SOURCE = SourceInfo(
    code="fred",
    name="FRED / ALFRED (illustrative example data)",
    publisher="Federal Reserve Bank of St. Louis",
    website="https://fred.stlouisfed.org",
    # Where the publisher is; the series' own release clock is BLS's (RELEASE_TIMEZONE).
    timezone="America/Chicago",
    terms="Example data shipped with mp's example connector; not authoritative.",
)

SERIES: tuple[SeriesInfo, ...] = (
    SeriesInfo(
        code="CPIAUCSL",
        name="Consumer Price Index for All Urban Consumers: All Items in U.S. City Average",
        units="Index 1982-1984=100",
        seasonal_adjustment=SeasonalAdjustment.SA,
    ),
    SeriesInfo(
        code="PAYEMS",
        name="All Employees, Total Nonfarm",
        units="Thousands of Persons",
        seasonal_adjustment=SeasonalAdjustment.SA,
    ),
    SeriesInfo(
        code="UNRATE",
        name="Unemployment Rate",
        units="Percent",
        seasonal_adjustment=SeasonalAdjustment.SA,
    ),
)


def _register(connection: Connection, series: tuple[SeriesInfo, ...]) -> dict[str, int]:
    connection.execute(
        insert(DataSource)
        .values(
            code=SOURCE.code,
            name=SOURCE.name,
            publisher=SOURCE.publisher,
            website=SOURCE.website,
            timezone=SOURCE.timezone,
            terms=SOURCE.terms,
            source_type=SourceType.CENTRAL_BANK.value,
            vintage_capability=VintageCapability.FULL.value,
        )
        .on_conflict_do_nothing(index_elements=[DataSource.code])
    )
    source_id = connection.execute(
        select(DataSource.source_id).where(DataSource.code == SOURCE.code)
    ).scalar_one()
    connection.execute(
        insert(Series)
        .values(
            [
                {
                    "source_id": source_id,
                    "source_code": info.code,
                    "kind": SeriesKind.MACRO.value,
                    "name": info.name,
                    "units": info.units,
                    "frequency": Frequency.MONTHLY.value,
                    "seasonal_adjustment": info.seasonal_adjustment.value,
                    "country": "US",
                    "currency": None,
                    "release_time": RELEASE_CLOCK,
                    "release_timezone": RELEASE_TIMEZONE,
                }
                for info in series
            ]
        )
        .on_conflict_do_nothing(index_elements=[Series.source_id, Series.source_code])
    )
    rows = connection.execute(
        select(Series.source_code, Series.series_id).where(
            Series.source_id == source_id,
            Series.source_code.in_([info.code for info in series]),
        )
    )
    return {str(code): int(series_id) for code, series_id in rows}


def register(engine: Engine, series: tuple[SeriesInfo, ...] = SERIES) -> Mapping[str, int]:
    """Register the source and its series (idempotent); return ``source_code -> series_id``.

    Args:
        engine: the write engine (``mp_db.Database.engine``); one transaction is committed.
        series: the series to register (all of :data:`SERIES` by default).
    """
    with engine.begin() as connection:
        return _register(connection, series)
