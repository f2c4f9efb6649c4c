"""A validated batch held as numpy columns: sorted, deduplicated, chunked and judged in bulk.

A frame whose columns pass the whole-column checks (:mod:`mp_db._column_checks`) never becomes
rows: its staged columns are sorted by key with one ``lexsort``, exact duplicates are dropped
by comparing each row with the one before it, and each chunk's COPY payload is built from the
columns (:mod:`mp_db._copy_payload`). The judgement of a fresh chunk (first version of each
observation, every value change, restatements dropped unless kept) is the one
``mp_db._ingest._versions_in_batch`` makes on row tuples, done on whole columns; the row path
stays the reference for what each count means, and the tests compare the two on every table.

Anything this module cannot settle without rows (two rows with one key and different values)
makes it answer ``None``: ingest then runs the row validator, which names each problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mp_db._copy_payload import PayloadColumn, binary_copy
from mp_db.exceptions import RowProblem

if TYPE_CHECKING:
    from mp_db._tables import FactTable

__all__ = [
    "ColumnBatch",
    "ColumnChunk",
    "column_batch",
    "instant",
    "payload_column",
    "revision_numbers",
    "text_codes",
]

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Revisions are smallint: the merge statement caps them the same way.
_MAX_REVISION = 32767


def instant(microseconds: Any) -> datetime:
    """An aware UTC datetime from microseconds since 1970-01-01."""
    return _UNIX_EPOCH + timedelta(microseconds=int(microseconds))


def text_codes(texts: Sequence[str], cells: list[Any]) -> Any:
    """Each cell's position in ``texts`` (-1 for NULL or a text not in it), by hashing: a text
    column repeats a few values (a source, a status)."""
    import numpy

    code = {text: position for position, text in enumerate(texts)}
    return numpy.fromiter((code.get(cell, -1) for cell in cells), numpy.int64, len(cells))


def revision_numbers(first: Any, changed: Any) -> Any:
    """Per version in key order: the value changes before it since its observation's first
    version (``first``), capped as the merge statement caps them; ``changed`` marks a first
    version or one whose values differ from the version before."""
    import numpy

    counted = numpy.cumsum(changed)
    starts = numpy.maximum.accumulate(numpy.where(first, numpy.arange(len(first)), 0))
    return numpy.minimum(counted - counted[starts], _MAX_REVISION)


def payload_column(copy_type: str, array: Any) -> PayloadColumn:
    """A checked column (see :func:`mp_db._column_checks.checked_columns`) in COPY form."""
    import numpy

    if copy_type == "text":
        first = array[0] if len(array) else None
        if isinstance(first, str) and bool((array == first).all()):
            # One value throughout (a default source): one comparison per cell in C.
            return PayloadColumn("text", numpy.zeros(len(array), numpy.int64), None, (str(first),))
        cells = array.tolist()
        texts = sorted(set(cells) - {None})
        return PayloadColumn("text", text_codes(texts, cells), None, tuple(texts))
    if copy_type == "timestamptz":
        instants = array.astype("datetime64[us]")
        missing = numpy.isnat(instants)
        return PayloadColumn(copy_type, instants.view("int64"), missing if missing.any() else None)
    if copy_type == "float8":
        return PayloadColumn(copy_type, array.astype("float64"))
    return PayloadColumn(copy_type, array.astype("int64"))


def _same_as_previous(column: PayloadColumn) -> Any:
    """For rows 1..n-1: equal to the row before (NULL equal to NULL, as IS NOT DISTINCT FROM)."""
    import numpy

    values = column.values
    same = values[1:] == values[:-1]
    if column.copy_type == "float8":
        same |= numpy.isnan(values[1:]) & numpy.isnan(values[:-1])
    if column.nulls is not None:
        nulls = column.nulls
        same = (same & ~nulls[1:] & ~nulls[:-1]) | (nulls[1:] & nulls[:-1])
    return same


def _take(column: PayloadColumn, rows: Any) -> PayloadColumn:
    nulls = None if column.nulls is None else column.nulls[rows]
    return PayloadColumn(column.copy_type, column.values[rows], nulls, column.texts)


@dataclass(frozen=True)
class ColumnChunk:
    """Rows ``start:end`` of a :class:`ColumnBatch`, never cutting an observation apart."""

    batch: ColumnBatch
    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start

    def bounds(self) -> dict[str, Any]:
        """Each series' obs_time span in the chunk, as the ingest statements take them."""
        import numpy

        rows = slice(self.start, self.end)
        series = self.batch.columns["series_id"].values[rows]
        obs = self.batch.columns["obs_time"].values[rows]
        starts = numpy.flatnonzero(numpy.r_[True, series[1:] != series[:-1]])
        ends = numpy.r_[starts[1:], len(series)] - 1
        ids = [int(value) for value in series[starts]]
        lows = [instant(value) for value in obs[starts]]
        highs = [instant(value) for value in obs[ends]]  # sorted by series, then obs_time
        return {
            "series_ids": ids,
            "low": min(lows),
            "high": max(highs),
            "range_ids": ids,
            "range_lows": lows,
            "range_highs": highs,
        }

    def staged(self) -> bytes:
        """The chunk's staged columns as one binary COPY."""
        rows = slice(self.start, self.end)
        return binary_copy([_take(column, rows) for column in self.batch.columns.values()])

    def versions_of(self, rows: Any, revision: Any, ingest_id: int) -> bytes:
        """The COPY of some of the batch's rows (positions in the batch) to store, with their
        revisions and ``ingest_id``."""
        import numpy

        columns = [_take(column, rows) for column in self.batch.columns.values()]
        columns.append(PayloadColumn("int2", numpy.asarray(revision, dtype=numpy.int64)))
        columns.append(PayloadColumn("int8", numpy.full(len(rows), ingest_id, dtype=numpy.int64)))
        return binary_copy(columns)

    def judged(self, keep_republications: bool) -> tuple[Any, Any, tuple[int, int, int]]:
        """For a chunk with nothing stored: the batch rows to store, their revisions, and
        (inserted, revisions, unchanged) as the row path counts them."""
        import numpy

        batch, rows = self.batch, slice(self.start, self.end)
        size = len(self)
        first = batch.new_observation[rows].copy()
        first[0] = True
        same = numpy.ones(size - 1, dtype=bool)
        for name in batch.fact.values:
            same &= _same_as_previous(_take(batch.columns[name], rows))
        changed = first.copy()
        changed[1:] |= ~same
        revision = revision_numbers(first, changed)
        kept = numpy.ones(size, dtype=bool) if keep_republications else changed
        picked = numpy.flatnonzero(kept) + self.start
        counts = (len(picked), int((changed & ~first).sum()), size - int(changed.sum()))
        return picked, revision[kept], counts

    def versions(self, ingest_id: int, keep_republications: bool) -> tuple[bytes, tuple[int, ...]]:
        """The COPY of the rows to store when nothing is stored for the chunk (staged columns,
        revision, ingest_id), and the counts of :meth:`judged`."""
        import numpy

        picked, revision, counts = self.judged(keep_republications)
        columns = [_take(column, picked) for column in self.batch.columns.values()]
        columns.append(PayloadColumn("int2", revision))
        columns.append(PayloadColumn("int8", numpy.full(len(picked), ingest_id, dtype=numpy.int64)))
        return binary_copy(columns), counts


