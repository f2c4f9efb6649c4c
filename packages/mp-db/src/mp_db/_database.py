"""``Database`` and ``AsyncDatabase``: one object per service that owns its engines.

They create the write engine and, when ``MP_PG_READ_HOST`` is set, a read engine for the
replica, lazily; route reads to the read engine and writes to the primary; and refuse use after
``close()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from mp_config import PostgresSettings
from mp_db._catalog import AsyncCatalog, Catalog
from mp_db._engines import create_async_db_engine, create_sync_engine
from mp_db._errors import translate_errors, translate_errors_async
from mp_db._health import HealthReport, check_health, check_health_async
from mp_db._ingest import DEFAULT_CHUNK_ROWS, ProgressCallback, ingest, ingest_async
from mp_db._ingest_sql import IngestReport
from mp_db._reads import AsyncReader, Reader
from mp_db._tables import TableRef
from mp_db._validation import DEFAULT_MAX_ROWS
from mp_db.exceptions import ConfigurationError

__all__ = ["AsyncDatabase", "Database"]


class _Lifecycle:
    def __init__(self, settings: PostgresSettings | None) -> None:
        self.settings = settings if settings is not None else PostgresSettings.load()
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigurationError("this database object was closed; create a new one")


class Database(_Lifecycle):
    """Sync access to mp's database (psycopg 3).

    Example:
        >>> with Database() as db:                                     # doctest: +SKIP
        ...     db.ingest("macro_observations", rows)
        ...     db.reader.as_of("macro_observations", [1, 2], as_of=when)
    """

    def __init__(self, settings: PostgresSettings | None = None) -> None:
        super().__init__(settings)
        self._engine: Engine | None = None
        self._read_engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The write engine (primary)."""
        self._check_open()
        if self._engine is None:
            self._engine = create_sync_engine(self.settings)
        return self._engine

    @property
    def read_engine(self) -> Engine:
        """The read engine: the replica when configured, else the write engine."""
        self._check_open()
        if not self.settings.has_replica:
            return self.engine
        if self._read_engine is None:
            self._read_engine = create_sync_engine(self.settings, read=True)
        return self._read_engine

    @property
    def reader(self) -> Reader:
        """Point-in-time reads on the read engine."""
        return Reader(self.read_engine)

    @property
    def catalog(self) -> Catalog:
        """Register and look up sources, instruments and series on the primary."""
        return Catalog(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction on the primary, committed on success.

        Database errors, inside the block too, arrive as :class:`~mp_db.MpDbError` subclasses.
        """
        with translate_errors(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def session(self) -> Iterator[Session]:
        """An ORM session on the primary (commit it yourself); errors as in :meth:`begin`."""
        with translate_errors(), Session(self.engine) as session:
            yield session

    def ingest(
        self,
        table: TableRef,
        rows: Any,
        *,
        default_source: str = "vendor",
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        max_rows: int = DEFAULT_MAX_ROWS,
        progress: ProgressCallback | None = None,
        keep_republications: bool = False,
    ) -> IngestReport:
        """Idempotent ingest on the primary; the arguments of :func:`mp_db.ingest`."""
        return ingest(
            self.engine,
            table,
            rows,
            default_source=default_source,
            chunk_rows=chunk_rows,
            max_rows=max_rows,
            progress=progress,
            keep_republications=keep_republications,
        )

    def health(self, *, read: bool = False) -> HealthReport:
        """Health of the primary (or of the read engine's server)."""
        return check_health(self.read_engine if read else self.engine)

    def close(self) -> None:
        """Dispose of the engines; the object refuses further use."""
        for engine in (self._engine, self._read_engine):
            if engine is not None:
                engine.dispose()
        self._engine = self._read_engine = None
        self._closed = True

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncDatabase(_Lifecycle):
    """Async access to mp's database (asyncpg); the twin of :class:`Database`."""

    def __init__(self, settings: PostgresSettings | None = None) -> None:
        super().__init__(settings)
        self._engine: AsyncEngine | None = None
        self._read_engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        """The write engine (primary)."""
        self._check_open()
        if self._engine is None:
            self._engine = create_async_db_engine(self.settings)
        return self._engine

    @property
    def read_engine(self) -> AsyncEngine:
        """The read engine: the replica when configured, else the write engine."""
        self._check_open()
        if not self.settings.has_replica:
            return self.engine
        if self._read_engine is None:
            self._read_engine = create_async_db_engine(self.settings, read=True)
        return self._read_engine

    @property
    def reader(self) -> AsyncReader:
        """Point-in-time reads on the read engine."""
        return AsyncReader(self.read_engine)

    @property
    def catalog(self) -> AsyncCatalog:
        """Register and look up sources, instruments and series on the primary."""
        return AsyncCatalog(self.engine)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction on the primary, committed on success.

        Database errors, inside the block too, arrive as :class:`~mp_db.MpDbError` subclasses.
        """
        async with translate_errors_async(), self.engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """An ORM session on the primary (commit it yourself); errors as in :meth:`begin`."""
        async with translate_errors_async(), AsyncSession(self.engine) as session:
            yield session

    async def ingest(
        self,
        table: TableRef,
        rows: Any,
        *,
        default_source: str = "vendor",
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        max_rows: int = DEFAULT_MAX_ROWS,
        progress: ProgressCallback | None = None,
        keep_republications: bool = False,
    ) -> IngestReport:
        """Idempotent ingest on the primary; the arguments of :func:`mp_db.ingest_async`."""
        return await ingest_async(
            self.engine,
            table,
            rows,
            default_source=default_source,
            chunk_rows=chunk_rows,
            max_rows=max_rows,
            progress=progress,
            keep_republications=keep_republications,
        )

    async def health(self, *, read: bool = False) -> HealthReport:
        """Health of the primary (or of the read engine's server)."""
        return await check_health_async(self.read_engine if read else self.engine)

    async def close(self) -> None:
        """Dispose of the engines; the object refuses further use."""
        for engine in (self._engine, self._read_engine):
            if engine is not None:
                await engine.dispose()
        self._engine = self._read_engine = None
        self._closed = True

    async def __aenter__(self) -> AsyncDatabase:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
