"""Point-in-time reads, sync (:class:`Reader`) and async (:class:`AsyncReader`), written once.

Every read is one generator method of :class:`_Reads` (the sans-I/O core): it builds a
:class:`Query` (SQL from :mod:`mp_db._read_sql`, bound parameters, a converter for the rows)
and yields :class:`Fetch` requests for its statements. The public methods of both readers are
made from those by :mod:`mp_config.steps`; the readers only say where a read's connection
comes from and how a ``Fetch`` runs on it (see docs/sync-async.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from functools import cache
from numbers import Integral
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from sqlalchemy import Connection, Engine, Table, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import DeclarativeBase

from mp_config.steps import Steps, async_method, named_like, run, run_async, sync_method
from mp_db._arguments import (
    BEGINNING,
    END_OF_TIME,
    checked_range,
    instant,
    optional_instant,
    period,
    series_list,
)
from mp_db._cutoff import Cutoff
from mp_db._error_mapping import translate_errors
from mp_db._read_sql import CUTOFF_AT_SQL, CUTOFF_NOW_SQL, ReadSql, read_sql
from mp_db._rows import ROW_TYPES, AlfredInterval, AsOfValue, FactRow
from mp_db._tables import FactTable, TableRef, resolve_table
from mp_schema.enums import SeriesKind

__all__ = [
    "BEGINNING",
    "END_OF_TIME",
    "AsyncReader",
    "Fetch",
    "Query",
    "Ranged",
    "Reader",
    "Stream",
    "fetch",
    "join_as_of",
]

T = TypeVar("T")
R = TypeVar("R", bound=FactRow)
S = TypeVar("S")
P = ParamSpec("P")

#: Table references that give untyped rows (name, kind, Table, model); a row class gives
#: rows of that class.
UntypedRef = str | SeriesKind | Table | type[DeclarativeBase]

#: What ``ingested_before=`` takes: a :class:`Cutoff` (exact) or a datetime (the ingests whose
#: commit was stamped by then).
Replay = Cutoff | datetime | None


@dataclass(frozen=True)
class Query(Generic[T]):
    """A read: its SQL, its bound parameters and how to turn the fetched rows into results.

    ``cutoff_at`` is set when the read replays as of a datetime: the readers first turn it into
    the cutoff parameters (:data:`mp_db._read_sql.CUTOFF_AT_SQL`) on the same connection.
    """

    sql: str
    parameters: dict[str, Any]
    convert: Callable[[Sequence[Sequence[Any]]], T]
    cutoff_at: datetime | None = field(default=None)

    def resolved(self, cutoff: Sequence[Any] | None) -> Query[T]:
        """This query with the cutoff of ``cutoff_at`` (a row of CUTOFF_AT_SQL) bound."""
        if cutoff is None:
            return self
        commit, ingest = int(cutoff[0]), int(cutoff[1])
        parameters = self.parameters | {"cutoff_commit": commit, "cutoff_ingest": ingest}
        return replace(self, parameters=parameters, cutoff_at=None)


def _replay(ingested_before: Replay) -> tuple[bool, dict[str, Any], datetime | None]:
    """Whether a read replays, its cutoff parameters, and the datetime still to resolve."""
    if ingested_before is None:
        return False, {}, None
    if isinstance(ingested_before, Cutoff):
        return True, ingested_before.parameters(), None
    moment = instant("ingested_before", ingested_before)
    return True, {"cutoff_time": moment}, moment


def _statements(
    fact: FactTable, series_ids: Any, ingested_before: Replay, *, by_series: bool = True
) -> tuple[ReadSql, dict[str, Any], datetime | None]:
    """The statements for these series and their parameters: one series binds a scalar (an
    index-ordered plan, see :mod:`mp_db._read_sql`), several an array."""
    replay, parameters, cutoff_at = _replay(ingested_before)
    if series_ids is None:
        return read_sql(fact, replay=replay), parameters, cutoff_at
    ids = series_list(series_ids)
    if by_series and len(ids) == 1:
        return (
            read_sql(fact, one_series=True, replay=replay),
            parameters | {"series_id": ids[0]},
            cutoff_at,
        )
    return read_sql(fact, replay=replay), parameters | {"series_ids": ids}, cutoff_at


def _rows(
    fact: FactTable, *, reverse: bool = False
) -> Callable[[Sequence[Sequence[Any]]], list[FactRow]]:
    row_type = ROW_TYPES[fact.name]

    def convert(rows: Sequence[Sequence[Any]]) -> list[FactRow]:
        # The as-of shape walks the index backwards (so no Sort node); callers want time order.
        ordered = reversed(rows) if reverse else rows
        return [row_type(*row) for row in ordered]

    return convert


def _intervals(fact: FactTable) -> Callable[[Sequence[Sequence[Any]]], list[AlfredInterval]]:
    row_type = ROW_TYPES[fact.name]

    def convert(rows: Sequence[Sequence[Any]]) -> list[AlfredInterval]:
        result = []
        for row in rows:
            version = row_type(*row[:-1])
            result.append(AlfredInterval(version, version.knowledge_time, row[-1]))
        return result

    return convert


def join_as_of(
    rows: Iterable[FactRow],
    decision_times: Iterable[datetime],
    series_ids: Iterable[int] | None = None,
) -> list[AsOfValue]:
    """The latest print of each series as known at each decision time, in one pass.

    ``rows`` is a release stream (every version of some series). The result has, for each
    decision time in the order given (repeats kept), for each series in ascending order, one
    :class:`AsOfValue` per row of what :meth:`Reader.latest` answers at that time: the newest
    observation known so far, every entity of it (a whole curve, every trader category) at its
    newest known version; or one ``AsOfValue`` with ``row`` None when nothing was known yet.
    ``series_ids`` names the series to report (default: those in ``rows``).

    Per series the versions are replayed in knowledge_time order while the decision times
    advance: O(rows + times x entities) per series, instead of one query per decision time.
    """
    given = [instant("decision_time", moment) for moment in decision_times]
    by_series: dict[int, list[FactRow]] = {}
    for row in rows:
        by_series.setdefault(row.series_id, []).append(row)
    wanted = sorted(set(by_series) if series_ids is None else set(series_list(series_ids)))
    order = sorted(range(len(given)), key=given.__getitem__)
    answers: dict[int, list[list[FactRow]]] = {}
    for series_id in wanted:
        stream = sorted(by_series.get(series_id, []), key=lambda row: row.knowledge_time)
        # obs_time -> entity -> its newest version so far; the newest obs_time so far.
        current: dict[datetime, dict[tuple[Any, ...], FactRow]] = {}
        newest: datetime | None = None
        position = 0
        seen: list[list[FactRow]] = [[] for _ in given]
        for index in order:
            moment = given[index]
            while position < len(stream) and stream[position].knowledge_time <= moment:
                row = stream[position]
                current.setdefault(row.obs_time, {})[_entity(row)] = row
                if newest is None or row.obs_time > newest:
                    newest = row.obs_time
                position += 1
            if newest is not None:
                entities = current[newest]
                seen[index] = [entities[entity] for entity in sorted(entities)]
        answers[series_id] = seen
    result: list[AsOfValue] = []
    for index, moment in enumerate(given):
        for series_id in wanted:
            latest = answers[series_id][index]
            if not latest:
                result.append(AsOfValue(moment, series_id, None))
            result.extend(AsOfValue(moment, series_id, row) for row in latest)
    return result


def _entity(row: FactRow) -> tuple[Any, ...]:
    """The entity part of a row's observation (tenor, category, instrument), or ()."""
    return tuple(getattr(row, name) for name in _entity_fields(row.table))


