"""Columnar reads, the I/O part: run a read's SQL as a binary COPY on the connection's own
driver (psycopg's libpq handle, :mod:`mp_db._libpq_copy`; asyncpg ``copy_from_query``) and
decode it (:mod:`mp_db._columnar`).

The COPY runs on the raw driver connection inside the SQLAlchemy connection's transaction
(begun first if it was not), so a columnar read sees the same snapshot as a row read on that
connection (a REPEATABLE READ transaction across several reads stays one snapshot).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncGenerator, Collection, Generator, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

from mp_db._columnar import (
    Column,
    arrow_from_rows,
    copy_select,
    copy_statement,
    decode_copy,
    fact_columns,
    import_arrow,
    in_order,
    render_sql,
)
from mp_db._copy_batches import BatchDecoder
from mp_db._libpq_copy import SAVEPOINT, CopyTimeoutError, copy_pieces
from mp_db._planner import PlannerSettings, planner_settings
from mp_db._tables import TableRef, resolve_table
from mp_db._transactions import plain, plain_async
from mp_db._watchdog import copy_deadline
from mp_schema.models import BOOKKEEPING_COLUMNS

if TYPE_CHECKING:
    import pyarrow

__all__ = [
    "Columnar",
    "fetch_arrow",
    "fetch_arrow_async",
    "fetch_table",
    "fetch_table_async",
    "stream_arrow",
    "stream_arrow_async",
]

#: Bytes of row messages gathered before the decoder sees them (one call per row is slower).
_GATHER = 1 << 20


@dataclass(frozen=True)
class Columnar:
    """What a :class:`~mp_db.Query` needs to be answered as a table.

    Attributes:
        columns: the columns the table gets, in order.
        reverse: the SQL returns rows in reverse (the as-of shape walks the index backwards).
        positions: where each of ``columns`` sits in a row of the SQL, when the table leaves
            some of the SQL's columns out (:meth:`without`); None when it has them all.
        lean: the same statement selecting ``columns`` less the bookkeeping ones
            (:data:`~mp_schema.models.BOOKKEEPING_COLUMNS`), in the same order
            (:attr:`mp_db._read_sql.ReadSql.lean`); None when there is no such twin.
    """

    columns: tuple[Column, ...]
    reverse: bool = False
    positions: tuple[int, ...] | None = None
    lean: str | None = None

    def without(self, names: Collection[str]) -> Columnar:
        """The same statement's table without the columns named ``names``: the COPY selects
        only the rest, so they never cross the wire."""
        kept = [(at, column) for at, column in enumerate(self.columns) if column.name not in names]
        if len(kept) == len(self.columns):
            return self
        before = self.positions or tuple(range(len(self.columns)))
        return replace(
            self,
            columns=tuple(column for _, column in kept),
            positions=tuple(before[at] for at, _ in kept),
            lean=None,
        )

    def without_bookkeeping(self, sql: str) -> tuple[str, Columnar]:
        """The statement and table of ``sql`` (this table's statement) without the bookkeeping
        columns: its :attr:`lean` twin, which never reads them, where there is one."""
        narrowed = self.without(BOOKKEEPING_COLUMNS)
        if self.lean is None or narrowed is self:
            return sql, narrowed
        return self.lean, replace(narrowed, positions=None)

    @classmethod
    def of(cls, table: TableRef, *, reverse: bool = False) -> Columnar:
        """The columns of a fact table's rows (what the reads of that table select)."""
        return cls(fact_columns(resolve_table(table)), reverse)

    def from_rows(self, rows: Sequence[Sequence[Any]]) -> pyarrow.Table:
        """The table of rows fetched the ordinary way."""
        ordered = list(reversed(rows)) if self.reverse else rows
        if self.positions is not None:
            picked = self.positions
            ordered = [tuple(row[at] for at in picked) for row in ordered]
        return arrow_from_rows(ordered, self.columns)


def fetch_arrow(
    connection: Connection,
    sql: str,
    parameters: Mapping[str, Any],
    columnar: Columnar,
    *,
    planner: PlannerSettings = (),
) -> pyarrow.Table:
    """``sql`` (SQLAlchemy ``:name`` parameters) on a psycopg connection, as a pyarrow Table
    with ``columnar``'s columns (``Columnar.of(table)`` for a fact table's rows), run with the
    ``planner`` settings (name and value pairs) in force for it alone.

    Raises:
        ConfigurationError: pyarrow or numpy is not installed.
    """
    return fetch_table(connection, sql, parameters, columnar, planner, alone=False)


def fetch_table(
    connection: Connection,
    sql: str,
    parameters: Mapping[str, Any],
    columnar: Columnar,
    planner: PlannerSettings,
    *,
    alone: bool,
) -> pyarrow.Table:
    """:func:`fetch_arrow`; ``alone``: the connection is the caller's own, handed back right
    after, with nothing run on it yet: a COPY as its first statement needs no transaction
    of its own (see ``begin`` of :func:`~mp_db._libpq_copy.copy_pieces`)."""
    import_arrow()
    statement = copy_statement(render_sql(sql, parameters), columnar.columns)
    raw, deadline = connection.connection.driver_connection, copy_deadline(connection)
    # Only a plain BEGIN can be left out: an engine's isolation level or read-only setting
    # must still hold for the statement.
    alone = alone and not connection.in_transaction() and plain(raw)
    if not alone and not connection.in_transaction():
        connection.begin()
    with _invalidated_when_silent(connection):
        body = _copy_out(raw, statement, planner, deadline, begin=not alone)
    table = decode_copy(body, columnar.columns, reverse=columnar.reverse)
    if table is None:
        with planner_settings(connection, planner):
            table = columnar.from_rows(connection.execute(text(sql), parameters).all())
    return table


@contextmanager
def _invalidated_when_silent(connection: Connection) -> Iterator[None]:
    """A COPY that got no answer within the deadline leaves a connection presumed lost: it is
    invalidated, never handed back to the pool."""
    try:
        yield
    except CopyTimeoutError:
        connection.invalidate()
        raise


def _copy_out(
    raw: Any, statement: str, planner: PlannerSettings, deadline: float | None, *, begin: bool
) -> bytearray:
    """The whole body of a COPY TO STDOUT on a psycopg connection, as one buffer."""
    pieces = list(
        copy_pieces(
            raw,
            statement,
            sys.maxsize,
            guarded=False,
            planner=planner,
            deadline=deadline,
            begin=begin,
        )
    )
    return pieces[0] if len(pieces) == 1 else bytearray().join(pieces)


async def fetch_arrow_async(
    connection: AsyncConnection, sql: str, parameters: Mapping[str, Any], columnar: Columnar
) -> pyarrow.Table:
    """The asyncpg twin of :func:`fetch_arrow`."""
    return await fetch_table_async(connection, sql, parameters, columnar, alone=False)


async def fetch_table_async(
    connection: AsyncConnection,
    sql: str,
    parameters: Mapping[str, Any],
    columnar: Columnar,
    *,
    alone: bool,
) -> pyarrow.Table:
    """The asyncpg twin of :func:`fetch_table` (planner settings, which need a transaction
    on asyncpg, are the caller's)."""
    import_arrow()
    select = copy_select(render_sql(sql, parameters), columnar.columns)
    driver: Any = None
    if alone and not connection.in_transaction():
        raw = await connection.get_raw_connection()
        adapted: Any = raw.dbapi_connection
        if plain_async(adapted):
            driver = raw.driver_connection
    if driver is None:
        driver = await _driver_in_transaction(connection)
    chunks: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        chunks.append(chunk)

    await driver.copy_from_query(select, output=sink, format="binary")
    table = decode_copy(b"".join(chunks), columnar.columns, reverse=columnar.reverse)
    if table is None:
        result = await connection.execute(text(sql), parameters)
        table = columnar.from_rows(result.all())
    return table


async def _driver_in_transaction(connection: AsyncConnection) -> Any:
    """The asyncpg connection under ``connection``, inside its transaction (begun if not)."""
    if not connection.in_transaction():
        await connection.begin()
    raw = await connection.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    # SQLAlchemy's asyncpg adapter sends BEGIN lazily with its first statement: send it now,
    # so the COPY runs inside the transaction like the row reads on this connection.
    start = getattr(adapted, "_start_transaction", None)
    if start is not None and getattr(adapted, "_transaction", False) is None:
        await start()
    return raw.driver_connection


# --- streamed: batches of at most batch_rows rows, decoded as the COPY arrives ---------------


def stream_arrow(
    connection: Connection,
    sql: str,
    parameters: Mapping[str, Any],
    columnar: Columnar,
    batch_rows: int,
    *,
    planner: PlannerSettings = (),
) -> Generator[pyarrow.Table, None, None]:
    """:func:`fetch_arrow` as Tables of at most ``batch_rows`` rows, in the read's order.

    The COPY runs under a savepoint of the connection's transaction: closing the iterator
    before the end cancels the COPY on the server, waits for it to stop and rolls back to the
    savepoint, so the connection (and a caller's transaction on it) goes on as before.

    Raises:
        ConfigurationError: pyarrow or numpy is not installed.
    """
    import_arrow()
    statement = copy_statement(
        in_order(render_sql(sql, parameters), reverse=columnar.reverse), columnar.columns
    )
    decoder = BatchDecoder(columnar.columns, batch_rows)
    if not connection.in_transaction():
        connection.begin()
    raw, deadline = connection.connection.driver_connection, copy_deadline(connection)
    with _invalidated_when_silent(connection):
        yield from _copy_batches(raw, statement, decoder, planner, deadline)


def _copy_batches(
    raw: Any,
    statement: str,
    decoder: BatchDecoder,
    planner: PlannerSettings,
    deadline: float | None,
) -> Generator[pyarrow.Table, None, None]:
    """The batches of a COPY on a psycopg connection, under a savepoint of its transaction
    (:func:`mp_db._libpq_copy.copy_pieces`)."""
    pieces = copy_pieces(raw, statement, _GATHER, guarded=True, planner=planner, deadline=deadline)
    with closing(pieces):
        for piece in pieces:
            yield from decoder.feed(piece)
    yield from decoder.finish()


async def stream_arrow_async(
    connection: AsyncConnection,
    sql: str,
    parameters: Mapping[str, Any],
    columnar: Columnar,
    batch_rows: int,
) -> AsyncGenerator[pyarrow.Table, None]:
    """The asyncpg twin of :func:`stream_arrow`.

    asyncpg pushes the COPY's buffers into a callback; a queue of one buffer turns that into
    the pull of an iterator (asyncpg reads no more until the callback returns, so the
    consumer's pace holds the server back rather than memory growing). Closing early cancels
    the task, which makes asyncpg cancel the COPY on the server.
    """
    import_arrow()
    select = copy_select(
        in_order(render_sql(sql, parameters), reverse=columnar.reverse), columnar.columns
    )
    decoder = BatchDecoder(columnar.columns, batch_rows)
    driver = await _driver_in_transaction(connection)
    guarded = driver.is_in_transaction()
    if guarded:
        await driver.execute(f"SAVEPOINT {SAVEPOINT}")
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(maxsize=1)

    async def produce() -> None:
        try:
            await driver.copy_from_query(select, output=queue.put, format="binary")
        except Exception as error:  # noqa: BLE001 - handed to the consumer, which raises it
            await queue.put(error)
        else:
            await queue.put(None)

    task = asyncio.ensure_future(produce())
    finished = False
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                finished = True
                raise item
            for batch in decoder.feed(item):
                yield batch
        finished = True
    finally:
        if not finished:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if guarded:
                await driver.execute(
                    f"ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
                )
    await task
    if guarded:
        await driver.execute(f"RELEASE SAVEPOINT {SAVEPOINT}")
    for batch in decoder.finish():
        yield batch
