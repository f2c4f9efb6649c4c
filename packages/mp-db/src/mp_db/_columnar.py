"""Columnar reads, the pure part: a read's SQL as a binary COPY of fixed-width rows, and the
COPY bytes decoded with numpy into a pyarrow Table (shared by psycopg and asyncpg).

PostgreSQL's binary COPY prefixes every field with its length, so rows of varying width
can only be walked one by one. The statement here makes every row the same width instead:
each NULL-able column is sent as ``coalesce(column, <zero>)`` plus an ``IS NULL`` flag, and
each text column as ``rpad(column, <declared length>)`` plus its ``octet_length``, or, when
the registry limits it to a list (``OneOf``: ``knowledge_time_source``), as its position in
that list (two bytes instead of 22, decoded by one ``take`` from the list). The whole
body is then one ``numpy.frombuffer`` with a structured dtype, and every column one strided
copy. A row whose text is not one byte per character (non-ASCII) breaks the fixed width; the
decoder checks every length word of every row (by induction, the first row that deviates
shows it at its own, still correctly placed, length word), and the caller falls back to the
row path for that read, so an answer is never decoded from a misplaced offset.

COPY takes no bound parameters, so they are rendered as literals here (integers, lists of
integers, timezone-aware datetimes: the only kinds mp's reads bind); anything else is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from mp_db._rows import ROW_TYPES, row_fields
from mp_db._tables import FactTable
from mp_db.exceptions import ConfigurationError
from mp_schema.models import OneOf

if TYPE_CHECKING:
    import numpy
    import pyarrow

__all__ = [
    "COPY_HEADER",
    "COPY_TRAILER",
    "Column",
    "arrow_from_rows",
    "copy_select",
    "copy_statement",
    "decode_copy",
    "decode_rows",
    "fact_columns",
    "import_arrow",
    "in_order",
    "render_sql",
    "row_width",
]

#: Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
_PG_EPOCH_US = 946_684_800_000_000
#: Binary COPY's signature, flags and header-extension length.
_HEADER = b"PGCOPY\n\xff\r\n\x00"
_HEADER_SIZE = len(_HEADER) + 8
_TRAILER = b"\xff\xff"
#: The whole header a binary COPY of :func:`copy_statement` starts with (no extension).
COPY_HEADER = _HEADER + b"\x00" * 8
#: What ends it.
COPY_TRAILER = _TRAILER

#: Wire width and numpy big-endian type of each fixed-width kind.
_WIRE = {
    "bool": (1, ">u1"),
    "int2": (2, ">i2"),
    "int4": (4, ">i4"),
    "int8": (8, ">i8"),
    "float8": (8, ">f8"),
    "timestamptz": (8, ">i8"),
}
#: What a NULL is sent as, with its flag beside it.
_ZERO = {
    # coalesce(smallint, 0) is an integer (4 bytes), which no int2 row layout fits.
    "int2": "CAST(0 AS smallint)",
    "int4": "0",
    "int8": "0",
    "float8": "0",
    "timestamptz": "'epoch'",
    "bool": "false",
}


@dataclass(frozen=True)
class Column:
    """One column a columnar read returns.

    Attributes:
        name: its name in the result.
        kind: ``int2``, ``int4``, ``int8``, ``float8``, ``timestamptz`` or ``text``.
        nullable: whether it can be NULL (sent with an ``IS NULL`` flag).
        width: a text column's declared length in characters.
        choices: the only values a text column can hold (its registry rule is ``OneOf``):
            each is then sent as its 1-based position in this list, two bytes instead of the
            padded text and its length (0 for a value outside the list, which makes the
            decoder refuse the row rather than guess).
    """

    name: str
    kind: str
    nullable: bool = False
    width: int = 0
    choices: tuple[str, ...] = ()


def _kind(fact: FactTable, column: str) -> str:
    name = type(fact.table.columns[column].type).__name__.upper()
    if name == "BIGINTEGER":
        return "int8"
    return fact.column_type(column)


@cache
def fact_columns(fact: FactTable, *, nullable: bool = False) -> tuple[Column, ...]:
    """The columns of ``fact``'s rows, in the row class's field order (what reads select).
    With ``nullable`` every column may be NULL (a LEFT JOIN that found nothing). Made once
    per table: built per read, they were 55 us of a one-year read's 1.2 ms."""
    result = []
    for name in row_fields(ROW_TYPES[fact.name]):
        kind = _kind(fact, name)
        width = (fact.max_length(name) or 0) if kind == "text" else 0
        if kind == "text" and not width:
            raise ConfigurationError(f"{fact.name}.{name}: columnar reads need a VARCHAR(n)")
        optional = nullable or bool(fact.table.columns[name].nullable)
        rule = fact.spec.column(name).rule(OneOf)
        choices = tuple(member.value for member in rule.enum) if isinstance(rule, OneOf) else ()
        result.append(Column(name, kind, optional, width, choices))
    return tuple(result)


