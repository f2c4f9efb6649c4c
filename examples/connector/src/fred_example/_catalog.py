"""The data source and series this connector writes, registered with mp-db's catalog.

``catalog.ensure_series`` is idempotent (natural keys, one statement): a second run returns the
same ids and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time

from sqlalchemy import Engine

from mp_db import Catalog, SeriesSpec, SourceSpec

__all__ = ["RELEASE_CLOCK", "RELEASE_TIMEZONE", "SERIES", "SOURCE", "register"]

#: BLS publishes the CPI and the Employment Situation at 08:30 Washington time.
RELEASE_CLOCK = time(8, 30)
RELEASE_TIMEZONE = "America/New_York"

SOURCE = SourceSpec(
    code="fred",
    name="FRED / ALFRED (illustrative example data)",
    source_type="central_bank",
    vintage_capability="full",
    publisher="Federal Reserve Bank of St. Louis",
    website="https://fred.stlouisfed.org",
    # Where the publisher is; the series' own release clock is BLS's (RELEASE_TIMEZONE).
    timezone="America/Chicago",
    terms="Example data shipped with mp's example connector; not authoritative.",
)


def _monthly(code: str, name: str, units: str) -> SeriesSpec:
    return SeriesSpec(
        source=SOURCE.code,
        source_code=code,
        kind="macro",
        name=name,
        frequency="monthly",
        units=units,
        seasonal_adjustment="sa",
        country="US",
        release_time=RELEASE_CLOCK,
        release_timezone=RELEASE_TIMEZONE,
    )


SERIES: tuple[SeriesSpec, ...] = (
    _monthly(
        "CPIAUCSL",
        "Consumer Price Index for All Urban Consumers: All Items in U.S. City Average",
        "Index 1982-1984=100",
    ),
    _monthly("PAYEMS", "All Employees, Total Nonfarm", "Thousands of Persons"),
    _monthly("UNRATE", "Unemployment Rate", "Percent"),
)


def register(engine: Engine, series: tuple[SeriesSpec, ...] = SERIES) -> Mapping[str, int]:
    """Register the source and its series (idempotent); return ``source_code -> series_id``."""
    catalog = Catalog(engine)
    catalog.ensure_sources([SOURCE])
    ids = catalog.ensure_series(series)
    return {spec.source_code: series_id for spec, series_id in zip(series, ids, strict=True)}
