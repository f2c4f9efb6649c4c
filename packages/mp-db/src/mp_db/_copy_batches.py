"""A binary COPY decoded as it arrives, in Tables of at most ``batch_rows`` rows (pure).

:class:`BatchDecoder` is fed the COPY's bytes in whatever pieces the driver hands over (one
message per row from libpq, buffers that split rows from asyncpg) and gives back each Table as
soon as it has that many whole rows, so a streamed read holds at most one batch of bytes and
one Table at a time, never the whole body.

Every batch is decoded as the one-shot read decodes its body (:mod:`mp_db._columnar`: one
``numpy.frombuffer`` of fixed-width rows). A batch whose rows are not of the fixed width (text
that is not one byte per character) cannot be re-read as rows the way the one-shot read is,
since earlier batches are already handed over: from that batch on the rows are walked one by
one, each field by its own length word (slow, but exact), so the answer is the same.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mp_db._columnar import (
    COPY_HEADER,
    COPY_TRAILER,
    Column,
    arrow_from_rows,
    decode_rows,
    row_width,
)
from mp_db.exceptions import MpDbError

if TYPE_CHECKING:
    import pyarrow

__all__ = ["BatchDecoder", "CopyStreamError"]

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_SCALARS = {"bool": ">?", "int2": ">h", "int4": ">i", "int8": ">q", "float8": ">d"}


class CopyStreamError(MpDbError):
    """The server's COPY stream ended in the middle of a row or without its trailer."""


class BatchDecoder:
    """Binary COPY bytes in (:meth:`feed`, then :meth:`finish`), Tables out.

    Args:
        columns: the columns of :func:`~mp_db._columnar.copy_statement`.
        batch_rows: the most rows one Table holds.
    """

    def __init__(self, columns: Sequence[Column], batch_rows: int) -> None:
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        self.columns, self.batch_rows = tuple(columns), batch_rows
        self._width = row_width(columns)
        self._buffer = bytearray()
        self._started = False
        self._walking = False
        self._produced = False

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[pyarrow.Table]:
        """The batches completed by ``chunk``."""
        self._buffer += chunk
        if not self._started:
            if len(self._buffer) < len(COPY_HEADER):
                return []
            if self._buffer[: len(COPY_HEADER)] != COPY_HEADER:
                raise CopyStreamError("a binary COPY did not start with its signature")
            del self._buffer[: len(COPY_HEADER)]
            self._started = True
        batches = []
        while (batch := self._next(final=False)) is not None:
            batches.append(batch)
        return batches

    def finish(self) -> list[pyarrow.Table]:
        """The last batches, once the COPY is complete.

        Raises:
            CopyStreamError: the stream did not end with a whole row and the trailer.
        """
        if not self._started or self._buffer[-len(COPY_TRAILER) :] != COPY_TRAILER:
            raise CopyStreamError("a binary COPY ended without its trailer")
        batches = []
        while (batch := self._next(final=True)) is not None:
            batches.append(batch)
        if bytes(self._buffer) != COPY_TRAILER:
            raise CopyStreamError("a binary COPY ended in the middle of a row")
        if not self._produced:
            # An empty answer is still one (empty) batch: it carries the columns and types.
            empty = decode_rows(memoryview(b""), self.columns)
            assert empty is not None  # no rows cannot be of the wrong width
            batches.append(empty)
        return batches

    def _next(self, *, final: bool) -> pyarrow.Table | None:
        batch = self._cut(final=final)
        self._produced = self._produced or batch is not None
        return batch

    def _cut(self, *, final: bool) -> pyarrow.Table | None:
        if self._walking:
            return self._walk(final=final)
        size = self.batch_rows * self._width
        # The trailer always follows the last row: with two bytes to spare, a cut of whole
        # rows never takes it.
        available = len(self._buffer) - len(COPY_TRAILER)
        if available < (size if not final else 1):
            return None
        size = min(size, available)
        table = decode_rows(memoryview(self._buffer[:size]), self.columns)
        if table is None:
            self._walking = True
            return self._walk(final=final)
        del self._buffer[:size]
        return table

    def _walk(self, *, final: bool) -> pyarrow.Table | None:
        """Up to ``batch_rows`` whole rows walked field by field; None when fewer are here
        (and the stream goes on)."""
        rows: list[tuple[Any, ...]] = []
        at = 0
        view = memoryview(self._buffer)
        try:
            while len(rows) < self.batch_rows:
                row, end = _walk_row(view, at, self.columns)
                if row is None:
                    break
                rows.append(row)
                at = end
        finally:
            view.release()
        if not rows or (len(rows) < self.batch_rows and not final):
            return None
        del self._buffer[:at]
        return arrow_from_rows(rows, self.columns)


def _walk_row(
    view: memoryview, at: int, columns: Sequence[Column]
) -> tuple[tuple[Any, ...] | None, int]:
    """The row at ``at`` and where the next begins; None at the trailer or a partial row."""
    if len(view) - at < 2 or view[at : at + 2] == COPY_TRAILER:
        return None, at
    at += 2
    fields: list[bytes | None] = []
    for _ in range(struct.unpack_from(">h", view, at - 2)[0]):
        if len(view) - at < 4:
            return None, at
        (length,) = struct.unpack_from(">i", view, at)
        at += 4
        if length < 0:
            fields.append(None)
            continue
        if len(view) - at < length:
            return None, at
        fields.append(bytes(view[at : at + length]))
        at += length
    return tuple(_values(fields, columns)), at


def _values(fields: list[bytes | None], columns: Sequence[Column]) -> list[Any]:
    values, at = [], 0
    for column in columns:
        raw = fields[at]
        value: Any
        if column.choices:
            flagged = column.nullable and fields[at + 1] == b"\x01"
            value = None if raw is None or flagged else _choice(column, raw)
            at += 1
        elif column.kind == "text":
            octets = struct.unpack(">h", fields[at + 1] or b"\0\0")[0]
            value = None if raw is None else raw[:octets].decode()
            at += 2
        else:
            value = None if raw is None else _scalar(column.kind, raw)
            at += 1
        if column.nullable:
            if fields[at] == b"\x01":
                value = None
            at += 1
        values.append(value)
    return values


def _choice(column: Column, raw: bytes) -> str:
    """The value a coded column's position names (a NULL is flagged, not asked here)."""
    code: int = struct.unpack(">h", raw)[0]
    if 0 < code <= len(column.choices):
        return column.choices[code - 1]
    raise CopyStreamError(f"{column.name}: a value outside {', '.join(column.choices)}")


def _scalar(kind: str, raw: bytes) -> Any:
    if kind == "timestamptz":
        return _EPOCH + timedelta(microseconds=struct.unpack(">q", raw)[0])
    return struct.unpack(_SCALARS[kind], raw)[0]
