"""Idempotent ingest, sync and async: validate, check series, lock, COPY, merge, report.

The logic is written once, as generators on mp's one runtime (:mod:`mp_config.steps`):
:func:`_steps` yields each statement or COPY and receives its result, and
:meth:`_Ingests._ingest` wraps it in its transaction, the deadlock retry and the cache
invalidation. Two small drivers run them on psycopg or asyncpg (they differ in ``await`` and in
how COPY is done: ``cursor.copy`` in binary, ``copy_records_to_table``); :func:`ingest` and
:func:`ingest_async` are made from the one logic.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import partial
from typing import Any, Final, Generic, NamedTuple, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mp_config.steps import Steps, async_method, run, run_async, sync_method
from mp_db._column_batch import ColumnBatch, ColumnChunk, column_batch
from mp_db._column_checks import checked_columns
from mp_db._columnar_fetch import Columnar, fetch_arrow, fetch_arrow_async
from mp_db._columns import frame_columns, frame_rows, frame_stream
from mp_db._error_mapping import translate_errors
from mp_db._ingest_sql import (
    INGEST_WORK_MEM,
    PER_SERIES_LOCK_LIMIT,
    IngestProgress,
    IngestReport,
    IngestSql,
    ingest_sql,
)
from mp_db._invalidation import Invalidation, invalidation
from mp_db._stored_judgement import (
    arrow_installed,
    judge_against_stored,
    judge_records,
    stored_columnar,
    stored_rows_sql,
)
from mp_db._tables import FactTable, TableRef, resolve_table
from mp_db._validation import DEFAULT_MAX_ROWS, ValidatedBatch, validate_batch
from mp_db.exceptions import IngestValidationError, RowProblem, SerializationError

__all__ = ["DEADLOCK_ATTEMPTS", "DEFAULT_CHUNK_ROWS", "ingest", "ingest_async"]

#: Rows per COPY chunk: big enough to amortize each statement, small enough that the staging
#: table fits PostgreSQL's default 8 MB of temp_buffers.
DEFAULT_CHUNK_ROWS = 100_000

ProgressCallback = Callable[[IngestProgress], None]

#: Tries of a whole ingest that a deadlock (or serialization failure) rolled back, when ingest
#: owns the transaction (an engine was passed). A fallback only: ingest's lock order keeps it
#: from deadlocking with compression (see _ingest_sql); this covers what the order cannot see,
#: such as a chunk another writer created after the locks were taken.
DEADLOCK_ATTEMPTS = 3

logger = logging.getLogger("mp_db")

T = TypeVar("T")
TG = TypeVar("TG")  # what an ingest writes through: an engine or a connection


def _deadlock_delay(error: SerializationError, attempt: int, table: str) -> float:
    """Seconds to wait before trying a rolled-back ingest again, or raise ``error``."""
    if attempt >= DEADLOCK_ATTEMPTS:
        raise error
    logger.warning(
        "mp-db: ingest into %s rolled back (%s); try %d of %d",
        table,
        error,
        attempt + 1,
        DEADLOCK_ATTEMPTS,
    )
    return 0.1 * attempt


def _too_large(fact: FactTable, max_rows: int) -> IngestValidationError:
    problem = RowProblem(
        max_rows,
        "",
        "batch_too_large",
        f"more than {max_rows} rows: split the load into smaller batches",
    )
    return IngestValidationError(fact.name, [problem])


def _prepare(
    fact: FactTable, rows: Any, default_source: str, max_rows: int, offset: int = 0
) -> tuple[_Batch, int]:
    """The validated batch of ``rows`` (a frame, or mappings) and how many rows it had.

    ``offset`` is the rows' place in a stream of frames: every row a problem names is
    numbered in the whole stream.
    """
    columns = frame_columns(fact, rows)
    if columns is None:
        counted = list(rows)
    else:
        received = len(next(iter(columns.values()))) if columns else 0
        if received > max_rows:
            raise _shifted(_too_large(fact, max_rows), offset)
        arrays = checked_columns(fact, columns, default_source)
        batch = None if arrays is None else column_batch(fact, arrays, offset)
        if batch is not None:
            return batch, received
        # A column check doubted: the row validator names every problem, as for dicts.
        counted = frame_rows(fact, columns)
    try:
        validated = validate_batch(fact, counted, default_source=default_source, max_rows=max_rows)
    except IngestValidationError as error:
        raise _shifted(error, offset) from None
    return _RecordBatch(fact, validated, offset), len(counted)


def _shifted(error: IngestValidationError, offset: int) -> IngestValidationError:
    """``error`` with its rows numbered from ``offset`` (a frame's place in a stream)."""
    if not offset:
        return error
    problems = [replace(problem, index=problem.index + offset) for problem in error.problems]
    return IngestValidationError(error.table, problems)


def _reference_problems(
    fact: FactTable, batch: ValidatedBatch, kinds: dict[int, str], instruments: set[int]
) -> list[RowProblem]:
    problems = []
    instrument_columns = fact.instrument_columns
    table_kind = fact.spec.kind.value  # an enum's value is a descriptor: read it once
    for index, record in zip(batch.first_index, batch.records, strict=True):
        series_id = record[0]
        kind = kinds.get(series_id)
        if kind is None:
            problems.append(
                RowProblem(
                    index, "series_id", "unknown_series", f"no series has series_id {series_id}"
                )
            )
        elif kind != table_kind:
            problems.append(
                RowProblem(
                    index,
                    "series_id",
                    "wrong_series_kind",
                    f"series {series_id} is a {kind!r} series; {fact.qualified} holds "
                    f"{table_kind!r} series",
                )
            )
        for position, column in instrument_columns:
            if record[position] and record[position] not in instruments:
                problems.append(
                    RowProblem(
                        index,
                        column,
                        "unknown_instrument",
                        f"no instrument has {column} {record[position]}",
                    )
                )
    return problems


def _chunks(
    records: Sequence[tuple[Any, ...]], size: int, observation_width: int
) -> list[Sequence[tuple[Any, ...]]]:
    """Split sorted records into chunks of about ``size`` that never cut an observation's
    vintages apart (each chunk then sees every version it must compare)."""
    chunks = []
    start = 0
    while start < len(records):
        end = min(start + size, len(records))
        while end < len(records) and (
            records[end][:observation_width] == records[end - 1][:observation_width]
        ):
            end += 1
        chunks.append(records[start:end])
        start = end
    return chunks


def _bounds(chunk: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
    ranges: dict[int, list[Any]] = {}
    for record in chunk:
        span = ranges.get(record[0])
        if span is None:
            ranges[record[0]] = [record[1], record[1]]
        elif record[1] > span[1]:
            span[1] = record[1]  # records are sorted by series, then obs_time
    ids = sorted(ranges)
    return {
        "series_ids": ids,
        "low": min(span[0] for span in ranges.values()),
        "high": max(span[1] for span in ranges.values()),
        "range_ids": ids,
        "range_lows": [ranges[series][0] for series in ids],
        "range_highs": [ranges[series][1] for series in ids],
    }


class _Counts(NamedTuple):
    """How the rows of one chunk were judged (the merge statement returns the same columns)."""

    inserted: int = 0
    revisions: int = 0
    unchanged: int = 0
    already_stored: int = 0
    conflicts: int = 0


def _versions_in_batch(
    fact: FactTable,
    chunk: Sequence[tuple[Any, ...]],
    ingest_id: int,
    *,
    keep_republications: bool = False,
) -> tuple[list[tuple[Any, ...]], _Counts]:
    """For a chunk with no stored history: keep each observation's first version and every
    version that differs from the one before it (all versions with ``keep_republications``),
    numbering revisions by value changes.

    Returns the rows to store (staged columns, revision, ingest_id) and the counts, ``unchanged``
    holding every restatement (stored or not, as the merge statement counts them).
    """
    width = len(fact.observation)
    values = slice(len(fact.key), len(fact.key) + len(fact.values))
    kept: list[tuple[Any, ...]] = []
    unchanged = revisions = 0
    previous_key: tuple[Any, ...] | None = None
    previous_values: tuple[Any, ...] | None = None
    revision = 0
    for record in chunk:
        key = record[:width]
        current = record[values]
        if key != previous_key:
            previous_key, previous_values, revision = key, current, 0
            kept.append((*record, 0, ingest_id))
        elif current == previous_values:
            unchanged += 1
            if keep_republications:
                kept.append((*record, revision, ingest_id))
        else:
            revision += 1
            revisions += 1
            previous_values = current
            kept.append((*record, revision, ingest_id))
    return kept, _Counts(len(kept), revisions, unchanged)


@dataclass(frozen=True)
class _RecordChunk:
    """Sorted records of one chunk (the row path)."""

    fact: FactTable
    rows: Sequence[tuple[Any, ...]]

    def __len__(self) -> int:
        return len(self.rows)

    def bounds(self) -> dict[str, Any]:
        return _bounds(self.rows)

    def staged(self) -> Sequence[tuple[Any, ...]]:
        return self.rows

    def versions_of(self, rows: Any, revision: Any, ingest_id: int) -> Sequence[tuple[Any, ...]]:
        return [
            (*self.rows[at], int(number), ingest_id)
            for at, number in zip(rows, revision, strict=True)
        ]

    def versions(
        self, ingest_id: int, keep_republications: bool
    ) -> tuple[Sequence[tuple[Any, ...]], tuple[int, ...]]:
        kept, counts = _versions_in_batch(
            self.fact, self.rows, ingest_id, keep_republications=keep_republications
        )
        return kept, tuple(counts[:3])


class _RecordBatch:
    """A :class:`ValidatedBatch` of row tuples with :class:`ColumnBatch`'s interface."""

    def __init__(self, fact: FactTable, batch: ValidatedBatch, offset: int = 0) -> None:
        self.fact, self.batch, self.offset = fact, batch, offset
        self.duplicates_dropped = batch.duplicates_dropped

    def __len__(self) -> int:
        return len(self.batch.records)

    @property
    def series_ids(self) -> list[int]:
        return sorted(self.batch.series_ids)

    @property
    def instrument_ids(self) -> list[int]:
        return sorted(self.batch.instrument_ids)

    def time_range(self) -> tuple[Any, Any]:
        times = [record[1] for record in self.batch.records]
        return min(times), max(times)

    def reference_problems(self, kinds: dict[int, str], instruments: set[int]) -> list[RowProblem]:
        problems = _reference_problems(self.fact, self.batch, kinds, instruments)
        return [replace(problem, index=problem.index + self.offset) for problem in problems]

    def chunks(self, size: int) -> list[_RecordChunk]:
        width = len(self.fact.observation)
        return [_RecordChunk(self.fact, rows) for rows in _chunks(self.batch.records, size, width)]


#: A validated batch: numpy columns (a frame) or row tuples (mappings, or a doubted frame).
_Batch = ColumnBatch | _RecordBatch


class _Tally:
    """Adds up the chunks' counts into the report."""

    def __init__(self, fact: FactTable, started: float, keep_republications: bool) -> None:
        self.fact, self.started, self.keep_republications = fact, started, keep_republications
        self.counts = _Counts()
        self.ingest_id = 0
        self.received = self.total = self.duplicates = self.chunks = 0

    def add(self, counts: Sequence[Any] | None) -> None:
        if counts is not None:
            self.counts = _Counts(
                *(total + int(value) for total, value in zip(self.counts, counts, strict=True))
            )

    def take(self, batch: _Batch, received: int) -> None:
        """Count a batch (a stream's frame) in."""
        self.received += received
        self.total += len(batch)
        self.duplicates += batch.duplicates_dropped

    def progress(self, done: int, chunk: int, chunks: int) -> IngestProgress:
        return IngestProgress(
            self.fact.name, done, self.total, chunk, chunks, time.perf_counter() - self.started
        )

    def report(self) -> IngestReport:
        counts = self.counts
        # Restatements are stored with keep_republications, dropped without: never both.
        kept = counts.unchanged if self.keep_republications else 0
        return IngestReport(
            table=self.fact.name,
            ingest_id=self.ingest_id,
            received=self.received,
            inserted=counts.inserted,
            revisions=counts.revisions,
            republications=kept,
            unchanged=counts.unchanged - kept,
            already_stored=counts.already_stored,
            conflicts=counts.conflicts,
            duplicates_dropped=self.duplicates,
            chunks=self.chunks,
            elapsed_seconds=time.perf_counter() - self.started,
        )


def _setup_statements(
    sql: IngestSql, series_ids: set[int], whole_table: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """Locks, memory for the merge's sort, and the staging table, in this order
    (``whole_table``: the series are not known in advance, a stream of frames)."""
    statements: list[tuple[str, dict[str, Any]]] = [
        (f"SET LOCAL work_mem = '{INGEST_WORK_MEM}'", {}),
        # Every row's series was checked (_check_references, before any frame's rows are
        # sent): the tables' series trigger may skip them (mp_schema._series_guard). Turned
        # off again before the steps return; a refusal rolls back to the savepoint or the
        # transaction, which undoes it too.
        ("SET LOCAL mp.series_checked = 'on'", {}),
    ]
    if whole_table or len(series_ids) > PER_SERIES_LOCK_LIMIT:
        statements.append((sql.lock_table_exclusive, {}))
    else:
        statements.append((sql.lock_table_shared, {}))
        statements.append((sql.lock_series, {"series_ids": sorted(series_ids)}))
    statements.append((sql.create_staging, {}))
    return statements


# -- the steps, written once ----------------------------------------------------------------------


class _Want(Enum):
    """What the driver sends back for an :class:`_Execute`."""

    NOTHING = "nothing"
    ROWS = "rows"
    SCALAR = "scalar"
    ROWCOUNT = "rowcount"
    ONE = "one"

    def answer(self, result: Any) -> Any:
        """This part of a SQLAlchemy result."""
        if self is _Want.ROWS:
            return result.all()
        if self is _Want.SCALAR:
            return result.scalar()
        if self is _Want.ROWCOUNT:
            return result.rowcount
        if self is _Want.ONE:
            return result.one()
        return None


@dataclass(frozen=True)
class _Execute:
    """Run a statement; the driver sends back what ``want`` names."""

    sql: str
    parameters: dict[str, Any]
    want: _Want = _Want.NOTHING


@dataclass(frozen=True)
class _Fetch:
    """Fetch a statement's rows as a pyarrow Table (binary COPY, :mod:`mp_db._columnar_fetch`)."""

    sql: str
    parameters: dict[str, Any]
    columnar: Columnar


@dataclass(frozen=True)
class _Copy:
    """Binary COPY into ``schema.table`` (the staging table or the hypertable) of ``rows``:
    row tuples, or the whole binary COPY stream already built from columns."""

    table: str
    schema: str
    statement: str
    rows: Sequence[tuple[Any, ...]] | bytes
    with_revision: bool


@dataclass
class _Work:
    """What :func:`_steps` writes and how: one validated batch, or a stream of frames that
    are validated one at a time inside the transaction."""

    fact: FactTable
    batch: _Batch | None
    received: int
    chunk_rows: int
    progress: ProgressCallback | None
    keep_republications: bool
    started: float
    stream: Iterator[Any] | None = None
    default_source: str = "vendor"
    max_rows: int = DEFAULT_MAX_ROWS
    #: Filled by :func:`_steps`: the series it stored rows for.
    touched: set[int] = field(default_factory=set)

    def batches(self) -> Iterator[tuple[_Batch, int]]:
        """Each batch with its received rows: the one batch, or each frame of the stream."""
        if self.stream is None:
            assert self.batch is not None
            yield self.batch, self.received
            return
        offset = 0
        for frame in self.stream:
            batch, received = _prepare(self.fact, frame, self.default_source, self.max_rows, offset)
            offset += received
            yield batch, received


def _lock_chunks(sql: IngestSql, batch: _Batch) -> Generator[_Execute, Any, None]:
    """ROW EXCLUSIVE on the chunks the batch may write, before any read
    (the lock order that keeps ingest and ``compress_chunk`` from deadlocking; see
    :mod:`mp_db._ingest_sql`). Chunks are locked in creation order."""
    low, high = batch.time_range()
    rows = yield _Execute(sql.chunks_to_lock, {"low": low, "high": high}, _Want.ROWS)
    if rows:
        # Names come from the catalog, quoted by regclass output.
        names = ", ".join(str(row[0]) for row in rows)
        yield _Execute(f"LOCK TABLE {names} IN ROW EXCLUSIVE MODE", {})


def _check_references(sql: IngestSql, fact: FactTable, batch: _Batch) -> Steps[None]:
    """Refuse the batch if a series or instrument it names does not exist (or is of another
    kind); nothing is written before this passes."""
    rows = yield _Execute(sql.series_kinds, {"series_ids": batch.series_ids}, _Want.ROWS)
    kinds = {int(row[0]): str(row[1]) for row in rows}
    instruments: set[int] = set()
    if batch.instrument_ids:
        rows = yield _Execute(
            sql.known_instruments, {"instrument_ids": batch.instrument_ids}, _Want.ROWS
        )
        instruments = {int(row[0]) for row in rows}
    problems = batch.reference_problems(kinds, instruments)
    if problems:
        raise IngestValidationError(fact.name, problems)


def _steps(work: _Work) -> Steps[IngestReport]:
    """Every statement of one ingest, in order; each driver runs them on its connection.

    A stream of frames is written frame by frame in the one transaction: each frame is
    validated and checked before its rows are sent, and logged as an ingest of its own (its
    series in ``mp.ingest_log``); a later frame's merge sees an earlier frame's rows as stored.
    """
    fact, sql = work.fact, ingest_sql(work.fact)
    tally = _Tally(fact, work.started, work.keep_republications)
    set_up = False
    done = 0
    for batch, received in work.batches():
        tally.take(batch, received)
        if not len(batch):
            continue
        yield from _check_references(sql, fact, batch)
        if not set_up:
            setup = _setup_statements(
                sql, set(batch.series_ids), whole_table=work.stream is not None
            )
            for statement, parameters in setup:
                yield _Execute(statement, parameters)
            set_up = True
        yield from _lock_chunks(sql, batch)
        logged = {"fact_table": fact.name, "series_ids": batch.series_ids}
        ingest_id = int((yield _Execute(sql.begin_ingest, logged, _Want.SCALAR)))
        tally.ingest_id = tally.ingest_id or ingest_id
        work.touched.update(batch.series_ids)
        chunks: Sequence[ColumnChunk | _RecordChunk] = batch.chunks(work.chunk_rows)
        for number, chunk in enumerate(chunks, start=1):
            yield from _write_chunk(
                sql,
                fact,
                chunk,
                tally,
                ingest_id=ingest_id,
                keep_republications=work.keep_republications,
            )
            done += len(chunk)
            tally.chunks += 1
            if work.progress is not None:
                work.progress(tally.progress(done, number, len(chunks)))
    if set_up:
        yield _Execute("SET LOCAL mp.series_checked = 'off'", {})
    return tally.report()


def _write_chunk(
    sql: IngestSql,
    fact: FactTable,
    chunk: ColumnChunk | _RecordChunk,
    tally: _Tally,
    *,
    ingest_id: int,
    keep_republications: bool,
) -> Steps[None]:
    """One chunk: straight into the hypertable when nothing is stored for its series and
    periods, else judged against the stored versions or through staging and the merge."""
    bounds = {
        **chunk.bounds(),
        "keep_republications": keep_republications,
        "ingest_id": ingest_id,
    }
    # Judged on columns against the stored versions (fetched once) by the merge's rules, and
    # only what is new COPYed in with its revision (mp_db._stored_judgement). The fetch also
    # says whether anything is stored in the chunk's spans: one statement a chunk, not two.
    judging = not keep_republications and arrow_installed()
    if judging:
        stored = yield _Fetch(stored_rows_sql(fact), bounds, stored_columnar(fact))
        fresh = not stored.num_rows
    else:
        fresh = not (yield _Execute(sql.stored_in_range, bounds, _Want.SCALAR))
    if fresh:
        kept, counts = chunk.versions(ingest_id, keep_republications)
        yield _Copy(fact.name, "mp", sql.copy_target, kept, with_revision=True)
        tally.add(_Counts(*counts))
        return
    if judging:
        judged = (
            judge_against_stored(chunk, stored)
            if isinstance(chunk, ColumnChunk)
            else judge_records(fact, chunk.rows, stored)
        )
        if judged is not None:
            inserted = len(judged.rows)
            if inserted:
                versions = chunk.versions_of(judged.rows, judged.revision, ingest_id)
                yield _Copy(fact.name, "mp", sql.copy_target, versions, with_revision=True)
            tally.add(
                _Counts(
                    inserted,
                    judged.revisions,
                    judged.unchanged,
                    judged.already_stored,
                    judged.conflicts,
                )
            )
            return
    yield _Execute(sql.truncate_staging, {})
    yield _Copy(sql.staging, "pg_temp", sql.copy, chunk.staged(), with_revision=False)
    already = int((yield _Execute(sql.drop_already_stored, bounds, _Want.ROWCOUNT)))
    tally.add(_Counts(already_stored=already))
    if already < len(chunk):
        tally.add((yield _Execute(sql.merge, bounds, _Want.ONE)))


# -- the whole ingest, written once: transaction, retry and invalidation as requests ---------------


@dataclass(frozen=True)
class _Transaction:
    """Run :func:`_steps` on ``target``: in a transaction of its own (``begin``), or in the
    caller's open one; send back its report."""

    target: Any
    work: _Work
    begin: bool = True


@dataclass(frozen=True)
class _Pause:
    """Wait before trying a rolled-back ingest again."""

    seconds: float


@dataclass(frozen=True)
class _Invalidate:
    """Tell mp's cache which series the committed ingest stored rows for."""

    cache: Invalidation
    series_ids: list[int]


class _Ingests(Generic[TG]):
    """:func:`ingest` and :func:`ingest_async`, written once; ``TG`` is the target type."""

    #: The engine class of this driver: an ingest given one owns (and may retry) its transaction.
    engine_type: type[Any]

    def _ingest(
        self,
        target: TG,
        table: TableRef,
        rows: Any,
        *,
        default_source: str = "vendor",
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        max_rows: int = DEFAULT_MAX_ROWS,
        progress: ProgressCallback | None = None,
        keep_republications: bool = False,
    ) -> Steps[IngestReport]:
        """Store a batch of observations idempotently; return what happened.

        The whole batch is validated first (every bad row named, nothing written), then written
        in one transaction: all of it or none of it. Re-running the same batch stores nothing new.

        Args:
            target: an engine (a transaction is opened and committed) or a connection (the work
                joins its transaction, or runs in a new one that is committed when none is open).
            table: the fact table: ``"macro_observations"``, a ``SeriesKind``, a Table or model.
            rows: mappings or dataclasses with the table's key and value fields (``revision``
                and ``ingested_at`` are computed), or a pandas DataFrame, polars DataFrame or
                pyarrow Table with those columns (checked a column at a time, see
                :mod:`mp_db._columns`), or a stream of such frames (an iterable of them, or a
                ``pyarrow.RecordBatchReader``): validated and written frame by frame in the one
                transaction (see :func:`_steps`; the package README lists how a stream
                differs from one batch).
            default_source: ``knowledge_time_source`` for rows that do not carry one.
            chunk_rows: rows per COPY chunk.
            max_rows: refuse batches larger than this (``batch_too_large``).
            progress: called after each chunk with an :class:`IngestProgress`.
            keep_republications: also store versions that restate the value before them.
                Off (the ALFRED rule), an unchanged re-publication stores nothing, which is
                exact as long as each observation's versions arrive in knowledge-time order or
                each batch carries every change over its knowledge-time span. A partial
                backfill that lands before a re-publication mp did not store would then be read
                in its place; sources that deliver such partial, out-of-order histories should
                turn this on.

        With ``MP_REDIS_CACHE_ENABLED`` (read once per process, see ``mp_config.get_settings``),
        an ingest that commits its own transaction invalidates the series it stored rows for in
        mp's cache before returning (see :mod:`mp_db._invalidation`).

        With an engine, a transaction a deadlock or serialization failure rolled back is tried
        again (:data:`DEADLOCK_ATTEMPTS` in all; ``progress`` then reports the chunks again).

        Raises:
            IngestValidationError: the batch was refused; nothing was written.
            ConfigurationError: the cache is enabled but mp-cache is not installed; nothing
                written.
            MpDbError: a database fault, classified (see :mod:`mp_db.exceptions`).
        """
        started = time.perf_counter()
        fact = resolve_table(table)
        stream, rows = frame_stream(rows)
        if stream is None:
            batch, received = _prepare(fact, rows, default_source, max_rows)
            work = _Work(fact, batch, received, chunk_rows, progress, keep_republications, started)
        else:
            work = _Work(
                fact,
                None,
                0,
                chunk_rows,
                progress,
                keep_republications,
                started,
                stream,
                default_source,
                max_rows,
            )
        cache = invalidation()
        if isinstance(target, self.engine_type):
            attempt = 1
            while True:
                try:
                    report: IngestReport = yield _Transaction(target, work)
                    break
                except SerializationError as error:
                    if stream is not None:
                        raise  # its frames are consumed: the caller must send them again
                    yield _Pause(_deadlock_delay(error, attempt, fact.name))
                    attempt += 1
        elif target.in_transaction():  # type: ignore[attr-defined]  # a Connection
            # The caller commits: this ingest cannot see it (CachedReader's check covers it).
            joined: IngestReport = yield _Transaction(target, work, begin=False)
            return joined
        else:
            report = yield _Transaction(target, work)
        if cache is not None and report.inserted:
            yield _Invalidate(cache, sorted(work.touched))
        return report


# -- the two drivers: how a statement, a COPY and a transaction run ------------------------------


def _statement_sync(
    connection: Connection, fact: FactTable, step: _Execute | _Fetch | _Copy
) -> Any:
    if isinstance(step, _Execute):
        return step.want.answer(connection.execute(text(step.sql), step.parameters))
    if isinstance(step, _Fetch):
        return fetch_arrow(connection, step.sql, step.parameters, step.columnar)
    raw = connection.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(step.statement) as copy:
        if isinstance(step.rows, bytes):
            copy.write(step.rows)  # the whole stream, signature and trailer included
            return None
        types = [fact.column_type(column) for column in fact.staged]
        copy.set_types([*types, "int2", "int8"] if step.with_revision else types)
        for record in step.rows:
            copy.write_row(record)
    return None


class _SyncIngests(_Ingests[Connection | Engine]):
    engine_type = Engine

    def _drive(self, steps: Steps[T]) -> T:
        return run(steps, self._execute)

    def _execute(self, request: _Transaction | _Pause | _Invalidate) -> Any:
        if isinstance(request, _Pause):
            time.sleep(request.seconds)
            return None
        if isinstance(request, _Invalidate):
            request.cache.invalidate(request.series_ids)
            return None
        target, work = request.target, request.work
        with translate_errors():
            if isinstance(target, Engine):
                with target.begin() as connection:
                    return run(_steps(work), partial(_statement_sync, connection, work.fact))
            if not request.begin and work.stream is not None:
                # Joining the caller's transaction: a refused later frame must undo the
                # frames before it without undoing the caller's own work.
                with target.begin_nested():
                    return run(_steps(work), partial(_statement_sync, target, work.fact))
            if not request.begin:
                return run(_steps(work), partial(_statement_sync, target, work.fact))
            with target.begin():
                return run(_steps(work), partial(_statement_sync, target, work.fact))

    ingest = sync_method(_Ingests._ingest)


async def _statement_async(
    connection: AsyncConnection, fact: FactTable, step: _Execute | _Fetch | _Copy
) -> Any:
    if isinstance(step, _Execute):
        return step.want.answer(await connection.execute(text(step.sql), step.parameters))
    if isinstance(step, _Fetch):
        return await fetch_arrow_async(connection, step.sql, step.parameters, step.columnar)
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    columns = [*fact.staged, "revision", "ingest_id"] if step.with_revision else list(fact.staged)
    if isinstance(step.rows, bytes):
        await driver.copy_to_table(
            step.table,
            source=io.BytesIO(step.rows),
            columns=columns,
            schema_name=step.schema,
            format="binary",
        )
        return None
    await driver.copy_records_to_table(
        step.table, records=step.rows, columns=columns, schema_name=step.schema
    )
    return None


class _AsyncIngests(_Ingests[AsyncConnection | AsyncEngine]):
    engine_type = AsyncEngine

    async def _drive(self, steps: Steps[T]) -> T:
        return await run_async(steps, self._execute)

    async def _execute(self, request: _Transaction | _Pause | _Invalidate) -> Any:
        if isinstance(request, _Pause):
            await asyncio.sleep(request.seconds)
            return None
        if isinstance(request, _Invalidate):
            await request.cache.invalidate_async(request.series_ids)
            return None
        target, work = request.target, request.work
        with translate_errors():
            if isinstance(target, AsyncEngine):
                async with target.begin() as connection:
                    statement = partial(_statement_async, connection, work.fact)
                    return await run_async(_steps(work), statement)
            statement = partial(_statement_async, target, work.fact)
            if not request.begin and work.stream is not None:
                # As in the sync driver: a refused later frame undoes only the stream.
                async with target.begin_nested():
                    return await run_async(_steps(work), statement)
            if not request.begin:
                return await run_async(_steps(work), statement)
            async with target.begin():
                return await run_async(_steps(work), statement)

    ingest = async_method(_Ingests._ingest)


#: The drivers; ``Database`` and ``AsyncDatabase`` run their ``ingest`` on them too.
SYNC_INGESTS: Final = _SyncIngests()
ASYNC_INGESTS: Final = _AsyncIngests()

ingest = SYNC_INGESTS.ingest
ingest_async = ASYNC_INGESTS.ingest