@dataclass(frozen=True)
class ColumnBatch:
    """A validated batch as staged columns (``FactTable.staged`` order), sorted by key.

    Attributes:
        fact: the table.
        columns: the staged columns.
        first_index: per row, the position in the caller's input of the row it came from.
        duplicates_dropped: exact copies of another row, removed.
        new_observation: per row, True where an observation (series, obs_time, entities)
            starts.
    """

    fact: FactTable
    columns: dict[str, PayloadColumn]
    first_index: Any
    duplicates_dropped: int
    new_observation: Any

    def __len__(self) -> int:
        return len(self.first_index)

    @cached_property
    def series_ids(self) -> list[int]:
        """The distinct series, sorted (asked for several times per ingest)."""
        import numpy

        return [int(value) for value in numpy.unique(self.columns["series_id"].values)]

    @property
    def instrument_ids(self) -> list[int]:
        """The distinct non-zero instruments named by columns without a foreign key."""
        import numpy

        found: set[int] = set()
        for _, name in self.fact.instrument_columns:
            found |= {int(value) for value in numpy.unique(self.columns[name].values)}
        return sorted(found - {0})

    def time_range(self) -> tuple[datetime, datetime]:
        """The earliest and latest obs_time."""
        obs = self.columns["obs_time"].values
        return instant(obs.min()), instant(obs.max())

    def reference_problems(self, kinds: dict[int, str], instruments: set[int]) -> list[RowProblem]:
        """What the row path's reference check reports, in the same order: per row in key
        order, its series problem, then its instrument columns'."""
        import numpy

        fact = self.fact
        kind = fact.spec.kind.value
        series = self.columns["series_id"].values
        wrong = [value for value in self.series_ids if kinds.get(value) != kind]
        flagged = numpy.isin(series, wrong)
        unknown: dict[str, set[int]] = {}
        for _, name in fact.instrument_columns:
            values = self.columns[name].values
            missing = {value for value in self.instrument_ids if value not in instruments}
            unknown[name] = missing
            flagged |= numpy.isin(values, sorted(missing))
        problems = []
        for row in numpy.flatnonzero(flagged):
            index, series_id = int(self.first_index[row]), int(series[row])
            found = kinds.get(series_id)
            if found is None:
                problems.append(
                    RowProblem(
                        index, "series_id", "unknown_series", f"no series has series_id {series_id}"
                    )
                )
            elif found != kind:
                problems.append(
                    RowProblem(
                        index,
                        "series_id",
                        "wrong_series_kind",
                        f"series {series_id} is a {found!r} series; {fact.qualified} holds "
                        f"{kind!r} series",
                    )
                )
            for name, missing in unknown.items():
                value = int(self.columns[name].values[row])
                if value in missing:
                    problems.append(
                        RowProblem(
                            index, name, "unknown_instrument", f"no instrument has {name} {value}"
                        )
                    )
        return problems

    def records(self) -> list[tuple[Any, ...]]:
        """The rows as the row path's records (plain values, ``FactTable.staged`` order): for
        comparing the two paths."""
        cells = []
        for column in self.columns.values():
            nulls = column.null_mask()
            if column.copy_type == "timestamptz":
                values: list[Any] = [instant(value) for value in column.values]
            elif column.copy_type == "text":
                values = [column.texts[code] if code >= 0 else None for code in column.values]
            else:
                values = column.values.tolist()
            if nulls is not None:
                values = [
                    None if null else value for value, null in zip(values, nulls, strict=True)
                ]
            cells.append(values)
        return list(zip(*cells, strict=True))

    def chunks(self, size: int) -> list[ColumnChunk]:
        """Chunks of about ``size`` rows that never cut an observation's vintages apart."""
        import numpy

        starts = numpy.flatnonzero(self.new_observation)
        chunks, start, rows = [], 0, len(self)
        while start < rows:
            end = start + size
            if end < rows:
                following = int(numpy.searchsorted(starts, end))
                end = int(starts[following]) if following < len(starts) else rows
            end = min(end, rows)
            chunks.append(ColumnChunk(self, start, end))
            start = end
        return chunks


