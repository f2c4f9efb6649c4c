"""The connector: register, ingest under a lease, invalidate the cache, read point-in-time.

Redis is optional. With :class:`~mp_config.RedisSettings` the connector holds an mp-cache lease
while it writes (two schedulers running the same job do not interleave), tells the cache which
series changed right after the commit, and answers :meth:`Connector.latest_print` through the
point-in-time-safe cache. Without Redis every read goes to the database; the answers are the
same either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from fred_example._catalog import SERIES, register
from fred_example._vintages import Vintage, read_vintages, to_rows
from mp_cache import Cache, LatestValue, Locks, SyncClient, create_client
from mp_config import RedisSettings
from mp_db import Database, IngestReport, MacroObservationRow

__all__ = ["CACHE_NAMESPACE", "INGEST_LEASE", "Connector", "Print"]

#: The cache namespace the connector's readers use (and ingest invalidates).
CACHE_NAMESPACE = "fred-example"
#: The lease held while writing.
INGEST_LEASE = "ingest:fred-example"


@dataclass(frozen=True, slots=True)
class Print:
    """A published value as a reader sees it.

    Attributes:
        code: the series' code (``CPIAUCSL``).
        period: the month the value is about.
        value: the value.
        knowledge_time: when this version became public (UTC).
        revision: 0 for the first print, then 1, 2, ...
    """

    code: str
    period: date
    value: float
    knowledge_time: datetime
    revision: int

    @classmethod
    def from_row(cls, code: str, row: MacroObservationRow) -> Print:
        """From a row returned by :class:`mp_db.Reader`."""
        return cls(code, row.obs_time.date(), row.value, row.knowledge_time, row.revision)

    def to_json(self) -> dict[str, object]:
        """A JSON-safe form for the cache (times as ISO 8601 text)."""
        return {
            "period": self.period.isoformat(),
            "value": self.value,
            "knowledge_time": self.knowledge_time.isoformat(),
            "revision": self.revision,
        }

    @classmethod
    def from_json(cls, code: str, data: Mapping[str, object]) -> Print:
        """The inverse of :meth:`to_json`."""
        return cls(
            code,
            date.fromisoformat(str(data["period"])),
            float(str(data["value"])),
            datetime.fromisoformat(str(data["knowledge_time"])),
            int(str(data["revision"])),
        )


class Connector:
    """Loads the example's vintages into mp and reads them back as of any time.

    Args:
        database: where to write and read (``mp_db.Database(settings)``).
        redis: Redis settings for the lease and the cache; ``None`` works without Redis.

    Example:
        >>> with Database() as database, Connector(database) as connector:  # doctest: +SKIP
        ...     connector.sync()
        ...     connector.latest_print("CPIAUCSL", as_of=datetime(2024, 3, 12, 13, tzinfo=UTC))
    """

    def __init__(self, database: Database, *, redis: RedisSettings | None = None) -> None:
        self.database = database
        self._series_ids: dict[str, int] | None = None
        self._client: SyncClient | None = None
        self._cache: Cache | None = None
        self._locks: Locks | None = None
        if redis is not None:
            self._client = create_client(redis)
            self._cache = Cache(self._client, redis, namespace=CACHE_NAMESPACE)
            self._locks = Locks(self._client, redis)

    def close(self) -> None:
        """Close the Redis client (the database belongs to the caller)."""
        if self._client is not None:
            self._client.close()
            self._client = self._cache = self._locks = None

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def series_ids(self) -> dict[str, int]:
        """``source_code -> series_id``, registering the source and series on first use."""
        if self._series_ids is None:
            self._series_ids = dict(register(self.database.engine, SERIES))
        return self._series_ids

    def _id(self, code: str) -> int:
        try:
            return self.series_ids[code]
        except KeyError:
            known = ", ".join(sorted(self.series_ids))
            raise KeyError(f"unknown series {code!r}; this connector has {known}") from None

    def sync(self, vintages: Iterable[Vintage] | None = None) -> IngestReport:
        """Ingest ``vintages`` (the shipped data set by default); safe to run again.

        Re-running stores nothing new (``report.already_stored`` counts the rows); a file with
        more vintages stores only those. With Redis, the write happens under a lease and the
        cache entries of the series are invalidated right after the commit.
        """
        rows = to_rows(read_vintages() if vintages is None else vintages, self.series_ids)
        if self._locks is None:
            return self.database.ingest("macro_observations", rows)
        with self._locks.hold(INGEST_LEASE, ttl_seconds=60, timeout=30):
            report = self.database.ingest("macro_observations", rows)
            if report.inserted and self._cache is not None:
                self._cache.invalidate(sorted({row["series_id"] for row in rows}))
        return report

    def as_of(
        self,
        code: str,
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Print]:
        """Each month in [start, end) at its latest version known at ``as_of``."""
        rows = self.database.reader.as_of(
            MacroObservationRow, self._id(code), as_of=as_of, start=start, end=end
        )
        return [Print.from_row(code, row) for row in rows]

    def first_release(self, code: str, *, as_of: datetime | None = None) -> list[Print]:
        """What was first printed for each month (known by ``as_of``, if given)."""
        rows = self.database.reader.first_release(MacroObservationRow, self._id(code), as_of=as_of)
        return [Print.from_row(code, row) for row in rows]

    def vintages(self, code: str) -> list[Print]:
        """Every stored version, by month then knowledge_time."""
        rows = self.database.reader.vintages(MacroObservationRow, self._id(code))
        return [Print.from_row(code, row) for row in rows]

    def _load_latest(self, code: str, as_of: datetime) -> Print | None:
        rows = self.database.reader.latest(MacroObservationRow, self._id(code), as_of=as_of)
        return Print.from_row(code, rows[0]) if rows else None

    def latest_print(self, code: str, *, as_of: datetime) -> Print | None:
        """The newest month's value as known at ``as_of`` (``None``: nothing was public yet).

        "What was the latest CPI print known at 2024-03-12 13:00Z?" is
        ``latest_print("CPIAUCSL", as_of=datetime(2024, 3, 12, 13, tzinfo=UTC))``: February's
        CPI, released at 12:30Z that morning.
        """
        if self._cache is None:
            return self._load_latest(code, as_of)

        def loader(series: object, when: datetime | None) -> LatestValue | None:
            found = self._load_latest(code, as_of if when is None else when)
            return None if found is None else LatestValue(found.to_json(), found.knowledge_time)

        cached = self._cache.latest(self._id(code), loader, as_of=as_of)
        return None if cached is None else Print.from_json(code, cached.data)
