"""Deterministic benchmark data: business-daily series with ALFRED-like vintages.

Every value is a pure function of (series, day, vintage), so two runs load identical data and
the ingest paths compared in one run receive identical rows. Later vintages either revise the
value or repeat it (an unchanged re-publication, which mp stores nothing for and raw COPY
stores anyway), as real vintage histories do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

__all__ = [
    "AS_OF",
    "COPY_COLUMNS",
    "COPY_TYPES",
    "LAST_DAY",
    "SOURCE",
    "DataSet",
    "as_dicts",
    "as_tuples",
    "business_days",
    "create_series",
    "new_vintages",
]

#: knowledge_time_source of every benchmark row (the same on every path, so inputs match).
SOURCE = "vendor"
#: 08:30 New York in summer: the usual release clock of US macro data.
RELEASE_CLOCK = timedelta(hours=12, minutes=30)
#: Days after the observed period at which each vintage appears: first print, then revisions
#: after a month, a quarter, a year and three years.
VINTAGE_LAGS = (1, 30, 90, 365, 1095)
#: Every data set ends here; reads ask what was known at AS_OF.
LAST_DAY = date(2024, 12, 31)
AS_OF = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
#: Columns and binary types of the raw COPY baselines (revision and ingested_at take their
#: server defaults, as a hand-written loader would leave them).
COPY_COLUMNS = ("series_id", "obs_time", "knowledge_time", "value", "knowledge_time_source")
COPY_TYPES = ("int4", "timestamptz", "timestamptz", "float8", "text")

Version = tuple[int, datetime, datetime, float, str]


def business_days(years: float, last: date = LAST_DAY) -> list[datetime]:
    """Weekdays (no holiday calendar) at 00:00 UTC over the ``years`` ending at ``last``."""
    first = last - timedelta(days=round(years * 365.25))
    days = []
    current = first
    while current <= last:
        if current.weekday() < 5:
            days.append(datetime(current.year, current.month, current.day, tzinfo=UTC))
        current += timedelta(days=1)
    return days


@dataclass(frozen=True)
class DataSet:
    """Which series, which days and how many vintages per observation.

    Attributes:
        series_ids: the series (created beforehand with :func:`create_series`).
        days: observation times.
        vintages: versions per observation (at most ``len(VINTAGE_LAGS)``).
        always_revise: every later vintage changes the value (every row is stored by mp too);
            otherwise about 40% of later vintages repeat the value before them.
    """

    series_ids: tuple[int, ...]
    days: tuple[datetime, ...]
    vintages: int
    always_revise: bool = False

    @property
    def rows(self) -> int:
        """Rows the data set generates (versions, stored or not)."""
        return len(self.series_ids) * len(self.days) * self.vintages

    def split(self, max_rows: int) -> list[DataSet]:
        """Whole-series parts of at most about ``max_rows`` rows each (one ingest call each:
        mp refuses batches over 5M rows, and memory stays bounded)."""
        per_series = max(1, len(self.days) * self.vintages)
        step = max(1, max_rows // per_series)
        return [
            replace(self, series_ids=self.series_ids[start : start + step])
            for start in range(0, len(self.series_ids), step)
        ]


def _revises(series_id: int, day: int, vintage: int) -> bool:
    # A cheap deterministic hash: about 3 in 5 later vintages revise, 2 in 5 repeat.
    return (series_id * 7919 + day * 104_729 + vintage * 1_299_709) % 5 >= 2


def versions(data: DataSet) -> Iterator[Version]:
    """Every version, sorted by series, obs_time, knowledge_time (the key order)."""
    # Datetimes are shared between series: millions of rows stay cheap in memory.
    known = [
        [day + timedelta(days=lag) + RELEASE_CLOCK for lag in VINTAGE_LAGS[: data.vintages]]
        for day in data.days
    ]
    for series_id in data.series_ids:
        for index, obs_time in enumerate(data.days):
            value = 100.0 + series_id + index / 100
            for vintage in range(data.vintages):
                if vintage and (data.always_revise or _revises(series_id, index, vintage)):
                    value += 0.125 * vintage
                yield series_id, obs_time, known[index][vintage], value, SOURCE


def as_tuples(data: DataSet) -> list[Version]:
    """Rows ready for binary COPY (the raw baselines get them prepared, untimed)."""
    return list(versions(data))


def as_dicts(records: Sequence[Version]) -> list[dict[str, Any]]:
    """Rows as a caller holds them: one mapping per row (what mp-db and SQLAlchemy take)."""
    return [dict(zip(COPY_COLUMNS, record, strict=True)) for record in records]


def new_vintages(data: DataSet, *, every: int, offset_days: int) -> list[Version]:
    """A revision of one observation in ``every``, published after every existing vintage.

    ``offset_days`` makes each call's vintages distinct, so repeated measurements each insert
    new rows without cleaning up in between.
    """
    lag = timedelta(days=VINTAGE_LAGS[-1] + 1000 + offset_days) + RELEASE_CLOCK
    return [
        (series_id, obs_time, obs_time + lag, 10_000.0 + series_id + index + offset_days, SOURCE)
        for series_id in data.series_ids
        for index, obs_time in enumerate(data.days)
        if (series_id + index) % every == 0
    ]


def create_series(engine: Engine, prefix: str, count: int) -> tuple[int, ...]:
    """Insert ``count`` macro series under a benchmark data source; return their ids."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
                " VALUES ('bench', 'Benchmark', 'vendor', 'full') ON CONFLICT (code) DO NOTHING"
            )
        )
        ids = connection.execute(
            text(
                "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
                " SELECT source_id, :prefix || n, 'macro', 'benchmark series', 'business_daily'"
                " FROM mp.data_sources, generate_series(1, :count) AS n WHERE code = 'bench'"
                " RETURNING series_id"
            ),
            {"prefix": prefix, "count": count},
        ).scalars()
        return tuple(sorted(int(series_id) for series_id in ids))
