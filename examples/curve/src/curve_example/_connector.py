"""A daily par yield curve through mp-db's async API (asyncpg).

One ``curve`` series; each curve is 13 rows of ``mp.curve_points`` (one per tenor), known at
18:00 New York on its date (a US business day). A correction published the next business day is
a new version of the same points: as-of reads before it see the first print.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from mp_db import (
    AsyncDatabase,
    CurvePointRow,
    HolidayCalendar,
    IngestReport,
    SeriesRecord,
    SeriesSpec,
    SourceSpec,
    next_business_day,
    series_knowledge_time,
)

__all__ = [
    "SERIES",
    "SOURCE",
    "TENORS",
    "Curve",
    "curve_as_of",
    "curve_rows",
    "load",
    "published",
    "register",
]

TENORS = ("1M", "2M", "3M", "4M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "20Y", "30Y")
SOURCE = SourceSpec(
    code="ust_example",
    name="US Treasury par yield curve (illustrative example data)",
    source_type="central_bank",
    vintage_capability="full",
    timezone="America/New_York",
)
SERIES = SeriesSpec(
    source=SOURCE.code,
    source_code="PAR_YIELD",
    kind="curve",
    name="Daily Treasury par yield curve rates",
    frequency="business_daily",
    units="percent",
    release_time=time(18, 0),
    release_timezone="America/New_York",
)
FEDERAL = HolidayCalendar("US")
#: A curve is the yields of TENORS, in that order.
Curve = tuple[float, ...]


def published(day: date) -> date:
    """The first business day on or after ``day`` (corrections come out on business days)."""
    return next_business_day(day, FEDERAL)


def curve_rows(
    series: SeriesRecord, day: date, curve: Curve, *, known_on: date | None = None
) -> list[dict[str, Any]]:
    """The 13 rows of the curve of ``day``, known at 18:00 New York on ``known_on`` (``day``)."""
    if len(curve) != len(TENORS):
        raise ValueError(
            f"a curve has {len(TENORS)} yields ({', '.join(TENORS)}), not {len(curve)}"
        )
    knowledge_time = series_knowledge_time(series, published(known_on or day))
    obs_time = datetime.combine(day, time(0), tzinfo=UTC)
    return [
        {
            "series_id": series.series_id,
            "obs_time": obs_time,
            "tenor": tenor,
            "knowledge_time": knowledge_time,
            "value": value,
        }
        for tenor, value in zip(TENORS, curve, strict=True)
    ]


async def register(database: AsyncDatabase) -> SeriesRecord:
    """Register the source and the series (idempotent); return the series' record."""
    await database.catalog.ensure_sources([SOURCE])
    await database.catalog.ensure_series([SERIES])
    found = await database.catalog.series(SOURCE.code, [SERIES.source_code])
    return found[SERIES.source_code]


async def load(
    database: AsyncDatabase,
    curves: Mapping[date, Curve],
    corrections: Mapping[tuple[date, date], Curve] | None = None,
) -> IngestReport:
    """Ingest ``curves`` by date, and ``corrections`` keyed by (curve date, day published)."""
    series = await register(database)
    rows = [row for day, curve in curves.items() for row in curve_rows(series, day, curve)]
    for (day, known_on), curve in (corrections or {}).items():
        rows += curve_rows(series, day, curve, known_on=known_on)
    return await database.ingest("curve_points", rows)


async def curve_as_of(database: AsyncDatabase, day: date, *, as_of: datetime) -> dict[str, float]:
    """The curve of ``day`` as it was known at ``as_of`` (empty before its release)."""
    series = await register(database)
    moment = datetime.combine(day, time(0), tzinfo=UTC)
    rows = await database.reader.as_of(
        CurvePointRow, series.series_id, as_of=as_of, start=moment, end=moment.replace(hour=1)
    )
    return {row.tenor: row.value for row in rows}
