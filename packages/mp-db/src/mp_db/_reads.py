"""Point-in-time reads, sync (:class:`Reader`) and async (:class:`AsyncReader`).

Both build the same :class:`Query` objects (SQL from :mod:`mp_db._read_sql`, bound parameters,
a converter for the rows) and differ only in how they execute them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from numbers import Integral
from typing import Any, Generic, TypeVar, overload

from sqlalchemy import Connection, Engine, Table, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import DeclarativeBase

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
from mp_db._errors import translate_errors
from mp_db._read_sql import CUTOFF_AT_SQL, CUTOFF_NOW_SQL, ReadSql, read_sql
from mp_db._rows import ROW_TYPES, AlfredInterval, AsOfValue, FactRow
from mp_db._tables import FactTable, TableRef, resolve_table
from mp_schema.enums import SeriesKind

__all__ = ["BEGINNING", "END_OF_TIME", "AsyncReader", "Query", "Reader", "join_as_of"]

T = TypeVar("T")
R = TypeVar("R", bound=FactRow)

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


class _Queries:
    """Builds the query of each read; shared by both readers."""

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
        shape: str,
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
        sql = getattr(statements, shape)
        convert: Callable[[Sequence[Sequence[Any]]], Any]
        convert = _intervals(fact) if shape == "intervals" else _rows(fact)
        return Query(sql, parameters, convert, cutoff_at)

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


def _with_cutoff(connection: Connection, query: Query[T]) -> Query[T]:
    """``query`` with its replay time turned into cutoff parameters, on the read's connection."""
    if query.cutoff_at is None:
        return query
    found = connection.execute(text(CUTOFF_AT_SQL), {"cutoff_time": query.cutoff_at})
    return query.resolved(found.one())


async def _with_cutoff_async(connection: AsyncConnection, query: Query[T]) -> Query[T]:
    """The asyncpg twin of :func:`_with_cutoff`."""
    if query.cutoff_at is None:
        return query
    found = await connection.execute(text(CUTOFF_AT_SQL), {"cutoff_time": query.cutoff_at})
    return query.resolved(found.one())


def _window(start: Any, end: Any) -> dict[str, datetime]:
    low, high = period("start", start, BEGINNING), period("end", end, END_OF_TIME)
    checked_range(low, high)
    return {"start": low, "end": high}


