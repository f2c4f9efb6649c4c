"""The pure half of every read: its :class:`Query` (statement, bound parameters, converter).

Arguments are checked and normalized here, statements chosen (:class:`Ranged`), and fetched
rows turned into answers (the ``convert`` of each query); :func:`join_as_of` is the backtest's
client-side pass. Nothing here does I/O: :mod:`mp_db._reads` runs these queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import cache
from numbers import Integral
from typing import Any, Generic, TypeVar

from sqlalchemy import Table
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
from mp_db._columnar import Column, fact_columns
from mp_db._columnar_fetch import Columnar
from mp_db._cutoff import Cutoff
from mp_db._planner import INDEX_ORDER, NO_RUNTIME_EXCLUSION, PlannerSettings
from mp_db._read_sql import CUTOFF_AT_SQL, CUTOFF_NOW_SQL, ReadSql, read_sql
from mp_db._rows import ROW_TYPES, AlfredInterval, AsOfValue, FactRow, build
from mp_db._tables import FactTable, TableRef, resolve_table
from mp_schema.enums import SeriesKind

__all__ = [
    "LATEST_WINDOW",
    "Query",
    "Ranged",
    "Replay",
    "UntypedRef",
    "join_as_of",
    "unanswered",
    "unbounded",
]

T = TypeVar("T")

#: Windows longer than this get :data:`~mp_db._planner.INDEX_ORDER` (one series).
_A_YEAR = timedelta(days=366)

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
    ``columnar`` says how the read is answered as a table (the frame readers); None: rows
    only. ``planner`` holds settings the statement runs with (:mod:`mp_db._planner`).
    ``bounded``: a latest print that looks only at observations from ``:since`` on; when it
    finds nothing for some series, the read runs it again over all time (:func:`unbounded`).
    """

    sql: str
    parameters: dict[str, Any]
    convert: Callable[[Sequence[Sequence[Any]]], T]
    cutoff_at: datetime | None = field(default=None)
    columnar: Columnar | None = field(default=None)
    planner: PlannerSettings = field(default=())
    bounded: bool = field(default=False)

    def resolved(self, cutoff: Sequence[Any] | None) -> Query[T]:
        """This query with the cutoff of ``cutoff_at`` (a row of CUTOFF_AT_SQL) bound."""
        if cutoff is None:
            return self
        commit, ingest = int(cutoff[0]), int(cutoff[1])
        parameters = self.parameters | {"cutoff_commit": commit, "cutoff_ingest": ingest}
        return replace(self, parameters=parameters, cutoff_at=None)


#: How far before T a latest print is looked for first. Planning a statement over a
#: hypertable costs per chunk it may touch: the latest print of 20 series over 31 yearly chunks
#: planned in 1.25 ms and ran in 0.28; bounded to the year before T it planned in 0.19 and ran
#: in 0.17 (500 series: 1.45 -> 0.29 ms planning). The newest observation known at T is in the
#: window whenever any observation known at T is, so a series answered there is answered
#: exactly. When a series has nothing known in it (annual data, a series that stopped), the
#: read is answered by the same statement over all time instead (one statement: one snapshot).
LATEST_WINDOW = timedelta(days=366)


