"""Point-in-time reads answered as tables: :class:`FrameReader`, :class:`AsyncFrameReader`.

The same reads as :class:`~mp_db.Reader`, from the same sans-I/O core (:class:`_Reads`), with
the same parameters: :func:`frame_method` makes each public method from the core's generator
method, as :func:`mp_config.steps.sync_method` does for the row readers, but typed to return
the reader's form (:mod:`mp_db._frame_forms`). What differs is the driver. ``fetch(query)``
(:mod:`mp_db._reads`) yields the read's statement as a :class:`~mp_db._reads.Fetch` carrying
its columns; a row driver sends rows back,
which become row objects; the frame driver stops the steps there (:class:`_Asked`), so no row
object is ever made, and hands the statement, without the columns the reader leaves out, to
a columnar fetch (:mod:`mp_db._columnar_fetch`): one binary COPY decoded into a table, the
read's answer, or for a reader's :attr:`~FrameReader.stream` (:class:`FrameStream`,
:class:`AsyncFrameStream`, made by :func:`stream_frame_method`) the COPY decoded as it arrives
in batches of at most ``batch_rows`` rows. Statements without columns (the cutoff of a replay
datetime) run as rows on the same connection first, so one read sees one snapshot. The form
then turns each table into a pandas or polars DataFrame if asked.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Coroutine, Generator
from contextlib import AsyncExitStack, ExitStack, aclosing, closing
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mp_config.steps import Steps, async_method, named_like, run, run_async, sync_method
from mp_db._columnar import series_of
from mp_db._columnar_fetch import (
    Columnar,
    fetch_table,
    fetch_table_async,
    stream_arrow,
    stream_arrow_async,
)
from mp_db._error_mapping import translate_errors
from mp_db._frame_forms import Form
from mp_db._planner import planner_settings_async
from mp_db._read_queries import Query
from mp_db._reads import (
    Fetch,
    _AsyncSession,
    _Reads,
    _Session,
    fetch,
    over_all_time,
    rest_of,
)
from mp_db.exceptions import BadInputError

if TYPE_CHECKING:
    import pyarrow

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "AsyncFrameReader",
    "AsyncFrameStream",
    "FrameReader",
    "FrameStream",
    "async_frame_method",
    "async_stream_frame_method",
    "frame_method",
    "stream_frame_method",
]

#: Rows per batch of a streamed frame read unless the reader says otherwise.
DEFAULT_BATCH_ROWS = 100_000

T = TypeVar("T")
F = TypeVar("F")
P = ParamSpec("P")


def _narrowed(request: Fetch, bookkeeping: bool) -> Fetch:
    """``request`` as a reader with or without the bookkeeping columns fetches it."""
    if request.columnar is None or bookkeeping:
        return request
    sql, columnar = request.columnar.without_bookkeeping(request.sql)
    return replace(request, sql=sql, columnar=columnar)


class _Asked(BaseException):
    """A frame read's columnar statement, raised by its driver when the steps reach it.

    A ``BaseException`` so that :func:`mp_config.steps.run` closes the read's steps instead of
    throwing it into them: nothing after the fetch (the row converter) runs, and the reader
    catches it around the run and fetches the statement as a table.
    """

    def __init__(self, request: Fetch) -> None:
        super().__init__()
        self.request = request


class _StatementSession(_Session):
    """:class:`~mp_db._reads._Session` that stops at the statement with columns."""

    def execute(self, request: Fetch) -> Any:
        if request.columnar is None:
            return super().execute(request)
        raise _Asked(request)


class _AsyncStatementSession(_AsyncSession):
    """:class:`_StatementSession` on asyncpg."""

    async def execute(self, request: Fetch) -> Any:
        if request.columnar is None:
            return await super().execute(request)
        raise _Asked(request)


def _unanswered() -> AssertionError:
    return AssertionError("a frame read ended without its columnar fetch")


def frame_method(
    logic: Callable[Concatenate[_Reads, P], Steps[Any]],
) -> Callable[Concatenate[FrameReader[F], P], F]:
    """The public method of :class:`FrameReader`: ``logic``'s parameters, the reader's form."""

    def method(self: FrameReader[F], /, *args: P.args, **kwargs: P.kwargs) -> F:
        return self.form.convert(self._table(logic(self, *args, **kwargs)))

    return named_like(method, logic)


def async_frame_method(
    logic: Callable[Concatenate[_Reads, P], Steps[Any]],
) -> Callable[Concatenate[AsyncFrameReader[F], P], Coroutine[Any, Any, F]]:
    """The public method of :class:`AsyncFrameReader`: ``logic``'s parameters, awaited."""

    async def method(self: AsyncFrameReader[F], /, *args: P.args, **kwargs: P.kwargs) -> F:
        return self.form.convert(await self._table(logic(self, *args, **kwargs)))

    return named_like(method, logic)


