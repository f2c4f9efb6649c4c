"""Columnar reads, the I/O part: run a read's SQL as a binary COPY on the connection's own
driver (psycopg ``cursor.copy``, asyncpg ``copy_from_query``) and decode it
(:mod:`mp_db._columnar`).

The COPY runs on the raw driver connection inside the SQLAlchemy connection's transaction
(begun first if it was not), so a columnar read sees the same snapshot as a row read on that
connection (a REPEATABLE READ transaction across several reads stays one snapshot).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Collection, Generator, Mapping, Sequence
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
from mp_db._tables import TableRef, resolve_table

if TYPE_CHECKING:
    import pyarrow

__all__ = [
    "Columnar",
    "fetch_arrow",
    "fetch_arrow_async",
    "stream_arrow",
    "stream_arrow_async",
]

#: What a streamed read's COPY runs under, so that closing it early can undo it alone.
_SAVEPOINT = "mp_frame_stream"
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
    """

    columns: tuple[Column, ...]
    reverse: bool = False
    positions: tuple[int, ...] | None = None

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
        )

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
    connection: Connection, sql: str, parameters: Mapping[str, Any], columnar: Columnar
) -> pyarrow.Table:
    """``sql`` (SQLAlchemy ``:name`` parameters) on a psycopg connection, as a pyarrow Table
    with ``columnar``'s columns (``Columnar.of(table)`` for a fact table's rows).

    Raises:
        ConfigurationError: pyarrow or numpy is not installed.
    """
    import_arrow()
    statement = copy_statement(render_sql(sql, parameters), columnar.columns)
    if not connection.in_transaction():
        connection.begin()
    body = _copy_out(connection.connection.driver_connection, statement)
    table = decode_copy(body, columnar.columns, reverse=columnar.reverse)
    if table is None:
        table = columnar.from_rows(connection.execute(text(sql), parameters).all())
    return table


def _copy_out(raw: Any, statement: str) -> bytearray:
    """The body of a COPY TO STDOUT on a psycopg connection, through psycopg's own ``Copy``.

    Each message is copied into one buffer as it arrives: holding the messages themselves (one
    libpq allocation per row) until a join measured about 60% slower on 153,900 rows. A tight
    loop of blocking libpq calls was used here before: it measured no faster (212 against
    217 ms) and hung in the fault suite's ambiguous-commit scenario (a TCP relay in front of
    the server, the retry's COPY never reaching it) where psycopg's own ``Copy`` does not.
    Why it hung was not found; the streamed read (:func:`_copy_batches`) still uses that loop.
    """
    body = bytearray()
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for data in copy:
            body += data
    return body


def _begin(raw: Any) -> bytes:
    parts = ["BEGIN"]
    if raw.isolation_level is not None:
        parts.append("ISOLATION LEVEL " + raw.isolation_level.name.replace("_", " "))
    if raw.read_only is not None:
        parts.append("READ ONLY" if raw.read_only else "READ WRITE")
    if raw.deferrable is not None:
        parts.append("DEFERRABLE" if raw.deferrable else "NOT DEFERRABLE")
    return " ".join(parts).encode()


async def fetch_arrow_async(
    connection: AsyncConnection, sql: str, parameters: Mapping[str, Any], columnar: Columnar
) -> pyarrow.Table:
    """The asyncpg twin of :func:`fetch_arrow`."""
    import_arrow()
    select = copy_select(render_sql(sql, parameters), columnar.columns)
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
    yield from _copy_batches(connection.connection.driver_connection, statement, decoder)


def _copy_batches(
    raw: Any, statement: str, decoder: BatchDecoder
) -> Generator[pyarrow.Table, None, None]:
    """The batches of a COPY on a psycopg connection (libpq directly, as :func:`_copy_out`)."""
    from psycopg import OperationalError, errors, pq

    # Outside a transaction (autocommit) the COPY is a transaction of its own, and a cancel
    # leaves nothing to undo.
    guarded = not raw.autocommit
    command = (f"SAVEPOINT {_SAVEPOINT}; " if guarded else "").encode() + statement.encode()
    if guarded and raw.info.transaction_status == pq.TransactionStatus.IDLE:
        command = _begin(raw) + b"; " + command
    pgconn = raw.pgconn
    pgconn.send_query(command)
    failed, copying, settled = None, False, False
    try:
        while (result := pgconn.get_result()) is not None:
            if result.status == pq.ExecStatus.COPY_OUT:
                copying = True
                # Copied into one buffer as they come, for the reason _copy_out says.
                gathered = bytearray()
                size, data = pgconn.get_copy_data(0)
                while size > 0:
                    gathered += data
                    if len(gathered) >= _GATHER:
                        yield from decoder.feed(gathered)
                        gathered = bytearray()
                    size, data = pgconn.get_copy_data(0)
                if size == -2:
                    settled = True  # the connection is gone: nothing is left to undo
                    raise OperationalError(pgconn.get_error_message())
                copying = False
                yield from decoder.feed(gathered)
            elif result.status != pq.ExecStatus.COMMAND_OK:
                failed = result
        settled = True
    finally:
        if not settled:
            _abandon(raw, guarded=guarded, copying=copying)
    if failed is not None:
        raise errors.error_from_result(failed, encoding=raw.info.encoding)
    if guarded:
        _savepoint_done(raw, f"RELEASE SAVEPOINT {_SAVEPOINT}")
    yield from decoder.finish()


def _abandon(raw: Any, *, guarded: bool, copying: bool) -> None:
    """Leave a COPY before its end (the iterator was closed, or its bytes were refused): a COPY
    still sending is cancelled on the server and its remaining messages read off; then its
    results (its error) are read and the savepoint rolled back (harmless if the COPY had
    finished before the cancel reached it)."""
    pgconn = raw.pgconn
    if copying:
        raw.cancel_safe()
        while pgconn.get_copy_data(0)[0] >= 0:
            pass
    while pgconn.get_result() is not None:
        pass
    if guarded:
        _savepoint_done(raw, f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        _savepoint_done(raw, f"RELEASE SAVEPOINT {_SAVEPOINT}")


def _savepoint_done(raw: Any, command: str) -> None:
    from psycopg import errors, pq

    result = raw.pgconn.exec_(command.encode())
    if result.status != pq.ExecStatus.COMMAND_OK:
        raise errors.error_from_result(result, encoding=raw.info.encoding)


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
        await driver.execute(f"SAVEPOINT {_SAVEPOINT}")
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
                    f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}; RELEASE SAVEPOINT {_SAVEPOINT}"
                )
    await task
    if guarded:
        await driver.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
    for batch in decoder.finish():
        yield batch