def unbounded(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of a bounded latest print (:attr:`Query.bounded`) over all time."""
    return {**parameters, "since": BEGINNING}


def unanswered(parameters: Mapping[str, Any], found: Iterable[int]) -> bool:
    """Whether ``found`` (the series ids of a bounded latest print's answer) leaves out some
    series of its ``parameters``."""
    return not set(parameters["series_ids"]) <= set(found)


def _replay(ingested_before: Replay) -> tuple[bool, dict[str, Any], datetime | None]:
    """Whether a read replays, its cutoff parameters, and the datetime still to resolve."""
    if ingested_before is None:
        return False, {}, None
    if isinstance(ingested_before, Cutoff):
        return True, ingested_before.parameters(), None
    moment = instant("ingested_before", ingested_before)
    return True, {"cutoff_time": moment}, moment


def _statements(
    fact: FactTable,
    series_ids: Any,
    ingested_before: Replay,
    *,
    by_series: bool = True,
    ranged: bool = True,
) -> tuple[ReadSql, dict[str, Any], datetime | None]:
    """The statements for these series and their parameters: one series binds a scalar (an
    index-ordered plan, see :mod:`mp_db._read_sql`), several an array. ``ranged`` False: the
    range shapes read all time (their statements have no bounds)."""
    replay, parameters, cutoff_at = _replay(ingested_before)
    if series_ids is None:
        return read_sql(fact, replay=replay, ranged=ranged), parameters, cutoff_at
    ids = series_list(series_ids)
    if by_series and len(ids) == 1:
        return (
            read_sql(fact, one_series=True, replay=replay, ranged=ranged),
            parameters | {"series_id": ids[0]},
            cutoff_at,
        )
    statements = read_sql(fact, replay=replay, ranged=ranged)
    return statements, parameters | {"series_ids": ids}, cutoff_at


def _rows(
    fact: FactTable, *, reverse: bool = False
) -> Callable[[Sequence[Sequence[Any]]], list[FactRow]]:
    row_type = ROW_TYPES[fact.name]

    def convert(rows: Sequence[Sequence[Any]]) -> list[FactRow]:
        # The as-of shape walks the index backwards (so no Sort node); callers want time order.
        return build(row_type, rows[::-1] if reverse else rows)

    return convert


def _table(fact: FactTable, lean: str, *, reverse: bool = False) -> Columnar:
    """The table of ``fact``'s rows, fetched without the bookkeeping columns by ``lean``."""
    return Columnar(fact_columns(fact), reverse, lean=lean)


def _twin(statements: ReadSql) -> ReadSql:
    """The statements' :attr:`~mp_db._read_sql.ReadSql.lean` twins."""
    assert statements.lean is not None, "the lean statements have no twins of their own"
    return statements.lean


def _intervals(fact: FactTable) -> Callable[[Sequence[Sequence[Any]]], list[AlfredInterval]]:
    row_type = ROW_TYPES[fact.name]

    def convert(rows: Sequence[Sequence[Any]]) -> list[AlfredInterval]:
        versions = build(row_type, [row[:-1] for row in rows])
        spans = [
            (version, version.knowledge_time, row[-1])
            for version, row in zip(versions, rows, strict=True)
        ]
        return build(AlfredInterval, spans)

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
        statements, parameters, cutoff_at = _statements(
            fact, series_ids, ingested_before, ranged=_ranged(start, end)
        )
        parameters |= _window(start, end) | {"as_of": instant("as_of", as_of)}
        table_of = _table(fact, _twin(statements).as_of, reverse=True)
        return Query(
            statements.as_of,
            parameters,
            _rows(fact, reverse=True),
            cutoff_at,
            table_of,
            planner=_index_order(parameters),
        )

    @staticmethod
    def latest(
        table: TableRef,
        series_ids: Any,
        as_of: Any,
        ingested_before: Replay,
        *,
        bounded: bool = False,
    ) -> Query[list[FactRow]]:
        """``bounded``: look in the :data:`LATEST_WINDOW` before T (or before now, when T is
        later) first (:attr:`Query.bounded`); otherwise over all time."""
        fact = resolve_table(table)
        statements, parameters, cutoff_at = _statements(
            fact, series_ids, ingested_before, by_series=False
        )
        moment = instant("as_of", as_of)
        # Any lower bound gives the exact answer (the fallback reads all time); the year before
        # T finds most answers, before now for a T later than now (CachedReader's latest-value
        # entries ask as of the end of time).
        latest_known = min(moment, datetime.now(UTC))
        bounded = bounded and latest_known - BEGINNING > LATEST_WINDOW
        since = latest_known - LATEST_WINDOW if bounded else BEGINNING
        parameters |= {"as_of": moment, "since": since}
        return Query(
            statements.latest,
            parameters,
            _rows(fact),
            cutoff_at,
            _table(fact, _twin(statements).latest),
            bounded=bounded,
        )

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
        statements, parameters, cutoff_at = _statements(
            fact, series_ids, ingested_before, ranged=_ranged(start, end)
        )
        parameters |= _window(start, end)
        parameters["as_of"] = optional_instant("as_of", as_of, END_OF_TIME)
        convert: Callable[[Sequence[Sequence[Any]]], Any]
        convert = _intervals(fact) if shape is Ranged.INTERVALS else _rows(fact)
        table_of = _table(fact, shape.statement(_twin(statements)))
        if shape is Ranged.INTERVALS:
            end = Column("realtime_end", "timestamptz", nullable=True)
            table_of = replace(table_of, columns=(*table_of.columns, end))
        planner = _index_order(parameters) if shape is Ranged.FIRST_RELEASE else ()
        return Query(
            shape.statement(statements), parameters, convert, cutoff_at, table_of, planner=planner
        )

    @staticmethod
    def vintage_dates(
        table: TableRef, series_ids: Any, as_of: Any, ingested_before: Replay
    ) -> Query[Any]:
        fact = resolve_table(table)
        statements, parameters, cutoff_at = _statements(
            fact, series_ids, ingested_before, ranged=False
        )
        parameters["as_of"] = optional_instant("as_of", as_of, END_OF_TIME)
        ids = series_list(series_ids)
        single = isinstance(series_ids, Integral)

        def convert(rows: Sequence[Sequence[Any]]) -> Any:
            found: dict[int, list[datetime]] = {series_id: [] for series_id in ids}
            for series_id, moment in rows:
                found[int(series_id)].append(moment)
            return found[ids[0]] if single else found

        table_of = Columnar((Column("series_id", "int4"), Column("knowledge_time", "timestamptz")))
        return Query(statements.vintage_dates, parameters, convert, cutoff_at, table_of)

    @staticmethod
    def stream(
        table: TableRef, series_ids: Any, until: datetime, ingested_before: Replay
    ) -> Query[list[FactRow]]:
        fact = resolve_table(table)
        statements, parameters, cutoff_at = _statements(fact, series_ids, ingested_before)
        parameters["as_of"] = until
        table_of = _table(fact, _twin(statements).stream)
        return Query(statements.stream, parameters, _rows(fact), cutoff_at, table_of)

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

        def chosen(among: ReadSql) -> str:
            return among.cross_section if series_ids is None else among.cross_section_of

        table_of = _table(fact, chosen(_twin(statements)))
        return Query(chosen(statements), parameters, _rows(fact), cutoff_at, table_of)

    @staticmethod
    def backtest_stream(
        table: TableRef, series_ids: Any, decision_times: Sequence[Any], ingested_before: Replay
    ) -> tuple[Query[list[FactRow]], list[datetime], list[int]]:
        times = [instant("decision_time", moment) for moment in decision_times]
        ids = series_list(series_ids)
        until = max(times, default=BEGINNING)
        return _Queries.stream(table, ids, until, ingested_before), times, ids

    @staticmethod
    def backtest(
        table: TableRef, series_ids: Any, decision_times: Sequence[Any], ingested_before: Replay
    ) -> Query[list[AsOfValue]]:
        """The backtest answered on the server (:func:`mp_db._read_sql._backtest`): one probe
        per decision time and series down the primary key, instead of the release stream."""
        fact = resolve_table(table)
        times = [instant("decision_time", moment) for moment in decision_times]
        ids = sorted(set(series_list(series_ids)))
        replay, parameters, cutoff_at = _replay(ingested_before)
        parameters |= {"decision_times": times, "series_ids": ids}
        row_type = ROW_TYPES[fact.name]

        def convert(rows: Sequence[Sequence[Any]]) -> list[AsOfValue]:
            # Column 2 is obs_time, NULL only where the LEFT JOIN found nothing.
            found = iter(build(row_type, [row[1:] for row in rows if row[2] is not None]))
            asked = [(row[0], row[1], None if row[2] is None else next(found)) for row in rows]
            return build(AsOfValue, asked)

        columns = (
            Column("decision_time", "timestamptz"),
            Column("series_id", "int4"),
            *fact_columns(fact, nullable=True)[1:],
        )
        statements = read_sql(fact, replay=replay)
        table_of = Columnar(columns, lean=_twin(statements).backtest)
        return Query(
            statements.backtest,
            parameters,
            convert,
            cutoff_at,
            table_of,
            planner=NO_RUNTIME_EXCLUSION,
        )

    @staticmethod
    def cutoff(at: Any) -> Query[Cutoff]:
        def convert(rows: Sequence[Sequence[Any]]) -> Cutoff:
            commit, ingest = rows[0]
            return Cutoff(int(commit), int(ingest))

        if at is None:
            return Query(CUTOFF_NOW_SQL, {}, convert)
        return Query(CUTOFF_AT_SQL, {"cutoff_time": instant("at", at)}, convert)


def _index_order(parameters: Mapping[str, Any]) -> PlannerSettings:
    """:data:`~mp_db._planner.INDEX_ORDER` for a one-series read of a window over a year long
    (for shorter ones the planner takes the index's order by itself, and the row readers would
    pay two statements for the setting)."""
    if "series_id" not in parameters:
        return ()
    return INDEX_ORDER if parameters["end"] - parameters["start"] > _A_YEAR else ()


def _ranged(start: Any, end: Any) -> bool:
    """Whether a read's window is bounded at either end (None and None: all time)."""
    return start is not None or end is not None


def _window(start: Any, end: Any) -> dict[str, datetime]:
    low, high = period("start", start, BEGINNING), period("end", end, END_OF_TIME)
    checked_range(low, high)
    return {"start": low, "end": high}