def stream_frame_method(
    logic: Callable[Concatenate[_Reads, P], Steps[Any]],
) -> Callable[Concatenate[FrameStream[F], P], Generator[F, None, None]]:
    """The public method of :class:`FrameStream`: ``logic``'s parameters, an iterator of
    batches in the reader's form."""

    def method(
        self: FrameStream[F], /, *args: P.args, **kwargs: P.kwargs
    ) -> Generator[F, None, None]:
        return self._batches(logic(self, *args, **kwargs))

    return named_like(method, logic)


def async_stream_frame_method(
    logic: Callable[Concatenate[_Reads, P], Steps[Any]],
) -> Callable[Concatenate[AsyncFrameStream[F], P], AsyncGenerator[F, None]]:
    """The public method of :class:`AsyncFrameStream`: an async iterator of batches."""

    def method(
        self: AsyncFrameStream[F], /, *args: P.args, **kwargs: P.kwargs
    ) -> AsyncGenerator[F, None]:
        return self._batches(logic(self, *args, **kwargs))

    return named_like(method, logic)


def _statement(
    steps: Steps[Any], bind: Engine | Connection, stack: ExitStack, bookkeeping: bool
) -> tuple[Connection, Fetch, Columnar]:
    """The read's connection (taken from ``bind`` into ``stack``) and its statement with
    columns (without the bookkeeping ones unless asked for), once the statements before it
    (if any) ran on that connection."""
    session = _StatementSession(bind, stack)
    try:
        run(steps, session.execute)
    except _Asked as asked:
        request = _narrowed(asked.request, bookkeeping)
        assert request.columnar is not None  # only a statement with columns is _Asked
        return session.connection(), request, request.columnar
    raise _unanswered()


async def _statement_async(
    steps: Steps[Any], bind: AsyncEngine | AsyncConnection, stack: AsyncExitStack, bookkeeping: bool
) -> tuple[AsyncConnection, Fetch, Columnar]:
    """:func:`_statement` on asyncpg."""
    session = _AsyncStatementSession(bind, stack)
    try:
        await run_async(steps, session.execute)
    except _Asked as asked:
        request = _narrowed(asked.request, bookkeeping)
        assert request.columnar is not None  # only a statement with columns is _Asked
        return await session.connection(), request, request.columnar
    raise _unanswered()


class _FrameReads(_Reads):
    """What both frame readers change in the core: an empty backtest still asks the server,
    whose empty answer carries the table's columns and types."""

    def _unasked(self, query: Query[T]) -> Steps[T]:
        return fetch(query)


