"""PostgreSQL's binary COPY format, built from numpy columns in a few array operations.

A binary COPY stream is a signature, then per row a 16-bit field count and per field a 32-bit
length (-1 for NULL) followed by that many bytes, all big-endian, then a 16-bit -1 trailer.
Every row whose NULLs and text lengths fall in the same places has the same byte layout, so the
rows are grouped by layout and each group is one numpy structured array (a packed record per
row) filled a column at a time: no Python object per row or per cell. COPY does not care in
which order rows arrive, so the groups are written one after another.

Columns (:class:`PayloadColumn`) hold, by PostgreSQL type:

* ``int2``, ``int4``, ``int8``: int64 values;
* ``float8``: float64 values, NaN for NULL (a non-finite value never gets here: validation
  refuses it);
* ``timestamptz``: int64 microseconds since 1970-01-01 UTC (written as PostgreSQL's
  microseconds since 2000-01-01);
* ``text``: int64 codes into ``texts``, the column's distinct strings, -1 for NULL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

__all__ = ["PayloadColumn", "binary_copy"]

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
TRAILER = b"\xff\xff"
#: 2000-01-01 UTC, PostgreSQL's epoch, in microseconds since 1970-01-01.
POSTGRES_EPOCH_MICROSECONDS = 946_684_800_000_000
_FIXED = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float8": ">f8", "timestamptz": ">i8"}


class PayloadColumn(NamedTuple):
    """One column of a COPY (see the module docstring for what ``values`` holds).

    Attributes:
        copy_type: the PostgreSQL type: ``int2``, ``int4``, ``int8``, ``float8``,
            ``timestamptz`` or ``text``.
        values: a numpy array, one value per row.
        nulls: a bool array, True where the cell is NULL (``None``: none is, except NaN in a
            ``float8`` column and code -1 in a ``text`` column, which always mean NULL).
        texts: ``text`` only: the distinct strings the codes point at.
    """

    copy_type: str
    values: Any
    nulls: Any = None
    texts: tuple[str, ...] = ()

    def null_mask(self) -> Any:
        """True where the cell is NULL, or ``None`` when no cell is."""
        import numpy

        mask = self.nulls
        if self.copy_type == "float8":
            nan = numpy.isnan(self.values)
            mask = nan if mask is None else mask | nan
        elif self.copy_type == "text":
            negative = self.values < 0
            mask = negative if mask is None else mask | negative
        if mask is None or not mask.any():
            return None
        return mask


def _text_bytes(column: PayloadColumn) -> tuple[Any, Any]:
    """The encoded distinct strings (a numpy ``S`` array) and their lengths."""
    import numpy

    encoded = [text.encode() for text in column.texts] or [b""]
    return numpy.array(encoded, dtype=bytes), numpy.array([len(item) for item in encoded])


def binary_copy(columns: Sequence[PayloadColumn]) -> bytes:
    """The whole binary COPY stream (signature to trailer) of ``columns``' rows."""
    import numpy

    rows = len(columns[0].values) if columns else 0
    if rows == 0:
        return SIGNATURE + TRAILER
    nulls = [column.null_mask() for column in columns]
    texts = {
        position: _text_bytes(column)
        for position, column in enumerate(columns)
        if column.copy_type == "text"
    }
    # A row's layout: where its NULLs are and how long its texts are.
    layout = [mask.astype(numpy.int64) for mask in nulls if mask is not None]
    for position, (_, lengths) in texts.items():
        codes = columns[position].values
        layout.append(numpy.where(codes < 0, -1, lengths[numpy.maximum(codes, 0)]))
    if layout:
        kinds, group_of = numpy.unique(numpy.stack(layout, axis=1), axis=0, return_inverse=True)
        group_of = group_of.reshape(-1)
        groups = [numpy.flatnonzero(group_of == group) for group in range(len(kinds))]
    else:
        groups = [numpy.arange(rows)]
    parts = [SIGNATURE]
    parts.extend(_group(columns, nulls, texts, picked) for picked in groups)
    parts.append(TRAILER)
    return b"".join(parts)


def _group(
    columns: Sequence[PayloadColumn],
    nulls: Sequence[Any],
    texts: dict[int, tuple[Any, Any]],
    picked: Any,
) -> bytes:
    """The rows ``picked`` (all of one layout) as packed records."""
    import numpy

    first = picked[0]
    fields: list[tuple[str, str]] = [("count", ">i2")]
    sizes: list[int] = []
    for position, column in enumerate(columns):
        fields.append((f"length{position}", ">i4"))
        if nulls[position] is not None and nulls[position][first]:
            sizes.append(-1)
        elif column.copy_type == "text":
            _, lengths = texts[position]
            size = int(lengths[column.values[first]])
            sizes.append(size)
            if size:
                fields.append((f"data{position}", f"S{size}"))
        else:
            dtype = numpy.dtype(_FIXED[column.copy_type])
            sizes.append(dtype.itemsize)
            fields.append((f"data{position}", dtype.str))
    records = numpy.empty(len(picked), dtype=numpy.dtype(fields))
    records["count"] = len(columns)
    for position, column in enumerate(columns):
        records[f"length{position}"] = sizes[position]
        if sizes[position] <= 0:
            continue
        values = column.values[picked]
        if column.copy_type == "text":
            # Every string here has exactly this length: the S cast keeps all of its bytes.
            records[f"data{position}"] = texts[position][0][values]
        elif column.copy_type == "timestamptz":
            records[f"data{position}"] = values - POSTGRES_EPOCH_MICROSECONDS
        else:
            records[f"data{position}"] = values
    return records.tobytes()
