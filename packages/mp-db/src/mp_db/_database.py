"""``Database`` and ``AsyncDatabase``: one object per service that owns its engines.

They create the write engine and, when ``MP_PG_READ_HOST`` is set, a read engine for the
replica, lazily; route reads to the read engine and writes to the primary; and refuse use after
``close()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from mp_config import PostgresSettings
from mp_config.steps import Steps, async_method, named_like, sync_method
from mp_db._catalog import AsyncCatalog, Catalog
from mp_db._engines import create_db_engine, create_db_engine_async
from mp_db._error_mapping import translate_errors, translate_errors_async
from mp_db._frame_forms import Form
from mp_db._frame_reads import DEFAULT_BATCH_ROWS, AsyncFrameReader, FrameReader
from mp_db._health import HealthReport, check_health, check_health_async
from mp_db._ingest import ASYNC_INGESTS, SYNC_INGESTS, _Ingests
from mp_db._reads import AsyncReader, Reader
from mp_db.exceptions import ConfigurationError

__all__ = ["AsyncDatabase", "Database"]


E = TypeVar("E", Engine, AsyncEngine)
RD = TypeVar("RD", Reader, AsyncReader)
CT = TypeVar("CT", Catalog, AsyncCatalog)
P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F")


def _on_engine(
    logic: Callable[Concatenate[Any, Any, P], Steps[T]],
) -> Callable[Concatenate[Any, P], Steps[T]]:
    """``logic(ingests, target, ...)`` as a method of a database: the target is its primary."""

    def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> Steps[T]:
        return logic(self._ingests, self.engine, *args, **kwargs)

    named_like(method, logic)
    method.__doc__ = "Idempotent ingest on the primary; the arguments of :func:`mp_db.ingest`."
    return method


class _Databases(Generic[E, RD, CT]):
    """What :class:`Database` and :class:`AsyncDatabase` share: settings, lazily created
    engines, the reader and catalog on them, and the refusal of use after ``close()``."""

    _create_engine: Callable[..., E]
    _reader_type: Callable[[E], RD]
    _catalog_type: Callable[[E], CT]
    _ingests: Any

    def __init__(self, settings: PostgresSettings | None = None) -> None:
        self.settings = settings if settings is not None else PostgresSettings.load()
        self._closed = False
        self._engine: E | None = None
        self._read_engine: E | None = None

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigurationError("this database object was closed; create a new one")

    @property
    def engine(self) -> E:
        """The write engine (primary)."""
        self._check_open()
        if self._engine is None:
            self._engine = type(self)._create_engine(self.settings)
        return self._engine

    @property
    def read_engine(self) -> E:
        """The read engine: the replica when configured, else the write engine."""
        self._check_open()
        if not self.settings.has_replica:
            return self.engine
        if self._read_engine is None:
            self._read_engine = type(self)._create_engine(self.settings, read=True)
        return self._read_engine

    @property
    def reader(self) -> RD:
        """Point-in-time reads on the read engine."""
        return type(self)._reader_type(self.read_engine)

    @property
    def catalog(self) -> CT:
        """Register and look up sources, instruments and series on the primary."""
        return type(self)._catalog_type(self.engine)

    def _drive(self, steps: Steps[T]) -> Any:
        return self._ingests._drive(steps)

    _ingest = _on_engine(_Ingests._ingest)

    def _engines(self) -> list[E]:
        """The engines created so far; the object refuses further use from now on."""
        engines = [engine for engine in (self._engine, self._read_engine) if engine is not None]
        self._engine = self._read_engine = None
        self._closed = True
        return engines


class Database(_Databases[Engine, Reader, Catalog]):
    """Sync access to mp's database (psycopg 3).

    Example:
        >>> with Database() as db:                                     # doctest: +SKIP
        ...     db.ingest("macro_observations", rows)
        ...     db.reader.as_of("macro_observations", [1, 2], as_of=when)
    """

    _create_engine = staticmethod(create_db_engine)
    _reader_type = Reader
    _catalog_type = Catalog
    _ingests = SYNC_INGESTS

    def frames(
        self, form: Form[F], *, batch_rows: int = DEFAULT_BATCH_ROWS, bookkeeping: bool = True
    ) -> FrameReader[F]:
        """The reader's reads answered as tables in ``form`` (``ARROW``, ``PANDAS``,
        ``POLARS``), on the read engine; ``.stream`` yields batches of at most ``batch_rows``
        rows; ``bookkeeping=False`` leaves out ``revision``, ``knowledge_time_source``,
        ``ingested_at`` and ``ingest_id`` (:class:`~mp_db.FrameReader`)."""
        return FrameReader(self.read_engine, form, batch_rows=batch_rows, bookkeeping=bookkeeping)

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

    ingest = sync_method(_Databases._ingest)

    def health(self, *, read: bool = False) -> HealthReport:
        """Health of the primary (or of the read engine's server)."""
        return check_health(self.read_engine if read else self.engine)

    def close(self) -> None:
        """Dispose of the engines; the object refuses further use."""
        for engine in self._engines():
            engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncDatabase(_Databases[AsyncEngine, AsyncReader, AsyncCatalog]):
    """Async access to mp's database (asyncpg): :class:`Database`'s methods, awaited."""

    _create_engine = staticmethod(create_db_engine_async)
    _reader_type = AsyncReader
    _catalog_type = AsyncCatalog
    _ingests = ASYNC_INGESTS

    def frames(
        self, form: Form[F], *, batch_rows: int = DEFAULT_BATCH_ROWS, bookkeeping: bool = True
    ) -> AsyncFrameReader[F]:
        """See :meth:`Database.frames`."""
        engine = self.read_engine
        return AsyncFrameReader(engine, form, batch_rows=batch_rows, bookkeeping=bookkeeping)

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

    ingest = async_method(_Databases._ingest)

    async def health(self, *, read: bool = False) -> HealthReport:
        """Health of the primary (or of the read engine's server)."""
        return await check_health_async(self.read_engine if read else self.engine)

    async def close(self) -> None:
        """Dispose of the engines; the object refuses further use."""
        for engine in self._engines():
            await engine.dispose()

    async def __aenter__(self) -> AsyncDatabase:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