@cache
def _entity_fields(table: str) -> tuple[str, ...]:
    return resolve_table(table).entities


class Ranged(Enum):
    """The reads over an observation window: which statement of :class:`ReadSql` each runs."""

    FIRST_RELEASE = "first_release"
    VINTAGES = "vintages"
    INTERVALS = "intervals"

    def statement(self, statements: ReadSql) -> str:
        """This read's SQL among ``statements``."""
        if self is Ranged.FIRST_RELEASE:
            return statements.first_release
        if self is Ranged.VINTAGES:
            return statements.vintages
        return statements.intervals


class _Queries:
    """Builds the query of each read; shared by every reader."""

    @staticmethod
    def as_of(
        table: TableRef,
        *,
        series_ids: Any,
        as_of: Any,
        start: Any,
        end: Any,
        ingested_before: Replay,
    ) -> Query[list[FactRow]]:
        fact = resolve_table(table)
        statements, parameters, cutoff_at = _statements(fact, series_ids, ingested_before)
        parameters |= _window(start, end) | {"as_of": instant("as_of", as_of)}
        return Query(statements.as_of, parameters, _rows(fact, reverse=True), cutoff_at)

    @staticmethod
    def latest(
        table: TableRef, series_ids: Any, as_of: Any, ingested_before: Replay
    ) -> Query[list[FactRow]]:
        fact = resolve_table(table)
        statements, parameters, cutoff_at = _statements(
            fact, series_ids, ingested_before, by_series=False
        )
        parameters["as_of"] = instant("as_of", as_of)
        return Query(statements.latest, parameters, _rows(fact), cutoff_at)

    @staticmethod
    def ranged(
        table: TableRef,
        shape: Ranged,
        *,
        series_ids: Any,
        start: Any,
        end: Any,
        as_of: Any,
        ingested_before: Replay,
    ) -> Query[Any]:
        fact = resolve_table(table)
        statements, parameters, cutoff_at = _statements(fact, series_ids, ingested_before)
        parameters |= _window(start, end)
        parameters["as_of"] = optional_instant("as_of", as_of, END_OF_TIME)
        convert: Callable[[Sequence[Sequence[Any]]], Any]
        convert = _intervals(fact) if shape is Ranged.INTERVALS else _rows(fact)
        return Query(shape.statement(statements), parameters, convert, cutoff_at)

    @staticmethod
    def vintage_dates(
        table: TableRef, series_ids: Any, as_of: Any, ingested_before: Replay
    ) -> Query[Any]:
        fact = resolve_table(table)
        statements, parameters, cutoff_at = _statements(fact, series_ids, ingested_before)
        parameters |= _window(None, None)
        parameters["as_of"] = optional_instant("as_of", as_of, END_OF_TIME)
        ids = series_list(series_ids)
        single = isinstance(series_ids, Integral)

        def convert(rows: Sequence[Sequence[Any]]) -> Any:
            found: dict[int, list[datetime]] = {series_id: [] for series_id in ids}
            for series_id, moment in rows:
                found[int(series_id)].append(moment)
            return found[ids[0]] if single else found

        return Query(statements.vintage_dates, parameters, convert, cutoff_at)

    @staticmethod
    def stream(
        table: TableRef, series_ids: Any, until: datetime, ingested_before: Replay
    ) -> Query[list[FactRow]]:
        fact = resolve_table(table)
        statements, parameters, cutoff_at = _statements(fact, series_ids, ingested_before)
        parameters["as_of"] = until
        return Query(statements.stream, parameters, _rows(fact), cutoff_at)

    @staticmethod
    def cross_section(
        table: TableRef, obs_time: Any, as_of: Any, series_ids: Any, ingested_before: Replay
    ) -> Query[list[FactRow]]:
        fact = resolve_table(table)
        statements, parameters, cutoff_at = _statements(
            fact, series_ids, ingested_before, by_series=False
        )
        parameters |= {
            "obs_time": period("obs_time", obs_time, BEGINNING),
            "as_of": instant("as_of", as_of),
        }
        sql = statements.cross_section if series_ids is None else statements.cross_section_of
        return Query(sql, parameters, _rows(fact), cutoff_at)

    @staticmethod
    def backtest_stream(
        table: TableRef, series_ids: Any, decision_times: Sequence[Any], ingested_before: Replay
    ) -> tuple[Query[list[FactRow]], list[datetime], list[int]]:
        times = [instant("decision_time", moment) for moment in decision_times]
        ids = series_list(series_ids)
        until = max(times, default=BEGINNING)
        return _Queries.stream(table, ids, until, ingested_before), times, ids

    @staticmethod
    def cutoff(at: Any) -> Query[Cutoff]:
        def convert(rows: Sequence[Sequence[Any]]) -> Cutoff:
            commit, ingest = rows[0]
            return Cutoff(int(commit), int(ingest))

        if at is None:
            return Query(CUTOFF_NOW_SQL, {}, convert)
        return Query(CUTOFF_AT_SQL, {"cutoff_time": instant("at", at)}, convert)