_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def _literal(name: str, value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConfigurationError(f"parameter {name!r}: a naive datetime cannot be rendered")
        return f"'{value.isoformat()}'"
    if isinstance(value, (list, tuple)):
        parts = [_literal(name, item).strip("'") for item in value]
        quoted = ",".join(f'"{part}"' if isinstance(value[0], datetime) else part for part in parts)
        return "'{" + quoted + "}'"
    raise ConfigurationError(f"parameter {name!r}: {type(value).__name__} cannot be rendered")


def render_sql(sql: str, parameters: Mapping[str, Any]) -> str:
    """``sql`` with its ``:name`` parameters replaced by literals (COPY binds none).

    Raises:
        ConfigurationError: a parameter is missing or of a kind reads never bind.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in parameters:
            raise ConfigurationError(f"parameter {name!r} is not bound")
        return _literal(name, parameters[name])

    return _PARAMETER.sub(replace, sql)


def _expressions(column: Column) -> list[str]:
    quoted = f'r."{column.name}"'
    if column.choices:
        listed = ", ".join("'" + choice.replace("'", "''") + "'" for choice in column.choices)
        position = f"array_position(ARRAY[{listed}]::text[], {quoted}::text)"
        # NULL (the column's or an unlisted value's) goes as 0; the flag tells them apart.
        parts = [f"coalesce({position}, 0)::int2"]
    elif column.kind == "text":
        value = f"coalesce({quoted}, '')" if column.nullable else quoted
        parts = [f"rpad({value}, {column.width})", f"octet_length({value})::int2"]
    elif column.nullable:
        parts = [f"coalesce({quoted}, {_ZERO[column.kind]})"]
    else:
        parts = [quoted]
    if column.nullable:
        parts.append(f"({quoted} IS NULL)")
    return parts


def copy_select(sql: str, columns: Sequence[Column]) -> str:
    """The SELECT a binary COPY of ``sql`` (parameters already rendered) sends, every row of
    one width (asyncpg's ``copy_from_query`` wraps it itself)."""
    selected = ", ".join(part for column in columns for part in _expressions(column))
    return f"SELECT {selected} FROM ({sql}) r"  # noqa: S608 - mp's own statement, literals rendered


def copy_statement(sql: str, columns: Sequence[Column]) -> str:
    """The binary COPY of :func:`copy_select`."""
    return f"COPY ({copy_select(sql, columns)}) TO STDOUT (FORMAT BINARY)"


def in_order(sql: str, *, reverse: bool) -> str:
    """``sql`` whose rows arrive in the read's documented order, for a streamed read.

    A one-shot read reverses a reversed statement's rows on the client (the as-of shape walks
    the index backwards, :mod:`mp_db._read_sql`); a stream cannot, as the first rows it hands
    over would be the last. The server numbers the rows as the statement returns them and
    sends them back in reverse (one sort on a bigint, spilled to disk past ``work_mem``).
    """
    if not reverse:
        return sql
    return (
        "SELECT * FROM (SELECT s.*, row_number() OVER () AS mp_position "  # noqa: S608
        f"FROM ({sql}) s) n ORDER BY mp_position DESC"
    )


def import_arrow() -> Any:
    """pyarrow, or an install hint.

    Raises:
        ConfigurationError: pyarrow is not installed (``pip install 'mp-db[arrow]'``).
    """
    try:
        import pyarrow
    except ImportError as error:
        raise ConfigurationError(
            "Arrow output needs pyarrow and numpy: pip install 'mp-db[arrow]'"
        ) from error
    return pyarrow


def _wire_fields(columns: Sequence[Column]) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """The structured dtype of one row and the expected value of each length word."""
    layout: list[tuple[str, str]] = [("count", ">i2")]
    lengths: dict[str, int] = {}

    def add(name: str, width: int, kind: str) -> None:
        layout.append((f"{name}.length", ">i4"))
        layout.append((name, kind))
        lengths[f"{name}.length"] = width

    for index, column in enumerate(columns):
        if column.choices:
            add(f"{index}", 2, ">i2")
        elif column.kind == "text":
            add(f"{index}", column.width, f"S{column.width}")
            add(f"{index}.octets", 2, ">i2")
        else:
            add(f"{index}", *_WIRE[column.kind])
        if column.nullable:
            add(f"{index}.null", 1, ">u1")
    return layout, lengths


def decode_copy(
    body: bytes | bytearray | memoryview, columns: Sequence[Column], *, reverse: bool = False
) -> pyarrow.Table | None:
    """The pyarrow Table a binary COPY of :func:`copy_statement` sent, rows reversed with
    ``reverse``; None when a row is not of the fixed width (the caller reads rows instead).

    Raises:
        ConfigurationError: numpy or pyarrow is not installed.
    """
    view = memoryview(body)
    if view[: len(_HEADER)] != _HEADER or view[-2:] != _TRAILER:
        return None
    return decode_rows(view[_HEADER_SIZE : len(view) - len(_TRAILER)], columns, reverse=reverse)


def row_width(columns: Sequence[Column]) -> int:
    """The bytes one row of :func:`copy_statement` takes on the wire."""
    import numpy

    return int(numpy.dtype(_wire_fields(columns)[0]).itemsize)


def decode_rows(
    view: memoryview, columns: Sequence[Column], *, reverse: bool = False
) -> pyarrow.Table | None:
    """The Table of whole fixed-width rows (no header, no trailer); None when ``view`` is not
    a whole number of rows of the fixed width."""
    arrow = import_arrow()
    import numpy

    layout, lengths = _wire_fields(columns)
    dtype = numpy.dtype(layout)
    if len(view) % dtype.itemsize:
        return None
    records = numpy.frombuffer(view, dtype, len(view) // dtype.itemsize)
    wire_count = len(layout) // 2
    if not (records["count"] == wire_count).all():
        return None
    for name, width in lengths.items():
        if not (records[name] == width).all():
            return None
    if reverse:
        records = records[::-1]
    arrays = [
        _arrow_column(arrow, numpy, records, index, column) for index, column in enumerate(columns)
    ]
    if any(array is None for array in arrays):
        return None
    table: pyarrow.Table = arrow.Table.from_arrays(arrays, names=[c.name for c in columns])
    return table


def _arrow_column(
    arrow: Any, numpy: Any, records: numpy.ndarray, index: int, column: Column
) -> Any:
    mask = records[f"{index}.null"].astype(bool) if column.nullable else None
    if column.choices:
        return _chosen(arrow, numpy, records[f"{index}"], column.choices, mask)
    if column.kind == "text":
        return _text(arrow, numpy, records[f"{index}"], records[f"{index}.octets"], mask)
    values = records[f"{index}"]
    if column.kind == "timestamptz":
        micros = values.astype("<i8")  # a contiguous copy of the field, in native order
        micros += _PG_EPOCH_US
        stamp = arrow.timestamp("us", tz="UTC")
        if mask is None:
            # Straight from the buffer: pyarrow's conversion of datetime64 to a timezone-aware
            # type took 18 us a column of 260 rows, this 3.
            return arrow.Array.from_buffers(stamp, len(micros), [None, arrow.py_buffer(micros)])
        return arrow.array(micros.view("datetime64[us]"), stamp, mask=mask)
    return arrow.array(values.astype(values.dtype.newbyteorder("=")), mask=mask)


def _text(arrow: Any, numpy: Any, padded: Any, octets: Any, mask: Any) -> Any:
    """A string array built from its buffers: each value's first ``octets`` bytes, in row
    order, behind running offsets (no Python string per row). None when a byte is not
    ASCII: one byte per character is what the fixed width assumed (a client encoding other
    than UTF-8 could pass the width check with non-ASCII bytes)."""
    count, width = len(padded), padded.dtype.itemsize
    lengths = octets.astype("<i4")
    grid = numpy.ascontiguousarray(padded).view(numpy.uint8).reshape(count, width)
    data = grid[numpy.arange(width) < lengths[:, None]]
    if (data >= 0x80).any():
        return None
    offsets = numpy.zeros(count + 1, dtype="<i4")
    numpy.cumsum(lengths, out=offsets[1:])
    validity = None if mask is None else arrow.array(~mask).buffers()[1]
    buffers = [validity, arrow.py_buffer(offsets), arrow.py_buffer(data)]
    return arrow.Array.from_buffers(arrow.string(), count, buffers, null_count=-1)


def _chosen(arrow: Any, numpy: Any, codes: Any, choices: Sequence[str], mask: Any) -> Any:
    """The strings a coded column's positions name; None when a value that is not NULL was
    outside the list (code 0), so the caller reads the answer as rows."""
    positions = codes.astype("<i4") - 1
    present = numpy.ones(len(positions), bool) if mask is None else ~mask
    if (positions[present] < 0).any():
        return None
    positions[~present] = 0
    picked = arrow.array(positions, mask=None if mask is None else mask)
    return arrow.array(list(choices), arrow.string()).take(picked)


_ARROW_TYPES = {
    "int2": "int16",
    "int4": "int32",
    "int8": "int64",
    "float8": "float64",
    "text": "string",
}


def arrow_type(arrow: Any, column: Column) -> Any:
    """The pyarrow type of ``column``."""
    if column.kind == "timestamptz":
        return arrow.timestamp("us", tz="UTC")
    return getattr(arrow, _ARROW_TYPES[column.kind])()


def arrow_from_rows(rows: Sequence[Sequence[Any]], columns: Sequence[Column]) -> pyarrow.Table:
    """The same Table from fetched rows (the fallback when a row is not of fixed width)."""
    arrow = import_arrow()
    arrays = [
        arrow.array([row[index] for row in rows], arrow_type(arrow, column))
        for index, column in enumerate(columns)
    ]
    table: pyarrow.Table = arrow.Table.from_arrays(arrays, names=[c.name for c in columns])
    return table


def series_of(table: pyarrow.Table) -> list[int]:
    """The series ids of a table's rows."""
    ids: list[int] = table.column("series_id").to_numpy().tolist()
    return ids
