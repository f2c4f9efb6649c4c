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
import logging
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import Any, Final, Generic, NamedTuple, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mp_config.steps import Steps, async_method, run, run_async, sync_method
from mp_db._column_checks import checked_records
from mp_db._columns import frame_columns, frame_rows
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
from mp_db._tables import FactTable, TableRef, resolve_table
from mp_db._validation import (
    DEFAULT_MAX_ROWS,
    ValidatedBatch,
    batch_of_records,
    validate_batch,
)
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


def _touched(batch: ValidatedBatch) -> list[int]:
    """The series a committed batch stored rows for: their cache entries are now stale."""
    return sorted({record[0] for record in batch.records})


def _prepare(
    table: TableRef, rows: Any, default_source: str, max_rows: int
) -> tuple[FactTable, ValidatedBatch, int]:
    fact = resolve_table(table)
    columns = frame_columns(fact, rows)
    if columns is None:
        counted = list(rows)
    else:
        records = checked_records(fact, columns, default_source)
        if records is not None and len(records) <= max_rows:
            return fact, batch_of_records(fact, records), len(records)
        # A column check doubted: the row validator names every problem, as for dicts.
        counted = frame_rows(fact, columns)
    batch = validate_batch(fact, counted, default_source=default_source, max_rows=max_rows)
    return fact, batch, len(counted)