def column_batch(fact: FactTable, arrays: dict[str, Any], offset: int = 0) -> ColumnBatch | None:
    """The sorted, deduplicated batch of checked columns, or ``None`` when two rows share a key
    with different values (the row validator then names them: ``duplicate_key``).

    ``offset`` is added to each row's position (a frame's place in a stream of frames).
    """
    import numpy

    columns = {name: payload_column(fact.column_type(name), arrays[name]) for name in fact.staged}
    rows = len(columns["series_id"].values)
    # lexsort is stable and sorts by its last key first: ties keep input order, so of two
    # identical rows the first one given is kept, as the row path keeps it.
    order = numpy.lexsort([columns[name].values for name in reversed(fact.key)])
    columns = {name: _take(column, order) for name, column in columns.items()}
    first_index = order + offset
    if rows > 1:
        same_key = numpy.ones(rows - 1, dtype=bool)
        for name in fact.key:
            same_key &= _same_as_previous(columns[name])
        if same_key.any():
            same_row = same_key.copy()
            for name in fact.staged[len(fact.key) :]:
                same_row &= _same_as_previous(columns[name])
            if (same_key & ~same_row).any():
                return None
            kept = numpy.r_[True, ~same_key]
            columns = {name: _take(column, kept) for name, column in columns.items()}
            first_index = first_index[kept]
    kept_rows = len(first_index)
    new_observation = numpy.ones(kept_rows, dtype=bool)
    if kept_rows > 1:
        same_observation = numpy.ones(kept_rows - 1, dtype=bool)
        for name in fact.observation:
            same_observation &= _same_as_previous(columns[name])
        new_observation[1:] = ~same_observation
    return ColumnBatch(fact, columns, first_index, rows - kept_rows, new_observation)
