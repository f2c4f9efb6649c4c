"""Fixtures for mp-db's tests: engines on the test's database, series makers, time helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import pytest
from sqlalchemy import Engine, text

from mp_cache import AsyncCache, Cache, create_client, create_client_async
from mp_config import PostgresSettings, RedisSettings, reset_settings
from mp_db import (
    AsyncCachedReader,
    AsyncReader,
    CachedReader,
    Reader,
    create_db_engine,
    create_db_engine_async,
    ingest,
    ingest_async,
)

T = TypeVar("T")


def utc(year: int, month: int = 1, day: int = 1, hour: int = 0, minute: int = 0) -> datetime:
    """A UTC datetime, briefly."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def days(count: float) -> timedelta:
    """A timedelta of ``count`` days."""
    return timedelta(days=count)


def macro(series_id: int, obs: Any, known: Any, value: Any, **extra: Any) -> dict[str, Any]:
    """A macro_observations row."""
    return {
        "series_id": series_id,
        "obs_time": obs,
        "knowledge_time": known,
        "value": value,
        **extra,
    }


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion (each test gets a fresh event loop)."""
    return asyncio.run(coroutine)


class SeriesMaker(Protocol):
    """Creates a series of a kind and returns its id."""

    def __call__(self, kind: str = ..., *, frequency: str = ..., code: str | None = ...) -> int: ...


@pytest.fixture
def engine(mp_pg_settings: PostgresSettings) -> Iterator[Engine]:
    """A sync engine on this test's migrated database."""
    created = create_db_engine(mp_pg_settings)
    try:
        yield created
    finally:
        created.dispose()


@pytest.fixture
def reader(engine: Engine) -> Reader:
    """Point-in-time reads on the test database."""
    return Reader(engine)


@pytest.fixture
def make_series(engine: Engine) -> SeriesMaker:
    """Insert a data source once and a series per call."""
    counter = iter(range(1, 10_000))

    def make(kind: str = "macro", *, frequency: str = "monthly", code: str | None = None) -> int:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
                    " VALUES ('test', 'Test', 'vendor', 'full') ON CONFLICT (code) DO NOTHING"
                )
            )
            series_id = connection.execute(
                text(
                    "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
                    " SELECT source_id, :code, :kind, 'test series', :frequency"
                    " FROM mp.data_sources WHERE code = 'test' RETURNING series_id"
                ),
                {
                    "code": code or f"{kind.upper()}_{next(counter)}",
                    "kind": kind,
                    "frequency": frequency,
                },
            ).scalar_one()
        return int(series_id)

    return make


def count_rows(engine: Engine, table: str) -> int:
    """Rows stored in ``mp.<table>``."""
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM mp.{table}")).scalar_one())  # noqa: S608 - test helper, fixed names


class Driver:
    """Ingest and read through one driver (psycopg or asyncpg) with the same calls, so a test
    parametrized on ``driver`` checks both paths give the same answers.

    With ``cache`` (Redis settings), ingest invalidates mp's cache (``MP_REDIS_CACHE_*`` set
    by the fixture) and reads go through ``CachedReader`` / ``AsyncCachedReader``: the same
    tests then check that cached answers are the reader's.
    """

    def __init__(
        self,
        name: str,
        settings: PostgresSettings,
        engine: Engine,
        cache: RedisSettings | None = None,
    ) -> None:
        self.name, self.settings, self.engine, self.cache = name, settings, engine, cache
        self._cached: CachedReader | None = None
        if cache is not None and name == "sync":
            client = create_client(cache)
            self._client: Any = client
            # One reader for the test: it must stay fresh through ingest's invalidations.
            self._cached = CachedReader(
                Reader(engine),
                Cache(client, cache, namespace=cache.cache_namespace),
                max_staleness_seconds=CACHED_MAX_STALENESS_SECONDS,
            )

    def close(self) -> None:
        if self._cached is not None:
            self._client.close()

    def ingest(self, table: Any, rows: Any, **options: Any) -> Any:
        if self.name == "sync":
            return ingest(self.engine, table, rows, **options)

        async def write() -> Any:
            async_engine = create_db_engine_async(self.settings)
            try:
                return await ingest_async(async_engine, table, rows, **options)
            finally:
                await async_engine.dispose()

        return run(write())

    def read(self, method: str, *args: Any, **options: Any) -> Any:
        """``Reader.<method>(*args, **options)`` or its awaited ``AsyncReader`` twin (through
        the cache when the driver has one and caches that read)."""
        if self.name == "sync":
            reader: Any = Reader(self.engine)
            if self._cached is not None and method in CACHED_READS:
                reader = self._cached
            return getattr(reader, method)(*args, **options)

        async def read() -> Any:
            async_engine = create_db_engine_async(self.settings)
            client = None
            try:
                reader: Any = AsyncReader(async_engine)
                if self.cache is not None and method in CACHED_READS:
                    client = create_client_async(self.cache)
                    reader = AsyncCachedReader(
                        reader,
                        AsyncCache(client, self.cache, namespace=self.cache.cache_namespace),
                        max_staleness_seconds=CACHED_MAX_STALENESS_SECONDS,
                    )
                return await getattr(reader, method)(*args, **options)
            finally:
                if client is not None:
                    await client.aclose()
                await async_engine.dispose()

        return run(read())


#: The reads CachedReader answers from the cache; the others are the reader's own.
CACHED_READS = frozenset({"as_of", "backtest", "first_release", "latest"})
#: The cached drivers check mp.ingest_log rarely: ingest's own invalidation must keep them exact.
CACHED_MAX_STALENESS_SECONDS = 3600.0


@pytest.fixture(params=["sync", "async", "sync+cache", "async+cache"])
def driver(
    request: pytest.FixtureRequest,
    mp_pg_settings: PostgresSettings,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Driver]:
    """The psycopg path, the asyncpg path, then both again through mp's cache (real Redis)."""
    name, _, cached = str(request.param).partition("+")
    cache: RedisSettings | None = None
    if cached:
        redis_settings: RedisSettings = request.getfixturevalue("mp_redis")
        cache = redis_settings.model_copy(update={"cache_enabled": True})
        enable_cache(monkeypatch, cache)
    made = Driver(name, mp_pg_settings, engine, cache)
    try:
        yield made
    finally:
        made.close()


def enable_cache(monkeypatch: pytest.MonkeyPatch, settings: RedisSettings) -> None:
    """Point ``RedisSettings.load()`` (what ingest reads) at ``settings``, cache enabled."""
    values: dict[str, Any] = {
        "MODE": settings.mode,
        "HOST": settings.host,
        "PORT": settings.port,
        "DB": settings.db,
        "KEY_PREFIX": settings.key_prefix,
        "SOCKET_TIMEOUT": settings.socket_timeout,
        "SOCKET_CONNECT_TIMEOUT": settings.socket_connect_timeout,
        "RETRY_ATTEMPTS": settings.retry_attempts,
        "CACHE_ENABLED": "true" if settings.cache_enabled else "false",
        "CACHE_NAMESPACE": settings.cache_namespace,
    }
    if settings.username:
        values["USERNAME"] = settings.username
    if settings.password is not None:
        values["PASSWORD"] = settings.password.get_secret_value()
    for name, value in values.items():
        monkeypatch.setenv(f"MP_REDIS_{name}", str(value))
    reset_settings()  # ingest reads them through get_settings
