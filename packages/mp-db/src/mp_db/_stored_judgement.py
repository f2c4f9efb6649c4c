"""A chunk judged against what is stored, on the client, by the merge's rules.

Where anything is stored in a chunk's span, the merge statement (:mod:`mp_db._ingest_sql`)
used to judge every row: each went through staging and a window over the whole history of its
observation, which cost an unchanged re-run of 782,700 rows 2.6 of its 3.5 s. Here the chunk's
stored rows (key and values, within each series' span) come back as one binary COPY, and the
chunk is judged against them with numpy, exactly as the merge judges:

* a row whose key is stored with the same values is ``already_stored``; with other values it is
  a conflict (the stored row wins) and is no one's previous version;
* in the history of each observation (its stored versions and the chunk's other rows, by
  knowledge_time), a row whose values equal the version before it is ``unchanged``;
* every other row is stored, its revision the count of value changes before it in that
  history (the first version 0), a ``revision`` when an earlier version precedes it.

What is stored is then COPYed straight into the hypertable with its revision, as a first load
is. Like it, this runs under the ingest's chunk and series locks, taken before the stored rows
are read, so no other mp ingest writes those series in between. A frame's chunk is judged on
its columns; the row path's records (dicts) are turned into the same key and value columns
first (:func:`judge_records`).

A stored value the batch could not carry (a NaN stored as such: a frame's NaN means NULL), or a
record value of a kind it does not compare, makes the judgement give up (``None``): the chunk
then goes through staging and the merge, as every chunk did before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from mp_db._column_batch import ColumnChunk, _take, revision_numbers, text_codes
from mp_db._columnar import fact_columns
from mp_db._columnar_fetch import Columnar
from mp_db._copy_payload import PayloadColumn
from mp_db._tables import FactTable

if TYPE_CHECKING:
    import pyarrow

__all__ = [
    "Judged",
    "arrow_installed",
    "judge_against_stored",
    "judge_columns",
    "judge_records",
    "stored_columnar",
    "stored_rows_sql",
]

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Judged:
    """Every row of the chunk, judged as the merge judges it.

    Attributes:
        rows: the rows to store (positions as the caller numbered them), in key order.
        revision: each stored row's revision: the value changes before it in its
            observation's history, stored versions included (capped as the merge caps it).
        revisions: rows to store that follow an earlier version of their observation.
        already_stored: rows whose key is stored with the same values.
        unchanged: rows repeating the values of the version before them.
        conflicts: rows whose key is stored with other values (the stored row wins).
    """

    rows: Any
    revision: Any
    revisions: int
    already_stored: int
    unchanged: int
    conflicts: int


def arrow_installed() -> bool:
    """Whether pyarrow is there to fetch the stored rows with (a frame's ingest needs numpy
    only; without pyarrow every chunk takes the merge's path)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def stored_rows_sql(fact: FactTable) -> str:
    """The stored key and values within each of a chunk's series' obs_time spans (every stored
    version of every observation the chunk holds, which is what the merge compares with)."""
    columns = ", ".join(f"t.{name}" for name in (*fact.key, *fact.values))
    return (
        f"SELECT {columns} FROM unnest(CAST(:range_ids AS integer[]), "  # noqa: S608 - registry names
        "CAST(:range_lows AS timestamptz[]), CAST(:range_highs AS timestamptz[])) "
        f"AS span(series_id, low, high) JOIN {fact.qualified} t "
        "ON t.series_id = span.series_id AND t.obs_time >= span.low AND t.obs_time <= span.high"
    )


def stored_columnar(fact: FactTable) -> Columnar:
    """The columns of :func:`stored_rows_sql`."""
    by_name = {column.name: column for column in fact_columns(fact)}
    return Columnar(tuple(by_name[name] for name in (*fact.key, *fact.values)))


class _Cells(NamedTuple):
    """One column on both sides in one form: values and a full NULL mask (text as codes)."""

    values: Any
    nulls: Any

    def take(self, rows: Any) -> _Cells:
        return _Cells(self.values[rows], self.nulls[rows])

    def same_as_previous(self) -> Any:
        """For rows 1..n-1: equal to the row before, NULL equal to NULL (IS NOT DISTINCT
        FROM; a float8 NaN cannot occur here, see :func:`_stored`)."""
        values, nulls = self.values, self.nulls
        equal = (values[1:] == values[:-1]) & ~nulls[1:] & ~nulls[:-1]
        return equal | (nulls[1:] & nulls[:-1])


def _batch(column: PayloadColumn, texts: tuple[str, ...]) -> _Cells:
    """A batch column (NaN in float8 and code -1 in text are NULL there)."""
    import numpy

    mask = column.null_mask()
    nulls = numpy.zeros(len(column.values), bool) if mask is None else mask
    values = column.values
    if column.copy_type == "text" and texts != column.texts:
        renumbered = numpy.array([texts.index(text) for text in column.texts] + [-1], numpy.int64)
        values = renumbered[values]
    return _Cells(values, nulls)


def _stored(copy_type: str, column: Any, texts: tuple[str, ...], cells: list[Any]) -> _Cells | None:
    """A stored column (``cells``: a text column's values, already read out for ``texts``);
    None when it holds a NaN (a batch cannot send one: its NaN is NULL)."""
    import numpy

    nulls = column.is_null().to_numpy(zero_copy_only=False)
    if copy_type == "text":
        values = text_codes(texts, cells)
    elif copy_type == "timestamptz":
        values = column.cast("int64").fill_null(0).to_numpy()
    elif copy_type == "float8":
        values = column.fill_null(0.0).to_numpy().astype("float64")
        if numpy.isnan(values).any():
            return None
    else:
        values = column.fill_null(0).to_numpy().astype("int64")
    return _Cells(values, nulls)


def judge_against_stored(chunk: ColumnChunk, stored: pyarrow.Table) -> Judged | None:
    """The rows of ``chunk`` the merge still has to judge, given the stored rows ``stored``
    (:func:`stored_rows_sql` for the chunk's bounds); None when a stored value cannot be
    compared on columns (the chunk then goes to the merge whole)."""
    import numpy

    fact = chunk.batch.fact
    rows = numpy.arange(chunk.start, chunk.end)
    columns = {name: _take(chunk.batch.columns[name], rows) for name in (*fact.key, *fact.values)}
    return judge_columns(fact, columns, rows, stored)


def judge_records(
    fact: FactTable, records: Sequence[tuple[Any, ...]], stored: pyarrow.Table
) -> Judged | None:
    """:func:`judge_against_stored` for the row path's records (``FactTable.staged`` order):
    ``rows`` are positions in ``records``; None also when a record holds a NaN (the merge
    compares it as a value, a column would call it NULL)."""
    import numpy

    columns = {}
    for name in (*fact.key, *fact.values):
        at = fact.staged.index(name)
        try:
            column = _record_column(fact.column_type(name), [record[at] for record in records])
        except (TypeError, ValueError, OverflowError):
            return None  # a value of a kind this does not compare: the merge judges it
        if column is None:
            return None
        columns[name] = column
    return judge_columns(fact, columns, numpy.arange(len(records)), stored)


def _record_column(copy_type: str, cells: list[Any]) -> PayloadColumn | None:
    """One record column as a :class:`PayloadColumn` (its NULLs flagged, never NaN)."""
    import numpy

    nulls = numpy.fromiter((cell is None for cell in cells), bool, len(cells))
    flagged = nulls if nulls.any() else None
    if copy_type == "text":
        texts = tuple(sorted({cell for cell in cells if cell is not None}))
        return PayloadColumn("text", text_codes(texts, cells), flagged, texts)
    if copy_type == "timestamptz":
        micros = (0 if cell is None else (cell - _UNIX_EPOCH) // _MICROSECOND for cell in cells)
        return PayloadColumn(copy_type, numpy.fromiter(micros, numpy.int64, len(cells)), flagged)
    if copy_type == "float8":
        values = numpy.fromiter(
            (0.0 if cell is None else cell for cell in cells), float, len(cells)
        )
        if numpy.isnan(values).any():
            return None
        return PayloadColumn(copy_type, values, flagged)
    values = numpy.fromiter(
        (0 if cell is None else cell for cell in cells), numpy.int64, len(cells)
    )
    return PayloadColumn(copy_type, values, flagged)


def judge_columns(
    fact: FactTable, columns: dict[str, PayloadColumn], rows: Any, stored: pyarrow.Table
) -> Judged | None:
    """The judgement on a chunk's key and value ``columns``; ``rows`` names each row in
    what :attr:`Judged.rows` gives back."""
    import numpy

    size, count = len(rows), stored.num_rows
    from_batch = numpy.r_[numpy.zeros(count, bool), numpy.ones(size, bool)]
    merged: dict[str, _Cells] = {}
    for name in (*fact.key, *fact.values):
        column = columns[name]
        texts, cells = column.texts, []
        if column.copy_type == "text":
            cells = stored.column(name).to_pylist()
            texts = tuple(sorted(set(texts) | {cell for cell in cells if cell is not None}))
        kept = _stored(column.copy_type, stored.column(name), texts, cells)
        if kept is None:
            return None
        sent = _batch(column, texts)
        merged[name] = _Cells(
            numpy.concatenate([kept.values, sent.values]),
            numpy.concatenate([kept.nulls, sent.nulls]),
        )
    # Stored rows first, so that of a stored and a batch row with one key the stored one leads.
    order = numpy.lexsort([from_batch, *(merged[name].values for name in reversed(fact.key))])
    merged = {name: cells.take(order) for name, cells in merged.items()}
    origin = numpy.r_[numpy.full(count, -1), rows][order]
    mine = from_batch[order]

    settled = mine & _same_run(merged, fact.key)  # the row before is the stored one, same key
    same_values = _same_run(merged, fact.values)
    already = settled & same_values
    conflict = settled & ~same_values
    # The merge's history: the stored versions and the batch rows still candidates, by key.
    history = numpy.flatnonzero(~(already | conflict))
    remaining = {name: cells.take(history) for name, cells in merged.items()}
    following = _same_run(remaining, fact.observation)  # not its observation's first version
    changed = ~(following & _same_run(remaining, fact.values))
    revision = revision_numbers(~following, changed)
    candidate = mine[history]
    stored_here = candidate & changed
    return Judged(
        rows=origin[history][stored_here],
        revision=revision[stored_here],
        revisions=int((stored_here & following).sum()),
        already_stored=int(already.sum()),
        unchanged=int((candidate & ~changed).sum()),
        conflicts=int(conflict.sum()),
    )


def _same_run(columns: dict[str, _Cells], names: tuple[str, ...]) -> Any:
    """Per row: whether every column in ``names`` equals the row before (False for row 0)."""
    import numpy

    length = len(next(iter(columns.values())).values)
    same = numpy.zeros(length, bool)
    if length > 1:
        same[1:] = True
        for name in names:
            same[1:] &= columns[name].same_as_previous()
    return same
