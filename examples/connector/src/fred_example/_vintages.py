"""The vintaged data set and its conversion into mp's ``macro_observations`` rows.

The file has one line per published version of a value, as ALFRED lists them::

    series,period,released,value
    CPIAUCSL,2024-02-01,2024-03-12,310.326

``period`` is the month the value is about (its first day); ``released`` is the day the version
was published. The time of day is the release clock of the series (08:30 in New York), so the
UTC instant depends on daylight saving time: 12:30Z from March to early November, 13:30Z in
winter. :func:`release_instant` leaves that to :func:`mp_db.release_knowledge_time`
(:mod:`zoneinfo`); adding a fixed offset would be wrong for part of every year.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any

from fred_example._catalog import RELEASE_CLOCK, RELEASE_TIMEZONE
from mp_db import release_knowledge_time

__all__ = ["DATA_FILE", "Vintage", "read_vintages", "release_instant", "to_rows"]

#: The data set shipped in the package (illustrative values, real release dates).
DATA_FILE = "cpi_payrolls_vintages.csv"


@dataclass(frozen=True, slots=True)
class Vintage:
    """One published version of one monthly value.

    Attributes:
        code: the series' code at the source (``CPIAUCSL``).
        period: the first day of the month the value is about.
        released: the day this version was published (New York calendar).
        value: the published value.
    """

    code: str
    period: date
    released: date
    value: float


def release_instant(
    day: date, *, clock: time = RELEASE_CLOCK, zone: str = RELEASE_TIMEZONE
) -> datetime:
    """The UTC instant of a release at ``clock`` local time in ``zone`` on ``day``.

    >>> release_instant(date(2024, 3, 8)).isoformat()   # before the DST switch (EST)
    '2024-03-08T13:30:00+00:00'
    >>> release_instant(date(2024, 3, 12)).isoformat()  # after it (EDT)
    '2024-03-12T12:30:00+00:00'
    """
    return release_knowledge_time(day, clock, zone)


def read_vintages(path: Path | None = None) -> list[Vintage]:
    """Read a vintage file (the shipped data set when ``path`` is None)."""
    if path is None:
        text = resources.files("fred_example").joinpath("data", DATA_FILE).read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    return [
        Vintage(
            code=record["series"],
            period=date.fromisoformat(record["period"]),
            released=date.fromisoformat(record["released"]),
            value=float(record["value"]),
        )
        for record in csv.DictReader(text.splitlines())
    ]


def to_rows(vintages: Iterable[Vintage], series_ids: Mapping[str, int]) -> list[dict[str, Any]]:
    """``macro_observations`` rows for ``mp_db.ingest``: the three clocks come from here.

    ``obs_time`` is the period at 00:00 UTC (mp's and FRED's convention for dated data);
    ``knowledge_time`` is the release instant; ``revision`` and ``ingested_at`` are left to
    ingest, which numbers revisions in knowledge_time order and stamps the write.

    Raises:
        KeyError: a vintage names a series that is not in ``series_ids`` (not registered).
    """
    return [
        {
            "series_id": series_ids[vintage.code],
            "obs_time": datetime.combine(vintage.period, time(0), tzinfo=UTC),
            "knowledge_time": release_instant(vintage.released),
            "value": vintage.value,
            # ALFRED publishes the vintage dates; the clock time is the series' release time.
            "knowledge_time_source": "vendor",
        }
        for vintage in vintages
    ]
