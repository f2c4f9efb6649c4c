"""Row reads on psycopg get their results in binary.

psycopg asks for text results unless a cursor is made binary, and SQLAlchemy makes every
cursor with ``cursor()``. For a fact table's rows the binary forms are cheaper to load: no
timestamp to parse, no float to convert from its digits. Measured on the peers' data, 7,695
versions of one series took 34 ms as text and 19 ms as binary through psycopg's
``fetchall`` (8 columns, 3 of them timestamps). asyncpg always reads binary.

Only the reads switch, for the span of their statements: a binary result of a type psycopg
has no binary loader for (``regclass``, which TimescaleDB's functions return, among them)
comes back as bytes, so the engines' other users (migrations, ingest, health checks) keep
text. A connection whose owner set a cursor class of their own keeps it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import Connection

__all__ = ["binary_results"]


class _BinaryCursor(psycopg.Cursor[Any]):
    """psycopg's client-side cursor with binary results."""

    def __init__(self, connection: psycopg.Connection[Any], **options: Any) -> None:
        super().__init__(connection, **options)
        self.format = pq.Format.BINARY


class _BinaryServerCursor(psycopg.ServerCursor[Any]):
    """psycopg's server-side (named) cursor with binary results: a streamed read's."""

    def __init__(self, connection: psycopg.Connection[Any], name: str, **options: Any) -> None:
        super().__init__(connection, name, **options)
        self.format = pq.Format.BINARY


@contextmanager
def binary_results(connection: Connection) -> Iterator[None]:
    """Statements of ``connection`` in the block get binary results (psycopg only)."""
    raw: Any = connection.connection.dbapi_connection
    if not isinstance(raw, psycopg.Connection):
        yield
        return
    plain = raw.cursor_factory is psycopg.Cursor
    named = raw.server_cursor_factory is psycopg.ServerCursor
    if plain:
        raw.cursor_factory = _BinaryCursor
    if named:
        raw.server_cursor_factory = _BinaryServerCursor
    try:
        yield
    finally:
        if plain:
            raw.cursor_factory = psycopg.Cursor
        if named:
            raw.server_cursor_factory = psycopg.ServerCursor