def _reference_problems(
    fact: FactTable, batch: ValidatedBatch, kinds: dict[int, str], instruments: set[int]
) -> list[RowProblem]:
    problems = []
    instrument_columns = fact.instrument_columns
    for index, record in zip(batch.first_index, batch.records, strict=True):
        series_id = record[0]
        kind = kinds.get(series_id)
        if kind is None:
            problems.append(
                RowProblem(
                    index, "series_id", "unknown_series", f"no series has series_id {series_id}"
                )
            )
        elif kind != fact.spec.kind.value:
            problems.append(
                RowProblem(
                    index,
                    "series_id",
                    "wrong_series_kind",
                    f"series {series_id} is a {kind!r} series; {fact.qualified} holds "
                    f"{fact.spec.kind.value!r} series",
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


class _Tally:
    """Adds up the chunks' counts into the report."""

    def __init__(
        self,
        fact: FactTable,
        received: int,
        batch: ValidatedBatch,
        started: float,
        keep_republications: bool,
    ) -> None:
        self.fact, self.received, self.batch = fact, received, batch
        self.started, self.keep_republications = started, keep_republications
        self.counts = _Counts()
        self.ingest_id = 0

    def add(self, counts: Sequence[Any] | None) -> None:
        if counts is not None:
            self.counts = _Counts(
                *(total + int(value) for total, value in zip(self.counts, counts, strict=True))
            )

    def progress(self, done: int, chunk: int, chunks: int) -> IngestProgress:
        return IngestProgress(
            self.fact.name,
            done,
            len(self.batch.records),
            chunk,
            chunks,
            time.perf_counter() - self.started,
        )

    def report(self, chunks: int) -> IngestReport:
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
            duplicates_dropped=self.batch.duplicates_dropped,
            chunks=chunks,
            elapsed_seconds=time.perf_counter() - self.started,
        )


def _setup_statements(sql: IngestSql, series_ids: set[int]) -> list[tuple[str, dict[str, Any]]]:
    """Locks, memory for the merge's sort, and the staging table, in this order."""
    statements: list[tuple[str, dict[str, Any]]] = [
        (f"SET LOCAL work_mem = '{INGEST_WORK_MEM}'", {}),
        # Every row's series was checked (_reference_problems): the tables' series trigger
        # may skip them (mp_schema._series_guard). Turned off again before the steps return.
        ("SET LOCAL mp.series_checked = 'on'", {}),
    ]
    if len(series_ids) > PER_SERIES_LOCK_LIMIT:
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
class _Copy:
    """Binary COPY of ``rows`` into ``schema.table`` (the staging table or the hypertable)."""

    table: str
    schema: str
    statement: str
    rows: Sequence[tuple[Any, ...]]
    with_revision: bool


class _Work(NamedTuple):
    """One validated batch and how to write it: what :func:`_steps` needs."""

    fact: FactTable
    batch: ValidatedBatch
    received: int
    chunk_rows: int
    progress: ProgressCallback | None
    keep_republications: bool
    started: float


def _lock_chunks(sql: IngestSql, batch: ValidatedBatch) -> Generator[_Execute, Any, None]:
    """ROW EXCLUSIVE on the chunks the batch may write, before any read
    (the lock order that keeps ingest and ``compress_chunk`` from deadlocking; see
    :mod:`mp_db._ingest_sql`). Chunks are locked in creation order."""
    times = [record[1] for record in batch.records]
    rows = yield _Execute(sql.chunks_to_lock, {"low": min(times), "high": max(times)}, _Want.ROWS)
    if rows:
        # Names come from the catalog, quoted by regclass output.
        names = ", ".join(str(row[0]) for row in rows)
        yield _Execute(f"LOCK TABLE {names} IN ROW EXCLUSIVE MODE", {})


def _steps(work: _Work) -> Steps[IngestReport]:
    """Every statement of one ingest, in order; each driver runs them on its connection."""
    fact, batch, received, chunk_rows, progress, keep_republications, started = work
    sql = ingest_sql(fact)
    tally = _Tally(fact, received, batch, started, keep_republications)
    if not batch.records:
        return tally.report(0)
    rows = yield _Execute(sql.series_kinds, {"series_ids": sorted(batch.series_ids)}, _Want.ROWS)
    kinds = {int(row[0]): str(row[1]) for row in rows}
    instruments: set[int] = set()
    if batch.instrument_ids:
        rows = yield _Execute(
            sql.known_instruments, {"instrument_ids": sorted(batch.instrument_ids)}, _Want.ROWS
        )
        instruments = {int(row[0]) for row in rows}
    problems = _reference_problems(fact, batch, kinds, instruments)
    if problems:
        raise IngestValidationError(fact.name, problems)
    for statement, parameters in _setup_statements(sql, batch.series_ids):
        yield _Execute(statement, parameters)
    yield from _lock_chunks(sql, batch)
    logged = {"fact_table": fact.name, "series_ids": sorted(batch.series_ids)}
    tally.ingest_id = int((yield _Execute(sql.begin_ingest, logged, _Want.SCALAR)))
    chunks = _chunks(batch.records, chunk_rows, len(fact.observation))
    done = 0
    for number, chunk in enumerate(chunks, start=1):
        bounds = {
            **_bounds(chunk),
            "keep_republications": keep_republications,
            "ingest_id": tally.ingest_id,
        }
        if (yield _Execute(sql.stored_in_range, bounds, _Want.SCALAR)):
            yield _Execute(sql.truncate_staging, {})
            yield _Copy(sql.staging, "pg_temp", sql.copy, chunk, with_revision=False)
            already = int((yield _Execute(sql.drop_already_stored, bounds, _Want.ROWCOUNT)))
            tally.add(_Counts(already_stored=already))
            if already < len(chunk):
                tally.add((yield _Execute(sql.merge, bounds, _Want.ONE)))
        else:
            kept, counts = _versions_in_batch(
                fact, chunk, tally.ingest_id, keep_republications=keep_republications
            )
            yield _Copy(fact.name, "mp", sql.copy_target, kept, with_revision=True)
            tally.add(counts)
        done += len(chunk)
        if progress is not None:
            progress(tally.progress(done, number, len(chunks)))
    yield _Execute("SET LOCAL mp.series_checked = 'off'", {})
    return tally.report(len(chunks))


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
                pyarrow Table with those columns (converted a column at a time, see
                :mod:`mp_db._columns`).
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
        fact, batch, received = _prepare(table, rows, default_source, max_rows)
        work = _Work(fact, batch, received, chunk_rows, progress, keep_republications, started)
        cache = invalidation()
        if isinstance(target, self.engine_type):
            attempt = 1
            while True:
                try:
                    report: IngestReport = yield _Transaction(target, work)
                    break
                except SerializationError as error:
                    yield _Pause(_deadlock_delay(error, attempt, fact.name))
                    attempt += 1
        elif target.in_transaction():  # type: ignore[attr-defined]  # a Connection
            # The caller commits: this ingest cannot see it (CachedReader's check covers it).
            joined: IngestReport = yield _Transaction(target, work, begin=False)
            return joined
        else:
            report = yield _Transaction(target, work)
        if cache is not None and report.inserted:
            yield _Invalidate(cache, _touched(batch))
        return report


# -- the two drivers: how a statement, a COPY and a transaction run ------------------------------


def _statement_sync(connection: Connection, fact: FactTable, step: _Execute | _Copy) -> Any:
    if isinstance(step, _Execute):
        return step.want.answer(connection.execute(text(step.sql), step.parameters))
    raw = connection.connection.driver_connection
    assert raw is not None
    types = [fact.column_type(column) for column in fact.staged]
    with raw.cursor() as cursor, cursor.copy(step.statement) as copy:
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
            if not request.begin:
                return run(_steps(work), partial(_statement_sync, target, work.fact))
            with target.begin():
                return run(_steps(work), partial(_statement_sync, target, work.fact))

    ingest = sync_method(_Ingests._ingest)


async def _statement_async(
    connection: AsyncConnection, fact: FactTable, step: _Execute | _Copy
) -> Any:
    if isinstance(step, _Execute):
        return step.want.answer(await connection.execute(text(step.sql), step.parameters))
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    columns = [*fact.staged, "revision", "ingest_id"] if step.with_revision else list(fact.staged)
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
