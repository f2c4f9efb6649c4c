"""Point-in-time reads, sync (:class:`Reader`) and async (:class:`AsyncReader`).

Both build the same :class:`Query` objects (SQL from :mod:`mp_db._read_sql`, bound parameters,
a converter for the rows) and differ only in how they execute them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, overload

from sqlalchemy import Connection, Engine, Table, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import DeclarativeBase

from mp_db._errors import translate_errors
from mp_db._read_sql import ReadSql, read_sql
from mp_db._rows import ROW_TYPES, AlfredInterval, AsOfValue, FactRow
from mp_db._tables import FactTable, TableRef, resolve_table
from mp_db.exceptions import BadInputError
from mp_schema.enums import SeriesKind

__all__ = ["BEGINNING", "END_OF_TIME", "AsyncReader", "Query", "Reader", "join_as_of"]

#: Open bounds for ranges (PostgreSQL's timestamptz covers them).
BEGINNING = datetime(1, 1, 1, tzinfo=UTC)
END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)

T = TypeVar("T")
R = TypeVar("R", bound=FactRow)

#: Table references that give untyped rows (name, kind, Table, model); a row class gives
#: rows of that class.
UntypedRef = str | SeriesKind | Table | type[DeclarativeBase]


@dataclass(frozen=True)
class Query(Generic[T]):
    """A read: its SQL, its bound parameters and how to turn the fetched rows into results."""

    sql: str
    parameters: dict[str, Any]
    convert: Callable[[Sequence[Sequence[Any]]], T]


def _aware(name: str, value: datetime | None, default: datetime) -> datetime:
    if value is None:
        return default
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadInputError(
            f"{name} must be a timezone-aware datetime (a naive time is ambiguous and refused)"
        )
    return value.astimezone(UTC)


def _ids(series_ids: int | Iterable[int]) -> list[int]:
    if isinstance(series_ids, int):
        return [series_ids]
    ids = sorted({int(series_id) for series_id in series_ids})
    if not ids:
        raise BadInputError("at least one series_id is needed")
    return ids


def _series(fact: FactTable, series_ids: int | Iterable[int]) -> tuple[ReadSql, dict[str, Any]]:
    """The statements for these series and their series parameter (one series binds a scalar,
    which gives the planner an index-ordered plan; see :mod:`mp_db._read_sql`)."""
    ids = _ids(series_ids)
    if len(ids) == 1:
        return read_sql(fact, one_series=True), {"series_id": ids[0]}
    return read_sql(fact), {"series_ids": ids}


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


def join_as_of(rows: Iterable[FactRow], decision_times: Iterable[datetime]) -> list[AsOfValue]:
    """The latest print of each series as known at each decision time, in one pass.

    ``rows`` is a release stream (every version of some series). Per series the versions are
    replayed in knowledge_time order while the decision times advance; the latest print is the
    newest observation known so far, at its newest known version. O(rows + times) per series,
    instead of one query per decision time.
    """
    times = sorted({_aware("decision_time", moment, BEGINNING) for moment in decision_times})
    by_series: dict[int, list[FactRow]] = {}
    for row in rows:
        by_series.setdefault(row.series_id, []).append(row)
    result: list[AsOfValue] = []
    for series_id in sorted(by_series):
        stream = sorted(by_series[series_id], key=lambda row: row.knowledge_time)
        best: FactRow | None = None
        position = 0
        for moment in times:
            while position < len(stream) and stream[position].knowledge_time <= moment:
                candidate = stream[position]
                if best is None or (candidate.obs_time, candidate.knowledge_time) >= (
                    best.obs_time,
                    best.knowledge_time,
                ):
                    best = candidate
                position += 1
            if best is not None:
                result.append(AsOfValue(moment, best))
    return result


class _Queries:
    """Builds the query of each read; shared by both readers."""

    @staticmethod
    def as_of(
        table: TableRef,
        *,
        series_ids: int | Iterable[int],
        as_of: datetime,
        start: datetime | None,
        end: datetime | None,
        ingested_before: datetime | None,
    ) -> Query[list[FactRow]]:
        fact = resolve_table(table)
        statements, parameters = _series(fact, series_ids)
        parameters |= {
            "as_of": _aware("as_of", as_of, END_OF_TIME),
            "start": _aware("start", start, BEGINNING),
            "end": _aware("end", end, END_OF_TIME),
        }
        sql = statements.as_of
        if ingested_before is not None:
            parameters["ingested_before"] = _aware("ingested_before", ingested_before, END_OF_TIME)
            sql = statements.as_of_replay
        return Query(sql, parameters, _rows(fact, reverse=True))

    @staticmethod
    def latest(
        table: TableRef,
        series_ids: int | Iterable[int],
        as_of: datetime,
        ingested_before: datetime | None,
    ) -> Query[list[FactRow]]:
        fact = resolve_table(table)
        statements = read_sql(fact)
        parameters = {"series_ids": _ids(series_ids), "as_of": _aware("as_of", as_of, END_OF_TIME)}
        sql = statements.latest
        if ingested_before is not None:
            parameters["ingested_before"] = _aware("ingested_before", ingested_before, END_OF_TIME)
            sql = statements.latest_replay
        return Query(sql, parameters, _rows(fact))

    @staticmethod
    def ranged(
        table: TableRef,
        shape: str,
        *,
        series_ids: int | Iterable[int],
        start: datetime | None,
        end: datetime | None,
        as_of: datetime | None,
    ) -> Query[Any]:
        fact = resolve_table(table)
        statements, parameters = _series(fact, series_ids)
        parameters |= {
            "start": _aware("start", start, BEGINNING),
            "end": _aware("end", end, END_OF_TIME),
            "as_of": _aware("as_of", as_of, END_OF_TIME),
        }
        sql = getattr(statements, shape)
        convert: Callable[[Sequence[Sequence[Any]]], Any]
        convert = _intervals(fact) if shape == "intervals" else _rows(fact)
        return Query(sql, parameters, convert)

    @staticmethod
    def vintage_dates(
        table: TableRef, series_id: int, as_of: datetime | None
    ) -> Query[list[datetime]]:
        fact = resolve_table(table)
        return Query(
            read_sql(fact).vintage_dates,
            {"series_id": int(series_id), "as_of": _aware("as_of", as_of, END_OF_TIME)},
            lambda rows: [row[0] for row in rows],
        )

    @staticmethod
    def stream(
        table: TableRef, series_ids: int | Iterable[int], until: datetime
    ) -> Query[list[FactRow]]:
        fact = resolve_table(table)
        statements, parameters = _series(fact, series_ids)
        parameters["as_of"] = _aware("until", until, END_OF_TIME)
        return Query(statements.stream, parameters, _rows(fact))

    @staticmethod
    def cross_section(table: TableRef, obs_time: datetime, as_of: datetime) -> Query[list[FactRow]]:
        fact = resolve_table(table)
        return Query(
            read_sql(fact).cross_section,
            {
                "obs_time": _aware("obs_time", obs_time, BEGINNING),
                "as_of": _aware("as_of", as_of, END_OF_TIME),
            },
            _rows(fact),
        )


class Reader:
    """Point-in-time reads over a sync engine or connection (psycopg 3).

    Every method takes timezone-aware datetimes; a naive one is refused. Results are plain row
    objects in time order; name the table by its row class (``MacroObservationRow``) to have
    them typed as such.

    Args:
        bind: an Engine (a connection is taken per call; use the read engine to reach a
            replica) or a Connection (reads join its transaction, e.g. a REPEATABLE READ
            snapshot across several reads).
    """

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind

    def run(self, query: Query[T]) -> T:
        """Execute a :class:`Query` and convert its rows."""
        with translate_errors():
            if isinstance(self.bind, Engine):
                with self.bind.connect() as connection:
                    rows = connection.execute(text(query.sql), query.parameters).all()
            else:
                rows = self.bind.execute(text(query.sql), query.parameters).all()
        return query.convert(rows)

    @overload
    def as_of(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: datetime | None = None,
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
        ingested_before: datetime | None = None,
    ) -> list[FactRow]: ...

    def as_of(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: datetime | None = None,
    ) -> list[Any]:
        """Each observation in [start, end) at its latest version known at ``as_of``.

        With ``ingested_before``, only rows mp had stored by then count (strict replay of a
        past run). Nothing with knowledge_time after ``as_of`` is ever returned."""
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
        ingested_before: datetime | None = None,
    ) -> list[R]: ...

    @overload
    def latest(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: datetime | None = None,
    ) -> list[FactRow]: ...

    def latest(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: datetime | None = None,
    ) -> list[Any]:
        """The latest print of each series as known at ``as_of`` (one row per series, or per
        entity of its newest observation for curves, positioning and signals)."""
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
    ) -> list[FactRow]: ...

    def first_release(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
    ) -> list[Any]:
        """What was first printed for each observation in [start, end) (known by ``as_of``)."""
        return self.run(
            _Queries.ranged(
                table, "first_release", series_ids=series_ids, start=start, end=end, as_of=as_of
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
    ) -> list[FactRow]: ...

    def vintages(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
    ) -> list[Any]:
        """Every stored version, ordered by observation then knowledge_time."""
        return self.run(
            _Queries.ranged(
                table, "vintages", series_ids=series_ids, start=start, end=end, as_of=as_of
            )
        )

    @overload
    def cross_section(
        self,
        table: type[R],
        obs_time: datetime,
        *,
        as_of: datetime,
    ) -> list[R]: ...

    @overload
    def cross_section(
        self,
        table: UntypedRef,
        obs_time: datetime,
        *,
        as_of: datetime,
    ) -> list[FactRow]: ...

    def cross_section(
        self,
        table: TableRef,
        obs_time: datetime,
        *,
        as_of: datetime,
    ) -> list[Any]:
        """Every series' value for one period, as known at ``as_of``."""
        return self.run(_Queries.cross_section(table, obs_time, as_of))

    def iter_vintages(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        batch_rows: int = 10_000,
    ) -> Iterator[FactRow]:
        """Every stored version, streamed with a server-side cursor: memory stays bounded by
        ``batch_rows`` whatever the size of the history."""
        query = _Queries.ranged(
            table, "vintages", series_ids=series_ids, start=start, end=end, as_of=as_of
        )
        with translate_errors(), ExitStack() as stack:
            connection = (
                stack.enter_context(self.bind.connect())
                if isinstance(self.bind, Engine)
                else self.bind
            )
            # max_row_buffer with explicit partition sizes: measured with SQLAlchemy 2.1,
            # yield_per with partitions() kept every row (76 MB for 300k rows) while this holds
            # one buffer (under 1 MB).
            result = connection.execution_options(
                stream_results=True, max_row_buffer=batch_rows
            ).execute(text(query.sql), query.parameters)
            for partition in result.partitions(batch_rows):
                yield from query.convert(partition)

    def vintage_dates(
        self, table: TableRef, series_id: int, *, as_of: datetime | None = None
    ) -> list[datetime]:
        """The distinct knowledge times at which the series changed (its vintages)."""
        return self.run(_Queries.vintage_dates(table, series_id, as_of))

    def intervals(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[AlfredInterval]:
        """ALFRED's form: each version with the real-time interval it was current for."""
        return self.run(
            _Queries.ranged(
                table, "intervals", series_ids=series_ids, start=start, end=end, as_of=None
            )
        )

    def backtest(
        self, table: TableRef, series_ids: int | Iterable[int], decision_times: Sequence[datetime]
    ) -> list[AsOfValue]:
        """The latest print of each series at each decision time: one read of the release
        stream and one pass on the client, not one query per decision time."""
        if not decision_times:
            return []
        until = max(_aware("decision_time", moment, END_OF_TIME) for moment in decision_times)
        stream: list[FactRow] = self.run(_Queries.stream(table, series_ids, until))
        return join_as_of(stream, decision_times)


class AsyncReader:
    """The async twin of :class:`Reader` (asyncpg): same methods, awaited."""

    def __init__(self, bind: AsyncEngine | AsyncConnection) -> None:
        self.bind = bind

    async def run(self, query: Query[T]) -> T:
        """Execute a :class:`Query` and convert its rows."""
        with translate_errors():
            if isinstance(self.bind, AsyncEngine):
                async with self.bind.connect() as connection:
                    result = await connection.execute(text(query.sql), query.parameters)
            else:
                result = await self.bind.execute(text(query.sql), query.parameters)
            rows = result.all()
        return query.convert(rows)

    @overload
    async def as_of(
        self,
        table: type[R],
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: datetime | None = None,
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
        ingested_before: datetime | None = None,
    ) -> list[FactRow]: ...

    async def as_of(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: datetime | None = None,
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
        ingested_before: datetime | None = None,
    ) -> list[R]: ...

    @overload
    async def latest(
        self,
        table: UntypedRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: datetime | None = None,
    ) -> list[FactRow]: ...

    async def latest(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: datetime | None = None,
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
    ) -> list[FactRow]: ...

    async def first_release(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
    ) -> list[Any]:
        """See :meth:`Reader.first_release`."""
        return await self.run(
            _Queries.ranged(
                table, "first_release", series_ids=series_ids, start=start, end=end, as_of=as_of
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
    ) -> list[FactRow]: ...

    async def vintages(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
    ) -> list[Any]:
        """See :meth:`Reader.vintages`."""
        return await self.run(
            _Queries.ranged(
                table, "vintages", series_ids=series_ids, start=start, end=end, as_of=as_of
            )
        )

    @overload
    async def cross_section(
        self,
        table: type[R],
        obs_time: datetime,
        *,
        as_of: datetime,
    ) -> list[R]: ...

    @overload
    async def cross_section(
        self,
        table: UntypedRef,
        obs_time: datetime,
        *,
        as_of: datetime,
    ) -> list[FactRow]: ...

    async def cross_section(
        self,
        table: TableRef,
        obs_time: datetime,
        *,
        as_of: datetime,
    ) -> list[Any]:
        """See :meth:`Reader.cross_section`."""
        return await self.run(_Queries.cross_section(table, obs_time, as_of))

    async def iter_vintages(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        batch_rows: int = 10_000,
    ) -> AsyncIterator[FactRow]:
        """See :meth:`Reader.iter_vintages`."""
        query = _Queries.ranged(
            table, "vintages", series_ids=series_ids, start=start, end=end, as_of=as_of
        )
        with translate_errors():
            async with AsyncExitStack() as stack:
                connection = (
                    await stack.enter_async_context(self.bind.connect())
                    if isinstance(self.bind, AsyncEngine)
                    else self.bind
                )
                result = await connection.stream(
                    text(query.sql).execution_options(max_row_buffer=batch_rows),
                    query.parameters,
                )
                async for partition in result.partitions(batch_rows):
                    for row in query.convert(partition):
                        yield row

    async def vintage_dates(
        self, table: TableRef, series_id: int, *, as_of: datetime | None = None
    ) -> list[datetime]:
        """See :meth:`Reader.vintage_dates`."""
        return await self.run(_Queries.vintage_dates(table, series_id, as_of))

    async def intervals(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[AlfredInterval]:
        """See :meth:`Reader.intervals`."""
        return await self.run(
            _Queries.ranged(
                table, "intervals", series_ids=series_ids, start=start, end=end, as_of=None
            )
        )

    async def backtest(
        self, table: TableRef, series_ids: int | Iterable[int], decision_times: Sequence[datetime]
    ) -> list[AsOfValue]:
        """See :meth:`Reader.backtest`."""
        if not decision_times:
            return []
        until = max(_aware("decision_time", moment, END_OF_TIME) for moment in decision_times)
        stream: list[FactRow] = await self.run(_Queries.stream(table, series_ids, until))
        return join_as_of(stream, decision_times)
