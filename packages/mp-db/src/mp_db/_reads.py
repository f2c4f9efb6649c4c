"""Point-in-time reads, sync (:class:`Reader`) and async (:class:`AsyncReader`), written once.

Every read is one generator method of :class:`_Reads` (the sans-I/O core): it builds a
:class:`~mp_db._read_queries.Query` (SQL from :mod:`mp_db._read_sql`, bound parameters, a
converter for the rows) and yields :class:`Fetch` requests for its statements. The public
methods of both readers are made from those by :mod:`mp_config.steps`; the readers only say
where a read's connection comes from and how a ``Fetch`` runs on it (docs/sync-async.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack, ExitStack, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from psycopg import pq
from sqlalchemy import Connection, Engine, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mp_config.steps import Steps, async_method, named_like, run, run_async, sync_method
from mp_db._arguments import BEGINNING, END_OF_TIME
from mp_db._binary_results import binary_results
from mp_db._columnar_fetch import Columnar
from mp_db._cutoff import Cutoff
from mp_db._error_mapping import translate_errors
from mp_db._planner import PlannerSettings, planner_settings, planner_settings_async
from mp_db._read_queries import (
    Query,
    Ranged,
    Replay,
    UntypedRef,
    _Queries,
    join_as_of,
    unanswered,
    unbounded,
)
from mp_db._read_sql import CUTOFF_AT_SQL
from mp_db._rows import AlfredInterval, AsOfValue, FactRow
from mp_db._tables import TableRef
from mp_db._transactions import plain, plain_async

__all__ = [
    "BEGINNING",
    "END_OF_TIME",
    "AsyncReader",
    "Fetch",
    "Query",
    "Ranged",
    "Reader",
    "Replay",
    "Stream",
    "fetch",
    "join_as_of",
    "over_all_time",
    "rest_of",
]

T = TypeVar("T")
R = TypeVar("R", bound=FactRow)
S = TypeVar("S")
P = ParamSpec("P")

# --- the sans-I/O core: every read written once, as steps yielding Fetch requests ------------


@dataclass(frozen=True, slots=True)
class Fetch:
    """Run one statement on the read's connection; its rows are sent back.

    Every statement of a read runs on one connection (the cutoff of ``ingested_before`` and
    the read itself), so a read over a Connection in a REPEATABLE READ transaction sees one
    snapshot. ``columnar`` (the statement's columns) lets a frame reader's driver fetch it as
    a table by binary COPY (:mod:`mp_db._frame_reads`); a row driver fetches rows. Both run it
    with the ``planner`` settings (:mod:`mp_db._planner`). ``only``: nothing runs before or
    after it on the read's connection, so on a connection of the read's own it needs no
    transaction of its own (one statement sees one snapshot either way). ``bounded``: a
    latest print bounded below in obs_time (:attr:`~mp_db._read_queries.Query.bounded`),
    whose answer every driver completes with :func:`rest_of`. ``binary``: a row driver on
    psycopg may ask for binary results (:mod:`mp_db._binary_results`); False for a caller's
    own :class:`Query`, whose columns may be of a type psycopg loads only from text.
    """

    sql: str
    parameters: dict[str, Any]
    columnar: Columnar | None = None
    planner: PlannerSettings = ()
    only: bool = False
    bounded: bool = False
    binary: bool = True


def rest_of(request: Fetch, found: Iterable[int]) -> Fetch | None:
    """What answers ``request`` when its answer, rows of the series ``found``, may not be the
    whole answer: for a bounded latest print that found nothing for some series, the same
    statement over all time for every series (its answer is the read's: one statement, one
    snapshot, whether or not the read has a transaction); None otherwise."""
    if not request.bounded or not unanswered(request.parameters, found):
        return None
    return over_all_time(request)


def over_all_time(request: Fetch) -> Fetch:
    """``request`` without its lower bound (a streamed read answers in one statement)."""
    if not request.bounded:
        return request
    return replace(request, parameters=unbounded(request.parameters), bounded=False)


@dataclass(frozen=True, slots=True)
class Stream(Generic[T]):
    """The resolved query of a streamed read and its partition size."""

    query: Query[list[T]]
    batch_rows: int


def fetch(query: Query[T], *, binary: bool = True) -> Steps[T]:
    """The steps of one :class:`Query`: its replay cutoff resolved, then its rows converted
    (``binary``: see :class:`Fetch`).

    The one place where fetched rows become a read's answer: ``query.convert`` makes the row
    objects. The ``Fetch`` carries the query's columns, so a frame reader's driver answers it
    as a table instead and that table is the read's answer (:mod:`mp_db._frame_reads`).
    """
    only = query.cutoff_at is None  # else the cutoff's statement runs first
    query = yield from _resolved(query)
    request = Fetch(
        query.sql, query.parameters, query.columnar, query.planner, only, query.bounded, binary
    )
    rows = yield request
    rest = rest_of(request, (row[0] for row in rows))  # series_id leads every row
    if rest is not None:
        rows = yield rest
    return query.convert(rows)


def _resolved(query: Query[T]) -> Steps[Query[T]]:
    """``query`` with its replay time turned into cutoff parameters, on the read's connection."""
    if query.cutoff_at is None:
        return query
    found = yield Fetch(CUTOFF_AT_SQL, {"cutoff_time": query.cutoff_at})
    return query.resolved(found[0])


class _Reads:
    """The reads of :class:`Reader` and :class:`AsyncReader`, each written once as steps.

    The public methods are made from these by :func:`mp_config.steps.sync_method` and
    :func:`~mp_config.steps.async_method`; the docstrings here are theirs.
    """

    def _run(self, query: Query[T]) -> Steps[T]:
        """Execute a :class:`Query` and convert its rows (text results on psycopg: the query's
        columns may be of any type)."""
        return fetch(query, binary=False)

    def _cutoff(self, *, at: datetime | None = None) -> Steps[Cutoff]:
        """What this reader can see now (or saw at ``at``): record it with a run, pass it as
        ``ingested_before=`` to the run's reads, and a replay later sees exactly the same."""
        return fetch(_Queries.cutoff(at))

    @overload
    def _as_of(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[R]]: ...

    @overload
    def _as_of(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[FactRow]]: ...

    def _as_of(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[Any]]:
        """Each observation in [start, end) at its latest version known at ``as_of``.

        Nothing with knowledge_time after ``as_of`` is ever returned."""
        query = _Queries.as_of(
            table,
            series_ids=series_ids,
            as_of=as_of,
            start=start,
            end=end,
            ingested_before=ingested_before,
        )
        return (yield from fetch(query))

    @overload
    def _latest(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: Replay = None,
    ) -> Steps[list[R]]: ...

    @overload
    def _latest(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: Replay = None,
    ) -> Steps[list[FactRow]]: ...

    def _latest(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: Replay = None,
    ) -> Steps[list[Any]]:
        """The latest print of each series as known at ``as_of``: its newest observation known
        then, with every entity of it (a whole curve, every trader category) at its newest
        version known then. Series with nothing known are absent."""
        query = _Queries.latest(table, series_ids, as_of, ingested_before, bounded=True)
        return (yield from fetch(query))

    @overload
    def _first_release(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[R]]: ...

    @overload
    def _first_release(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[FactRow]]: ...

    def _first_release(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[Any]]:
        """What was first printed for each observation in [start, end) (known by ``as_of``)."""
        window = (start, end, as_of)
        found: list[Any] = yield from self._ranged(
            Ranged.FIRST_RELEASE, table, series_ids, window, ingested_before
        )
        return found

    @overload
    def _vintages(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[R]]: ...

    @overload
    def _vintages(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[FactRow]]: ...

    def _vintages(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[Any]]:
        """Every vintage (value change) of each observation in [start, end) known at
        ``as_of``, ordered by observation then knowledge_time. A stored restatement of the
        version before it is not a vintage and is left out."""
        window = (start, end, as_of)
        found: list[Any] = yield from self._ranged(
            Ranged.VINTAGES, table, series_ids, window, ingested_before
        )
        return found

    def _intervals(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[AlfredInterval]]:
        """ALFRED's form: each vintage known at ``as_of`` with the real-time interval it was
        current for, as known then (``realtime_end`` None: still current at ``as_of``)."""
        window = (start, end, as_of)
        found: list[AlfredInterval] = yield from self._ranged(
            Ranged.INTERVALS, table, series_ids, window, ingested_before
        )
        return found

    @staticmethod
    def _ranged(
        shape: Ranged,
        table: TableRef,
        series_ids: int | Iterable[int],
        window: tuple[datetime | None, datetime | None, datetime | None],
        ingested_before: Replay,
    ) -> Steps[Any]:
        start, end, as_of = window
        query = _Queries.ranged(
            table,
            shape,
            series_ids=series_ids,
            start=start,
            end=end,
            as_of=as_of,
            ingested_before=ingested_before,
        )
        return (yield from fetch(query))

    @overload
    def _cross_section(
        self,
        table: type[R],
        obs_time: datetime,
        *,
        as_of: datetime,
        series_ids: int | Iterable[int] | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[R]]: ...

    @overload
    def _cross_section(
        self,
        table: UntypedRef,
        obs_time: datetime,
        *,
        as_of: datetime,
        series_ids: int | Iterable[int] | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[FactRow]]: ...

    def _cross_section(
        self,
        table: TableRef,
        obs_time: datetime,
        *,
        as_of: datetime,
        series_ids: int | Iterable[int] | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[Any]]:
        """Every series' (or just ``series_ids``') value for one period, as known at
        ``as_of``, each entity at its newest version known then."""
        query = _Queries.cross_section(table, obs_time, as_of, series_ids, ingested_before)
        return (yield from fetch(query))

    def _iter_vintages(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
        batch_rows: int = 10_000,
    ) -> Steps[Stream[FactRow]]:
        """:meth:`vintages`, streamed with a server-side cursor: memory stays bounded by
        ``batch_rows`` whatever the size of the history."""
        query = _Queries.ranged(
            table,
            Ranged.VINTAGES,
            series_ids=series_ids,
            start=start,
            end=end,
            as_of=as_of,
            ingested_before=ingested_before,
        )
        return Stream((yield from _resolved(query)), batch_rows)

    @overload
    def _vintage_dates(
        self,
        table: TableRef,
        series_ids: int,
        *,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[datetime]]: ...

    @overload
    def _vintage_dates(
        self,
        table: TableRef,
        series_ids: Iterable[int],
        *,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[dict[int, list[datetime]]]: ...

    def _vintage_dates(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[Any]:
        """The sorted knowledge times at which some observation of the series changed value
        (its vintages), known at ``as_of``. One id gives a list; several give a dict with every
        requested id as a key."""
        query = _Queries.vintage_dates(table, series_ids, as_of, ingested_before)
        return (yield from fetch(query))

    def _backtest(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        decision_times: Sequence[datetime],
        *,
        ingested_before: Replay = None,
    ) -> Steps[list[AsOfValue]]:
        """The latest print of each series at each decision time (the answer of
        :func:`join_as_of` over the release stream): computed on the server, one probe down
        the primary key per decision time and series, so the stream is never shipped."""
        query = _Queries.backtest(table, series_ids, decision_times, ingested_before)
        if not query.parameters["decision_times"]:
            return (yield from self._unasked(query))
        return (yield from fetch(query))

    def _unasked(self, query: Query[T]) -> Steps[T]:
        """The answer of ``query`` when it can find nothing (a backtest without decision
        times): rows need no statement; a frame reader asks anyway, for the table's schema."""
        yield from ()
        return query.convert(())


# --- the two drivers: where a read's connection comes from, and how a Fetch is executed ------


class _Session:
    """One read's connection, taken at its first statement: a read refused before that (bad
    input, an empty backtest) never touches the server."""

    def __init__(self, bind: Engine | Connection, stack: ExitStack) -> None:
        self.bind, self.stack = bind, stack
        self._connection: Connection | None = None

    def connection(self) -> Connection:
        if self._connection is None:
            bind = self.bind
            self._connection = (
                self.stack.enter_context(bind.connect()) if isinstance(bind, Engine) else bind
            )
        return self._connection

    def execute(self, request: Fetch) -> Any:
        connection = self.connection()
        with binary_results(connection) if request.binary else nullcontext():
            if request.only and not request.planner and isinstance(self.bind, Engine):
                return _without_transaction(connection, request)
            with planner_settings(connection, request.planner):
                return connection.execute(text(request.sql), request.parameters).all()


class _AsyncSession:
    """:class:`_Session` on asyncpg."""

    def __init__(self, bind: AsyncEngine | AsyncConnection, stack: AsyncExitStack) -> None:
        self.bind, self.stack = bind, stack
        self._connection: AsyncConnection | None = None

    async def connection(self) -> AsyncConnection:
        if self._connection is None:
            bind = self.bind
            self._connection = (
                await self.stack.enter_async_context(bind.connect())
                if isinstance(bind, AsyncEngine)
                else bind
            )
        return self._connection

    async def execute(self, request: Fetch) -> Any:
        connection = await self.connection()
        if request.only and not request.planner and isinstance(self.bind, AsyncEngine):
            return await _without_transaction_async(connection, request)
        async with planner_settings_async(connection, request.planner):
            return (await connection.execute(text(request.sql), request.parameters)).all()


# A read's only statement on a connection of its own runs in autocommit: psycopg then sends
# no BEGIN before it (a round trip of its own) and no ROLLBACK when the connection goes back,
# asyncpg the same. Only from a connection in its plain state: an engine's isolation level
# or read-only setting must still hold, and a transaction begun must be joined.


def _without_transaction(connection: Connection, request: Fetch) -> Any:
    raw: Any = connection.connection.dbapi_connection
    idle = raw.info.transaction_status == pq.TransactionStatus.IDLE
    if connection.in_transaction() or raw.autocommit or not (plain(raw) and idle):
        return connection.execute(text(request.sql), request.parameters).all()
    raw.autocommit = True
    try:
        rows = connection.execute(text(request.sql), request.parameters).all()
    except BaseException:
        # psycopg refuses the change on a connection that is not idle (lost mid-statement):
        # such a connection is never handed out again rather than left in autocommit.
        if raw.info.transaction_status == pq.TransactionStatus.IDLE:
            raw.autocommit = False
        else:
            connection.invalidate()
        raise
    raw.autocommit = False
    # SQLAlchemy began a transaction of its own with the statement; on the server there is
    # none, so this sends nothing, and a next statement of the read (a latest print run again
    # over all time) goes alone too.
    connection.rollback()
    return rows


async def _without_transaction_async(connection: AsyncConnection, request: Fetch) -> Any:
    adapted: Any = (await connection.get_raw_connection()).dbapi_connection
    begun = adapted._transaction is not None
    if connection.in_transaction() or begun or not plain_async(adapted):
        return (await connection.execute(text(request.sql), request.parameters)).all()
    adapted.isolation_level = "autocommit"
    try:
        rows = (await connection.execute(text(request.sql), request.parameters)).all()
    finally:
        adapted.isolation_level = None
    await connection.rollback()  # as in _without_transaction: nothing on the wire
    return rows


def _streamed(logic: Callable[..., Steps[Stream[Any]]]) -> Callable[..., Any]:
    def method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
        return self._stream(logic(self, *args, **kwargs))

    return named_like(method, logic)


def stream_method(
    logic: Callable[Concatenate[S, P], Steps[Stream[T]]],
) -> Callable[Concatenate[S, P], Iterator[T]]:
    """The public sync method of a streamed read: the class's ``_stream`` runs its steps."""
    return _streamed(logic)


def async_stream_method(
    logic: Callable[Concatenate[S, P], Steps[Stream[T]]],
) -> Callable[Concatenate[S, P], AsyncIterator[T]]:
    """The public async method of a streamed read: an async iterator of its rows."""
    return _streamed(logic)


class Reader(_Reads):
    """Point-in-time reads over a sync engine or connection (psycopg 3).

    Every time argument is a timezone-aware datetime (or ``numpy.datetime64``, read as UTC;
    ``start``, ``end`` and ``obs_time`` also take a ``date``, meaning 00:00 UTC); anything else
    is refused with :class:`~mp_db.BadInputError`. Results are plain row objects in time order;
    name the table by its row class (``MacroObservationRow``) to have them typed as such.
    A series that is unknown, of another kind or without rows gives an empty answer.

    Every read takes ``ingested_before``: a :class:`~mp_db.Cutoff` from :meth:`cutoff` (only
    the ingests committed when it was taken count: exact strict replay) or a datetime (only
    the ingests whose commit was stamped by then).

    Args:
        bind: an Engine (a connection is taken per call; use the read engine to reach a
            replica) or a Connection (reads join its transaction, e.g. a REPEATABLE READ
            snapshot across several reads).
    """

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind

    def _drive(self, steps: Steps[T]) -> T:
        with translate_errors(), ExitStack() as stack:
            return run(steps, _Session(self.bind, stack).execute)

    def _stream(self, steps: Steps[Stream[FactRow]]) -> Iterator[FactRow]:
        with translate_errors(), ExitStack() as stack:
            session = _Session(self.bind, stack)
            plan = run(steps, session.execute)
            # max_row_buffer with explicit partition sizes: measured with SQLAlchemy 2.1,
            # yield_per with partitions() kept every row (76 MB for 300k rows) while this holds
            # one buffer (under 1 MB).
            connection = session.connection()
            with binary_results(connection):
                result = connection.execution_options(
                    stream_results=True, max_row_buffer=plan.batch_rows
                ).execute(text(plan.query.sql), plan.query.parameters)
            for partition in result.partitions(plan.batch_rows):
                yield from plan.query.convert(partition)

    run = sync_method(_Reads._run)
    cutoff = sync_method(_Reads._cutoff)
    as_of = sync_method(_Reads._as_of)
    latest = sync_method(_Reads._latest)
    first_release = sync_method(_Reads._first_release)
    vintages = sync_method(_Reads._vintages)
    cross_section = sync_method(_Reads._cross_section)
    iter_vintages = stream_method(_Reads._iter_vintages)
    vintage_dates = sync_method(_Reads._vintage_dates)
    intervals = sync_method(_Reads._intervals)
    backtest = sync_method(_Reads._backtest)


class AsyncReader(_Reads):
    """The async counterpart of :class:`Reader` (asyncpg): same methods, same answers, awaited."""

    def __init__(self, bind: AsyncEngine | AsyncConnection) -> None:
        self.bind = bind

    async def _drive(self, steps: Steps[T]) -> T:
        with translate_errors():
            async with AsyncExitStack() as stack:
                return await run_async(steps, _AsyncSession(self.bind, stack).execute)

    async def _stream(self, steps: Steps[Stream[FactRow]]) -> AsyncIterator[FactRow]:
        with translate_errors():
            async with AsyncExitStack() as stack:
                session = _AsyncSession(self.bind, stack)
                plan = await run_async(steps, session.execute)
                connection = await session.connection()
                result = await connection.stream(
                    text(plan.query.sql).execution_options(max_row_buffer=plan.batch_rows),
                    plan.query.parameters,
                )
                async for partition in result.partitions(plan.batch_rows):
                    for row in plan.query.convert(partition):
                        yield row

    run = async_method(_Reads._run)
    cutoff = async_method(_Reads._cutoff)
    as_of = async_method(_Reads._as_of)
    latest = async_method(_Reads._latest)
    first_release = async_method(_Reads._first_release)
    vintages = async_method(_Reads._vintages)
    cross_section = async_method(_Reads._cross_section)
    iter_vintages = async_stream_method(_Reads._iter_vintages)
    vintage_dates = async_method(_Reads._vintage_dates)
    intervals = async_method(_Reads._intervals)
    backtest = async_method(_Reads._backtest)