def _window(start: Any, end: Any) -> dict[str, datetime]:
    low, high = period("start", start, BEGINNING), period("end", end, END_OF_TIME)
    checked_range(low, high)
    return {"start": low, "end": high}


# --- the sans-I/O core: every read written once, as steps yielding Fetch requests ------------


@dataclass(frozen=True, slots=True)
class Fetch:
    """Run one statement on the read's connection; its rows are sent back.

    Every statement of a read runs on one connection (the cutoff of ``ingested_before`` and
    the read itself), so a read over a Connection in a REPEATABLE READ transaction sees one
    snapshot.
    """

    sql: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Stream(Generic[T]):
    """The resolved query of a streamed read and its partition size."""

    query: Query[list[T]]
    batch_rows: int


def fetch(query: Query[T]) -> Steps[T]:
    """The steps of one :class:`Query`: its replay cutoff resolved, then its rows converted.

    The one place where fetched rows become a read's answer: ``query.convert`` chooses the
    output form (row objects today), so another form is a different converter of the query,
    not a different driver.
    """
    query = yield from _resolved(query)
    rows = yield Fetch(query.sql, query.parameters)
    return query.convert(rows)


def _resolved(query: Query[T]) -> Steps[Query[T]]:
    """``query`` with its replay time turned into cutoff parameters, on the read's connection."""
    if query.cutoff_at is None:
        return query
    found = yield Fetch(CUTOFF_AT_SQL, {"cutoff_time": query.cutoff_at})
    return query.resolved(found[0])