class Reader:
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

    def run(self, query: Query[T]) -> T:
        """Execute a :class:`Query` and convert its rows."""
        with translate_errors(), ExitStack() as stack:
            connection = (
                stack.enter_context(self.bind.connect())
                if isinstance(self.bind, Engine)
                else self.bind
            )
            query = _with_cutoff(connection, query)
            rows = connection.execute(text(query.sql), query.parameters).all()
        return query.convert(rows)

    def cutoff(self, *, at: datetime | None = None) -> Cutoff:
        """What this reader can see now (or saw at ``at``): record it with a run, pass it as
        ``ingested_before=`` to the run's reads, and a replay later sees exactly the same."""
        return self.run(_Queries.cutoff(at))

    @overload
    def as_of(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[R]: ...

    @overload
    def as_of(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[FactRow]: ...

    def as_of(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[Any]:
        """Each observation in [start, end) at its latest version known at ``as_of``.

        Nothing with knowledge_time after ``as_of`` is ever returned."""
        return self.run(
            _Queries.as_of(
                table,
                series_ids=series_ids,
                as_of=as_of,
                start=start,
                end=end,
                ingested_before=ingested_before,
            )
        )

    @overload
    def latest(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: Replay = None,
    ) -> list[R]: ...

    @overload
    def latest(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: Replay = None,
    ) -> list[FactRow]: ...

    def latest(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: Replay = None,
    ) -> list[Any]:
        """The latest print of each series as known at ``as_of``: its newest observation known
        then, with every entity of it (a whole curve, every trader category) at its newest
        version known then. Series with nothing known are absent."""
        return self.run(_Queries.latest(table, series_ids, as_of, ingested_before))

    @overload
    def first_release(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[R]: ...

    @overload
    def first_release(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[FactRow]: ...

    def first_release(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[Any]:
        """What was first printed for each observation in [start, end) (known by ``as_of``)."""
        return self.run(
            _Queries.ranged(
                table,
                "first_release",
                series_ids=series_ids,
                start=start,
                end=end,
                as_of=as_of,
                ingested_before=ingested_before,
            )
        )

    @overload
    def vintages(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[R]: ...

    @overload
    def vintages(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[FactRow]: ...

    def vintages(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[Any]:
        """Every vintage (value change) of each observation in [start, end) known at
        ``as_of``, ordered by observation then knowledge_time. A stored restatement of the
        version before it is not a vintage and is left out."""
        return self.run(
            _Queries.ranged(
                table,
                "vintages",
                series_ids=series_ids,
                start=start,
                end=end,
                as_of=as_of,
                ingested_before=ingested_before,
            )
        )

    @overload
    def cross_section(
        self,
        table: type[R],
        obs_time: datetime,
        *,
        as_of: datetime,
        series_ids: int | Iterable[int] | None = None,
        ingested_before: Replay = None,
    ) -> list[R]: ...

    @overload
    def cross_section(
        self,
        table: UntypedRef,
        obs_time: datetime,
        *,
        as_of: datetime,
        series_ids: int | Iterable[int] | None = None,
        ingested_before: Replay = None,
    ) -> list[FactRow]: ...

    def cross_section(
        self,
        table: TableRef,
        obs_time: datetime,
        *,
        as_of: datetime,
        series_ids: int | Iterable[int] | None = None,
        ingested_before: Replay = None,
    ) -> list[Any]:
        """Every series' (or just ``series_ids``') value for one period, as known at
        ``as_of``, each entity at its newest version known then."""
        return self.run(_Queries.cross_section(table, obs_time, as_of, series_ids, ingested_before))

    def iter_vintages(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
        batch_rows: int = 10_000,
    ) -> Iterator[FactRow]:
        """:meth:`vintages`, streamed with a server-side cursor: memory stays bounded by
        ``batch_rows`` whatever the size of the history."""
        query = _Queries.ranged(
            table,
            "vintages",
            series_ids=series_ids,
            start=start,
            end=end,
            as_of=as_of,
            ingested_before=ingested_before,
        )
        with translate_errors(), ExitStack() as stack:
            connection = (
                stack.enter_context(self.bind.connect())
                if isinstance(self.bind, Engine)
                else self.bind
            )
            query = _with_cutoff(connection, query)
            # max_row_buffer with explicit partition sizes: measured with SQLAlchemy 2.1,
            # yield_per with partitions() kept every row (76 MB for 300k rows) while this holds
            # one buffer (under 1 MB).
            result = connection.execution_options(
                stream_results=True, max_row_buffer=batch_rows
            ).execute(text(query.sql), query.parameters)
            for partition in result.partitions(batch_rows):
                yield from query.convert(partition)

    @overload
    def vintage_dates(
        self,
        table: TableRef,
        series_ids: int,
        *,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[datetime]: ...

    @overload
    def vintage_dates(
        self,
        table: TableRef,
        series_ids: Iterable[int],
        *,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> dict[int, list[datetime]]: ...

    def vintage_dates(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Any:
        """The sorted knowledge times at which some observation of the series changed value
        (its vintages), known at ``as_of``. One id gives a list; several give a dict with every
        requested id as a key."""
        return self.run(_Queries.vintage_dates(table, series_ids, as_of, ingested_before))

    def intervals(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[AlfredInterval]:
        """ALFRED's form: each vintage known at ``as_of`` with the real-time interval it was
        current for, as known then (``realtime_end`` None: still current at ``as_of``)."""
        return self.run(
            _Queries.ranged(
                table,
                "intervals",
                series_ids=series_ids,
                start=start,
                end=end,
                as_of=as_of,
                ingested_before=ingested_before,
            )
        )

    def backtest(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        decision_times: Sequence[datetime],
        *,
        ingested_before: Replay = None,
    ) -> list[AsOfValue]:
        """The latest print of each series at each decision time (see :func:`join_as_of`):
        one read of the release stream and one pass on the client, not one query per
        decision time."""
        query, times, ids = _Queries.backtest_stream(
            table, series_ids, decision_times, ingested_before
        )
        if not times:
            return []
        stream: list[FactRow] = self.run(query)
        return join_as_of(stream, times, ids)


class AsyncReader:
    """The async twin of :class:`Reader` (asyncpg): same methods, same answers, awaited."""

    def __init__(self, bind: AsyncEngine | AsyncConnection) -> None:
        self.bind = bind

    async def run(self, query: Query[T]) -> T:
        """Execute a :class:`Query` and convert its rows."""
        with translate_errors():
            async with AsyncExitStack() as stack:
                connection = (
                    await stack.enter_async_context(self.bind.connect())
                    if isinstance(self.bind, AsyncEngine)
                    else self.bind
                )
                query = await _with_cutoff_async(connection, query)
                result = await connection.execute(text(query.sql), query.parameters)
                rows = result.all()
        return query.convert(rows)

    async def cutoff(self, *, at: datetime | None = None) -> Cutoff:
        """See :meth:`Reader.cutoff`."""
        return await self.run(_Queries.cutoff(at))

    @overload
    async def as_of(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[R]: ...

    @overload
    async def as_of(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[FactRow]: ...

    async def as_of(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[Any]:
        """See :meth:`Reader.as_of`."""
        return await self.run(
            _Queries.as_of(
                table,
                series_ids=series_ids,
                as_of=as_of,
                start=start,
                end=end,
                ingested_before=ingested_before,
            )
        )

    @overload
    async def latest(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: Replay = None,
    ) -> list[R]: ...

    @overload
    async def latest(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: Replay = None,
    ) -> list[FactRow]: ...

    async def latest(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: Replay = None,
    ) -> list[Any]:
        """See :meth:`Reader.latest`."""
        return await self.run(_Queries.latest(table, series_ids, as_of, ingested_before))

    @overload
    async def first_release(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[R]: ...

    @overload
    async def first_release(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[FactRow]: ...

    async def first_release(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[Any]:
        """See :meth:`Reader.first_release`."""
        return await self.run(
            _Queries.ranged(
                table,
                "first_release",
                series_ids=series_ids,
                start=start,
                end=end,
                as_of=as_of,
                ingested_before=ingested_before,
            )
        )

    @overload
    async def vintages(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[R]: ...

    @overload
    async def vintages(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[FactRow]: ...

    async def vintages(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[Any]:
        """See :meth:`Reader.vintages`."""
        return await self.run(
            _Queries.ranged(
                table,
                "vintages",
                series_ids=series_ids,
                start=start,
                end=end,
                as_of=as_of,
                ingested_before=ingested_before,
            )
        )

    @overload
    async def cross_section(
        self,
        table: type[R],
        obs_time: datetime,
        *,
        as_of: datetime,
        series_ids: int | Iterable[int] | None = None,
        ingested_before: Replay = None,
    ) -> list[R]: ...

    @overload
    async def cross_section(
        self,
        table: UntypedRef,
        obs_time: datetime,
        *,
        as_of: datetime,
        series_ids: int | Iterable[int] | None = None,
        ingested_before: Replay = None,
    ) -> list[FactRow]: ...

    async def cross_section(
        self,
        table: TableRef,
        obs_time: datetime,
        *,
        as_of: datetime,
        series_ids: int | Iterable[int] | None = None,
        ingested_before: Replay = None,
    ) -> list[Any]:
        """See :meth:`Reader.cross_section`."""
        return await self.run(
            _Queries.cross_section(table, obs_time, as_of, series_ids, ingested_before)
        )

    async def iter_vintages(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
        batch_rows: int = 10_000,
    ) -> AsyncIterator[FactRow]:
        """See :meth:`Reader.iter_vintages`."""
        query = _Queries.ranged(
            table,
            "vintages",
            series_ids=series_ids,
            start=start,
            end=end,
            as_of=as_of,
            ingested_before=ingested_before,
        )
        with translate_errors():
            async with AsyncExitStack() as stack:
                connection = (
                    await stack.enter_async_context(self.bind.connect())
                    if isinstance(self.bind, AsyncEngine)
                    else self.bind
                )
                query = await _with_cutoff_async(connection, query)
                result = await connection.stream(
                    text(query.sql).execution_options(max_row_buffer=batch_rows),
                    query.parameters,
                )
                async for partition in result.partitions(batch_rows):
                    for row in query.convert(partition):
                        yield row

    @overload
    async def vintage_dates(
        self,
        table: TableRef,
        series_ids: int,
        *,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[datetime]: ...

    @overload
    async def vintage_dates(
        self,
        table: TableRef,
        series_ids: Iterable[int],
        *,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> dict[int, list[datetime]]: ...

    async def vintage_dates(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Any:
        """See :meth:`Reader.vintage_dates`."""
        return await self.run(_Queries.vintage_dates(table, series_ids, as_of, ingested_before))

    async def intervals(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> list[AlfredInterval]:
        """See :meth:`Reader.intervals`."""
        return await self.run(
            _Queries.ranged(
                table,
                "intervals",
                series_ids=series_ids,
                start=start,
                end=end,
                as_of=as_of,
                ingested_before=ingested_before,
            )
        )

    async def backtest(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        decision_times: Sequence[datetime],
        *,
        ingested_before: Replay = None,
    ) -> list[AsOfValue]:
        """See :meth:`Reader.backtest`."""
        query, times, ids = _Queries.backtest_stream(
            table, series_ids, decision_times, ingested_before
        )
        if not times:
            return []
        stream: list[FactRow] = await self.run(query)
        return join_as_of(stream, times, ids)
