"""Fixtures for mp-db's tests: engines on the test's database, series makers, time helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import pytest
from sqlalchemy import Engine, text

from mp_config import PostgresSettings
from mp_db import (
    AsyncReader,
    Reader,
    create_async_db_engine,
    create_sync_engine,
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
    created = create_sync_engine(mp_pg_settings)
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
    parametrized on ``driver`` checks both paths give the same answers."""

    def __init__(self, name: str, settings: PostgresSettings, engine: Engine) -> None:
        self.name, self.settings, self.engine = name, settings, engine

    def ingest(self, table: Any, rows: Any, **options: Any) -> Any:
        if self.name == "sync":
            return ingest(self.engine, table, rows, **options)

        async def write() -> Any:
            async_engine = create_async_db_engine(self.settings)
            try:
                return await ingest_async(async_engine, table, rows, **options)
            finally:
                await async_engine.dispose()

        return run(write())

    def read(self, method: str, *args: Any, **options: Any) -> Any:
        """``Reader.<method>(*args, **options)`` or its awaited ``AsyncReader`` twin."""
        if self.name == "sync":
            return getattr(Reader(self.engine), method)(*args, **options)

        async def read() -> Any:
            async_engine = create_async_db_engine(self.settings)
            try:
                return await getattr(AsyncReader(async_engine), method)(*args, **options)
            finally:
                await async_engine.dispose()

        return run(read())


@pytest.fixture(params=["sync", "async"])
def driver(
    request: pytest.FixtureRequest, mp_pg_settings: PostgresSettings, engine: Engine
) -> Driver:
    """The psycopg path, then the asyncpg path."""
    return Driver(str(request.param), mp_pg_settings, engine)