class FrameReader(_FrameReads, Generic[F]):
    """The reads of :class:`~mp_db.Reader`, each answered as one table in ``form``:
    :data:`~mp_db.ARROW` (a pyarrow Table, the ``arrow`` extra), :data:`~mp_db.PANDAS` or
    :data:`~mp_db.POLARS` (a DataFrame; mypy types the answers by the form).

    Every method takes exactly the parameters of the row read of the same name and refuses
    the same bad input; the table has one column per field of the row answer, in its order
    (``backtest``: ``decision_time``, then the row's fields, null where nothing was known;
    ``intervals``: the row's fields and ``realtime_end``; ``vintage_dates``: ``series_id`` and
    ``knowledge_time``), with timestamps timezone-aware in UTC (``timestamp[us, tz=UTC]``). The
    rows are fetched by binary COPY and decoded column by column, without a Python object per
    row. ``cutoff`` gives a :class:`~mp_db.Cutoff`, as the row reader's; streamed vintages stay
    on :class:`~mp_db.Reader` (``iter_vintages``).

    :attr:`stream` has the same reads, each answered in batches (:class:`FrameStream`).

    Args:
        bind: an Engine (a connection per call) or a Connection (reads join its transaction,
            e.g. a REPEATABLE READ snapshot shared with row reads).
        form: what each read gives.
        batch_rows: the most rows one batch of :attr:`stream` holds.
        bookkeeping: False leaves the bookkeeping columns out of every table
            (:data:`~mp_schema.models.BOOKKEEPING_COLUMNS`: ``revision``,
            ``knowledge_time_source``, ``ingested_at``, ``ingest_id``); they are then never
            sent, which more than halves the bytes of a ``macro_observations`` read.
    """

    def __init__(
        self,
        bind: Engine | Connection,
        form: Form[F],
        *,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        bookkeeping: bool = True,
    ) -> None:
        self.bind, self.form, self.batch_rows = bind, form, batch_rows
        self.bookkeeping = bookkeeping

    @property
    def stream(self) -> FrameStream[F]:
        """The same reads, each an iterator of batches of at most ``batch_rows`` rows."""
        return FrameStream(
            self.bind, self.form, batch_rows=self.batch_rows, bookkeeping=self.bookkeeping
        )

    def _drive(self, steps: Steps[T]) -> T:
        with translate_errors(), ExitStack() as stack:
            return run(steps, _Session(self.bind, stack).execute)

    def _table(self, steps: Steps[Any]) -> pyarrow.Table:
        with translate_errors(), ExitStack() as stack:
            connection, request, columnar = _statement(steps, self.bind, stack, self.bookkeeping)

            def answer(fetched: Fetch) -> pyarrow.Table:
                return fetch_table(
                    connection,
                    fetched.sql,
                    fetched.parameters,
                    columnar,
                    fetched.planner,
                    alone=fetched.only and isinstance(self.bind, Engine),
                )

            table = answer(request)
            rest = rest_of(request, series_of(table))
            return table if rest is None else answer(rest)

    cutoff = sync_method(_Reads._cutoff)
    as_of = frame_method(_Reads._as_of)
    latest = frame_method(_Reads._latest)
    first_release = frame_method(_Reads._first_release)
    vintages = frame_method(_Reads._vintages)
    cross_section = frame_method(_Reads._cross_section)
    vintage_dates = frame_method(_Reads._vintage_dates)
    intervals = frame_method(_Reads._intervals)
    backtest = frame_method(_Reads._backtest)


class AsyncFrameReader(_FrameReads, Generic[F]):
    """The async counterpart of :class:`FrameReader` (asyncpg): same methods, awaited."""

    def __init__(
        self,
        bind: AsyncEngine | AsyncConnection,
        form: Form[F],
        *,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        bookkeeping: bool = True,
    ) -> None:
        self.bind, self.form, self.batch_rows = bind, form, batch_rows
        self.bookkeeping = bookkeeping

    @property
    def stream(self) -> AsyncFrameStream[F]:
        """The same reads, each an async iterator of batches (:class:`AsyncFrameStream`)."""
        return AsyncFrameStream(
            self.bind, self.form, batch_rows=self.batch_rows, bookkeeping=self.bookkeeping
        )

    async def _drive(self, steps: Steps[T]) -> T:
        with translate_errors():
            async with AsyncExitStack() as stack:
                return await run_async(steps, _AsyncSession(self.bind, stack).execute)

    async def _table(self, steps: Steps[Any]) -> pyarrow.Table:
        with translate_errors():
            async with AsyncExitStack() as stack:
                connection, request, columnar = await _statement_async(
                    steps, self.bind, stack, self.bookkeeping
                )

                async def answer(fetched: Fetch) -> pyarrow.Table:
                    async with planner_settings_async(connection, fetched.planner):
                        return await fetch_table_async(
                            connection,
                            fetched.sql,
                            fetched.parameters,
                            columnar,
                            alone=fetched.only and isinstance(self.bind, AsyncEngine),
                        )

                table = await answer(request)
                rest = rest_of(request, series_of(table))
                return table if rest is None else await answer(rest)

    cutoff = async_method(_Reads._cutoff)
    as_of = async_frame_method(_Reads._as_of)
    latest = async_frame_method(_Reads._latest)
    first_release = async_frame_method(_Reads._first_release)
    vintages = async_frame_method(_Reads._vintages)
    cross_section = async_frame_method(_Reads._cross_section)
    vintage_dates = async_frame_method(_Reads._vintage_dates)
    intervals = async_frame_method(_Reads._intervals)
    backtest = async_frame_method(_Reads._backtest)