class _Reads:
    """The reads of :class:`Reader` and :class:`AsyncReader`, each written once as steps.

    The public methods are made from these by :func:`mp_config.steps.sync_method` and
    :func:`~mp_config.steps.async_method`; the docstrings here are theirs.
    """

    def _run(self, query: Query[T]) -> Steps[T]:
        """Execute a :class:`Query` and convert its rows."""
        return fetch(query)

    def _cutoff(self, *, at: datetime | None = None) -> Steps[Cutoff]:
        """What this reader can see now (or saw at ``at``): record it with a run, pass it as
        ``ingested_before=`` to the run's reads, and a replay later sees exactly the same."""
        return fetch(_Queries.cutoff(at))

    @overload
    def _as_of(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[R]]: ...

    @overload
    def _as_of(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[FactRow]]: ...

    def _as_of(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[Any]]:
        """Each observation in [start, end) at its latest version known at ``as_of``.

        Nothing with knowledge_time after ``as_of`` is ever returned."""
        query = _Queries.as_of(
            table,
            series_ids=series_ids,
            as_of=as_of,
            start=start,
            end=end,
            ingested_before=ingested_before,
        )
        return (yield from fetch(query))

    @overload
    def _latest(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: Replay = None,
    ) -> Steps[list[R]]: ...

    @overload
    def _latest(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: Replay = None,
    ) -> Steps[list[FactRow]]: ...

    def _latest(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: Replay = None,
    ) -> Steps[list[Any]]:
        """The latest print of each series as known at ``as_of``: its newest observation known
        then, with every entity of it (a whole curve, every trader category) at its newest
        version known then. Series with nothing known are absent."""
        return (yield from fetch(_Queries.latest(table, series_ids, as_of, ingested_before)))

    @overload
    def _first_release(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[R]]: ...

    @overload
    def _first_release(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[FactRow]]: ...

    def _first_release(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[Any]]:
        """What was first printed for each observation in [start, end) (known by ``as_of``)."""
        window = (start, end, as_of)
        found: list[Any] = yield from self._ranged(
            Ranged.FIRST_RELEASE, table, series_ids, window, ingested_before
        )
        return found

    @overload
    def _vintages(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[R]]: ...

    @overload
    def _vintages(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[FactRow]]: ...

    def _vintages(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[Any]]:
        """Every vintage (value change) of each observation in [start, end) known at
        ``as_of``, ordered by observation then knowledge_time. A stored restatement of the
        version before it is not a vintage and is left out."""
        window = (start, end, as_of)
        found: list[Any] = yield from self._ranged(
            Ranged.VINTAGES, table, series_ids, window, ingested_before
        )
        return found

    def _intervals(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[AlfredInterval]]:
        """ALFRED's form: each vintage known at ``as_of`` with the real-time interval it was
        current for, as known then (``realtime_end`` None: still current at ``as_of``)."""
        window = (start, end, as_of)
        found: list[AlfredInterval] = yield from self._ranged(
            Ranged.INTERVALS, table, series_ids, window, ingested_before
        )
        return found

    @staticmethod
    def _ranged(
        shape: Ranged,
        table: TableRef,
        series_ids: int | Iterable[int],
        window: tuple[datetime | None, datetime | None, datetime | None],
        ingested_before: Replay,
    ) -> Steps[Any]:
        start, end, as_of = window
        query = _Queries.ranged(
            table,
            shape,
            series_ids=series_ids,
            start=start,
            end=end,
            as_of=as_of,
            ingested_before=ingested_before,
        )
        return (yield from fetch(query))

    @overload
    def _cross_section(
        self,
        table: type[R],
        obs_time: datetime,
        *,
        as_of: datetime,
        series_ids: int | Iterable[int] | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[R]]: ...

    @overload
    def _cross_section(
        self,
        table: UntypedRef,
        obs_time: datetime,
        *,
        as_of: datetime,
        series_ids: int | Iterable[int] | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[FactRow]]: ...

    def _cross_section(
        self,
        table: TableRef,
        obs_time: datetime,
        *,
        as_of: datetime,
        series_ids: int | Iterable[int] | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[Any]]:
        """Every series' (or just ``series_ids``') value for one period, as known at
        ``as_of``, each entity at its newest version known then."""
        query = _Queries.cross_section(table, obs_time, as_of, series_ids, ingested_before)
        return (yield from fetch(query))

    def _iter_vintages(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
        batch_rows: int = 10_000,
    ) -> Steps[Stream[FactRow]]:
        """:meth:`vintages`, streamed with a server-side cursor: memory stays bounded by
        ``batch_rows`` whatever the size of the history."""
        query = _Queries.ranged(
            table,
            Ranged.VINTAGES,
            series_ids=series_ids,
            start=start,
            end=end,
            as_of=as_of,
            ingested_before=ingested_before,
        )
        return Stream((yield from _resolved(query)), batch_rows)

    @overload
    def _vintage_dates(
        self,
        table: TableRef,
        series_ids: int,
        *,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[datetime]]: ...

    @overload
    def _vintage_dates(
        self,
        table: TableRef,
        series_ids: Iterable[int],
        *,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[dict[int, list[datetime]]]: ...

    def _vintage_dates(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[Any]:
        """The sorted knowledge times at which some observation of the series changed value
        (its vintages), known at ``as_of``. One id gives a list; several give a dict with every
        requested id as a key."""
        query = _Queries.vintage_dates(table, series_ids, as_of, ingested_before)
        return (yield from fetch(query))

    def _backtest(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        decision_times: Sequence[datetime],
        *,
        ingested_before: Replay = None,
    ) -> Steps[list[AsOfValue]]:
        """The latest print of each series at each decision time (see :func:`join_as_of`):
        one read of the release stream and one pass on the client, not one query per
        decision time."""
        query, times, ids = _Queries.backtest_stream(
            table, series_ids, decision_times, ingested_before
        )
        if not times:
            return []
        stream: list[FactRow] = yield from fetch(query)
        return join_as_of(stream, times, ids)


# --- the two drivers: where a read's connection comes from, and how a Fetch is executed ------


class _Session:
    """One read's connection, taken at its first statement: a read refused before that (bad
    input, an empty backtest) never touches the server."""

    def __init__(self, bind: Engine | Connection, stack: ExitStack) -> None:
        self.bind, self.stack = bind, stack
        self._connection: Connection | None = None

    def connection(self) -> Connection:
        if self._connection is None:
            bind = self.bind
            self._connection = (
                self.stack.enter_context(bind.connect()) if isinstance(bind, Engine) else bind
            )
        return self._connection

    def execute(self, request: Fetch) -> Any:
        return self.connection().execute(text(request.sql), request.parameters).all()


class _AsyncSession:
    """:class:`_Session` on asyncpg."""

    def __init__(self, bind: AsyncEngine | AsyncConnection, stack: AsyncExitStack) -> None:
        self.bind, self.stack = bind, stack
        self._connection: AsyncConnection | None = None

    async def connection(self) -> AsyncConnection:
        if self._connection is None:
            bind = self.bind
            self._connection = (
                await self.stack.enter_async_context(bind.connect())
                if isinstance(bind, AsyncEngine)
                else bind
            )
        return self._connection

    async def execute(self, request: Fetch) -> Any:
        connection = await self.connection()
        return (await connection.execute(text(request.sql), request.parameters)).all()


def _streamed(logic: Callable[..., Steps[Stream[Any]]]) -> Callable[..., Any]:
    def method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
        return self._stream(logic(self, *args, **kwargs))

    return named_like(method, logic)


def stream_method(
    logic: Callable[Concatenate[S, P], Steps[Stream[T]]],
) -> Callable[Concatenate[S, P], Iterator[T]]:
    """The public sync method of a streamed read: the class's ``_stream`` runs its steps."""
    return _streamed(logic)


def async_stream_method(
    logic: Callable[Concatenate[S, P], Steps[Stream[T]]],
) -> Callable[Concatenate[S, P], AsyncIterator[T]]:
    """The public async method of a streamed read: an async iterator of its rows."""
    return _streamed(logic)


class Reader(_Reads):
    """Point-in-time reads over a sync engine or connection (psycopg 3).

    Every time argument is a timezone-aware datetime (or ``numpy.datetime64``, read as UTC;
    ``start``, ``end`` and ``obs_time`` also take a ``date``, meaning 00:00 UTC); anything else
    is refused with :class:`~mp_db.BadInputError`. Results are plain row objects in time order;
    name the table by its row class (``MacroObservationRow``) to have them typed as such.
    A series that is unknown, of another kind or without rows gives an empty answer.

    Every read takes ``ingested_before``: a :class:`~mp_db.Cutoff` from :meth:`cutoff` (only
    the ingests committed when it was taken count: exact strict replay) or a datetime (only
    the ingests whose commit was stamped by then).

    Args:
        bind: an Engine (a connection is taken per call; use the read engine to reach a
            replica) or a Connection (reads join its transaction, e.g. a REPEATABLE READ
            snapshot across several reads).
    """

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind

    def _drive(self, steps: Steps[T]) -> T:
        with translate_errors(), ExitStack() as stack:
            return run(steps, _Session(self.bind, stack).execute)

    def _stream(self, steps: Steps[Stream[FactRow]]) -> Iterator[FactRow]:
        with translate_errors(), ExitStack() as stack:
            session = _Session(self.bind, stack)
            plan = run(steps, session.execute)
            # max_row_buffer with explicit partition sizes: measured with SQLAlchemy 2.1,
            # yield_per with partitions() kept every row (76 MB for 300k rows) while this holds
            # one buffer (under 1 MB).
            result = (
                session.connection()
                .execution_options(stream_results=True, max_row_buffer=plan.batch_rows)
                .execute(text(plan.query.sql), plan.query.parameters)
            )
            for partition in result.partitions(plan.batch_rows):
                yield from plan.query.convert(partition)

    run = sync_method(_Reads._run)
    cutoff = sync_method(_Reads._cutoff)
    as_of = sync_method(_Reads._as_of)
    latest = sync_method(_Reads._latest)
    first_release = sync_method(_Reads._first_release)
    vintages = sync_method(_Reads._vintages)
    cross_section = sync_method(_Reads._cross_section)
    iter_vintages = stream_method(_Reads._iter_vintages)
    vintage_dates = sync_method(_Reads._vintage_dates)
    intervals = sync_method(_Reads._intervals)
    backtest = sync_method(_Reads._backtest)


class AsyncReader(_Reads):
    """The async counterpart of :class:`Reader` (asyncpg): same methods, same answers, awaited."""

    def __init__(self, bind: AsyncEngine | AsyncConnection) -> None:
        self.bind = bind

    async def _drive(self, steps: Steps[T]) -> T:
        with translate_errors():
            async with AsyncExitStack() as stack:
                return await run_async(steps, _AsyncSession(self.bind, stack).execute)

    async def _stream(self, steps: Steps[Stream[FactRow]]) -> AsyncIterator[FactRow]:
        with translate_errors():
            async with AsyncExitStack() as stack:
                session = _AsyncSession(self.bind, stack)
                plan = await run_async(steps, session.execute)
                connection = await session.connection()
                result = await connection.stream(
                    text(plan.query.sql).execution_options(max_row_buffer=plan.batch_rows),
                    plan.query.parameters,
                )
                async for partition in result.partitions(plan.batch_rows):
                    for row in plan.query.convert(partition):
                        yield row

    run = async_method(_Reads._run)
    cutoff = async_method(_Reads._cutoff)
    as_of = async_method(_Reads._as_of)
    latest = async_method(_Reads._latest)
    first_release = async_method(_Reads._first_release)
    vintages = async_method(_Reads._vintages)
    cross_section = async_method(_Reads._cross_section)
    iter_vintages = async_stream_method(_Reads._iter_vintages)
    vintage_dates = async_method(_Reads._vintage_dates)
    intervals = async_method(_Reads._intervals)
    backtest = async_method(_Reads._backtest)
