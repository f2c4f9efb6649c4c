"""Columnar reads, the I/O part: run a read's SQL as a binary COPY on the connection's own
driver (psycopg ``cursor.copy``, asyncpg ``copy_from_query``) and decode it
(:mod:`mp_db._columnar`).

The COPY runs on the raw driver connection inside the SQLAlchemy connection's transaction
(begun first if it was not), so a columnar read sees the same snapshot as a row read on that
connection (a REPEATABLE READ transaction across several reads stays one snapshot).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    render_sql,
)
from mp_db._tables import TableRef, resolve_table

if TYPE_CHECKING:
    import pyarrow

__all__ = ["Columnar", "fetch_arrow", "fetch_arrow_async"]


@dataclass(frozen=True)
class Columnar:
    """What a :class:`~mp_db.Query` needs to be answered as a table.

    Attributes:
        columns: the columns its SQL selects, in order.
        reverse: the SQL returns rows in reverse (the as-of shape walks the index backwards).
    """

    columns: tuple[Column, ...]
    reverse: bool = False

    @classmethod
    def of(cls, table: TableRef, *, reverse: bool = False) -> Columnar:
        """The columns of a fact table's rows (what the reads of that table select)."""
        return cls(fact_columns(resolve_table(table)), reverse)

    def from_rows(self, rows: Sequence[Sequence[Any]]) -> pyarrow.Table:
        """The table of rows fetched the ordinary way."""
        ordered = list(reversed(rows)) if self.reverse else rows
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


def _copy_out(raw: Any, statement: str) -> bytes:
    """The body of a COPY TO STDOUT on a psycopg connection, read through libpq directly.

    psycopg's ``Copy`` hands out one message per row through its generator machinery; a tight
    ``get_copy_data`` loop over the same libpq connection measured about 25% faster on 153,900
    rows. When no transaction is open, the BEGIN psycopg itself would send first (with the
    connection's isolation level, read-only and deferrable settings) goes in the same message,
    so the COPY runs in the transaction a row read would, without a round trip of its own.
    """
    from psycopg import OperationalError, errors, pq

    command = statement.encode()
    if not raw.autocommit and raw.info.transaction_status == pq.TransactionStatus.IDLE:
        command = _begin(raw) + b"; " + command
    pgconn = raw.pgconn
    pgconn.send_query(command)
    chunks: list[memoryview] = []
    failed = None
    while (result := pgconn.get_result()) is not None:
        if result.status == pq.ExecStatus.COPY_OUT:
            size, data = pgconn.get_copy_data(0)
            while size > 0:
                chunks.append(data)
                size, data = pgconn.get_copy_data(0)
            if size == -2:
                raise OperationalError(pgconn.get_error_message())
        elif result.status != pq.ExecStatus.COMMAND_OK:
            failed = result
    if failed is not None:
        raise errors.error_from_result(failed, encoding=raw.info.encoding)
    return b"".join(chunks)


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
    if not connection.in_transaction():
        await connection.begin()
    raw = await connection.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    driver: Any = raw.driver_connection
    # SQLAlchemy's asyncpg adapter sends BEGIN lazily with its first statement: send it now,
    # so the COPY runs inside the transaction like the row reads on this connection.
    start = getattr(adapted, "_start_transaction", None)
    if start is not None and getattr(adapted, "_transaction", False) is None:
        await start()
    chunks: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        chunks.append(chunk)

    await driver.copy_from_query(select, output=sink, format="binary")
    table = decode_copy(b"".join(chunks), columnar.columns, reverse=columnar.reverse)
    if table is None:
        result = await connection.execute(text(sql), parameters)
        table = columnar.from_rows(result.all())
    return table