class FrameStream(_FrameReads, Generic[F]):
    """The reads of :class:`FrameReader`, each an iterator of batches of at most
    ``batch_rows`` rows in ``form``; the batches, concatenated, are the one-shot answer, in
    its order. Memory holds one batch (and the bytes of the next), whatever the answer's size.

    The COPY is decoded as it arrives, in the bind's transaction as a one-shot read is (a
    Connection's snapshot; with an Engine, a connection held until the iterator ends). An
    empty answer is one empty batch (it carries the columns). Closing the iterator before its
    end (``close()``, leaving a ``for`` loop over it, :func:`contextlib.closing`) cancels the
    COPY on the server and rolls back to a savepoint taken before it: the connection and its
    transaction go on as before. Nothing runs until the first batch is asked for, so bad input
    is refused there.

    Args:
        bind: as :class:`FrameReader`'s.
        form: what each batch is.
        batch_rows: the most rows one batch holds (at least 1).
        bookkeeping: as :class:`FrameReader`'s.
    """

    def __init__(
        self,
        bind: Engine | Connection,
        form: Form[F],
        *,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        bookkeeping: bool = True,
    ) -> None:
        if batch_rows < 1:
            raise BadInputError(f"batch_rows must be at least 1, not {batch_rows}")
        self.bind, self.form, self.batch_rows = bind, form, batch_rows
        self.bookkeeping = bookkeeping

    def _batches(self, steps: Steps[Any]) -> Generator[F, None, None]:
        with translate_errors(), ExitStack() as stack:
            connection, request, columnar = _statement(steps, self.bind, stack, self.bookkeeping)
            request = over_all_time(request)
            tables = stream_arrow(
                connection,
                request.sql,
                request.parameters,
                columnar,
                self.batch_rows,
                planner=request.planner,
            )
            # Closed here, not when collected: closing early cancels the COPY at once.
            with closing(tables):
                for table in tables:
                    yield self.form.convert(table)

    as_of = stream_frame_method(_Reads._as_of)
    latest = stream_frame_method(_Reads._latest)
    first_release = stream_frame_method(_Reads._first_release)
    vintages = stream_frame_method(_Reads._vintages)
    cross_section = stream_frame_method(_Reads._cross_section)
    vintage_dates = stream_frame_method(_Reads._vintage_dates)
    intervals = stream_frame_method(_Reads._intervals)
    backtest = stream_frame_method(_Reads._backtest)


class AsyncFrameStream(_FrameReads, Generic[F]):
    """The async counterpart of :class:`FrameStream` (asyncpg): the same reads, each an async
    iterator of batches. Close one left early with ``await batches.aclose()`` (or
    :func:`contextlib.aclosing`): an async generator abandoned in an ``async for`` is only
    closed when it is collected, and its connection stays in the COPY until then."""

    def __init__(
        self,
        bind: AsyncEngine | AsyncConnection,
        form: Form[F],
        *,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        bookkeeping: bool = True,
    ) -> None:
        if batch_rows < 1:
            raise BadInputError(f"batch_rows must be at least 1, not {batch_rows}")
        self.bind, self.form, self.batch_rows = bind, form, batch_rows
        self.bookkeeping = bookkeeping

    async def _batches(self, steps: Steps[Any]) -> AsyncGenerator[F, None]:
        with translate_errors():
            async with AsyncExitStack() as stack:
                connection, request, columnar = await _statement_async(
                    steps, self.bind, stack, self.bookkeeping
                )
                request = over_all_time(request)
                tables = stream_arrow_async(
                    connection, request.sql, request.parameters, columnar, self.batch_rows
                )
                # An async for never closes what it leaves: closed here, the COPY stops now.
                async with planner_settings_async(connection, request.planner), aclosing(tables):
                    async for table in tables:
                        yield self.form.convert(table)

    as_of = async_stream_frame_method(_Reads._as_of)
    latest = async_stream_frame_method(_Reads._latest)
    first_release = async_stream_frame_method(_Reads._first_release)
    vintages = async_stream_frame_method(_Reads._vintages)
    cross_section = async_stream_frame_method(_Reads._cross_section)
    vintage_dates = async_stream_frame_method(_Reads._vintage_dates)
    intervals = async_stream_frame_method(_Reads._intervals)
    backtest = async_stream_frame_method(_Reads._backtest)
