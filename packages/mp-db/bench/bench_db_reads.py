"""Point-in-time reads of the mp-db benchmark: mp-db's shapes against hand-written SQL.

Each shape is timed four or more ways, interleaved on the same data, every sample warm (run
once untimed just before):

* ``mp_reader_engine``: the public call on ``Reader(engine)`` (a pooled connection per call,
  with its pre-ping round trip), converted to row objects;
* ``mp_reader_connection``: the same call on ``Reader(connection)`` (one open connection);
* ``mp_sql``: the exact statement and parameters the Reader runs, rows fetched, not converted;
* baselines: the plain ``row_number()`` window query, a naive ``DISTINCT ON (series_id)``,
  or one ``latest`` query per decision time, fetched the same way as ``mp_sql``.

Every baseline is also checked to return the same versions as mp-db (untimed), and every mp
plan's node types are recorded (EXPLAIN FORMAT JSON), Sort nodes included.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from time import perf_counter
from typing import Any, TypeVar

from bench_db_common import Context, interleaved, log, ratio
from bench_db_data import AS_OF, DataSet, as_dicts, as_tuples, business_days, create_series
from sqlalchemy import Connection, text

from mp_db import AsOfValue, FactRow, MacroObservationRow, Query, Reader, ingest
from mp_db._planner import planner_settings
from mp_db._read_queries import Ranged, _Queries
from mp_db._rows import row_fields

__all__ = [
    "ReadShape",
    "as_of_shape",
    "build_shapes",
    "decision_times",
    "latest_shape",
    "measure_shape",
    "reads",
]

R = TypeVar("R")
ROW = MacroObservationRow
TABLE = "mp.macro_observations"
COLUMNS = ", ".join(row_fields(ROW))
ONE_YEAR = (datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))
CROSS_SECTION_DAY = datetime(2023, 6, 1, tzinfo=UTC)
#: Decision times at the US close, after the day's releases.
DECISION_CLOCK = time(21, 0, tzinfo=UTC)

_IDS = "series_id = ANY(CAST(:series_ids AS integer[]))"
_RANGE = "obs_time >= :start AND obs_time < :end"


def _window(partition: str, order: str, where: str, final_order: str) -> str:
    """The textbook as-of query: rank versions with row_number(), keep the first."""
    return (
        f"SELECT {COLUMNS} FROM (SELECT {COLUMNS}, row_number() OVER (PARTITION BY {partition} "
        f"ORDER BY {order}) AS rn FROM {TABLE} WHERE {where}) AS ranked WHERE rn = 1 "
        f"ORDER BY {final_order}"
    )


WINDOW_AS_OF = _window(
    "series_id, obs_time",
    "knowledge_time DESC",
    f"{_IDS} AND {_RANGE} AND knowledge_time <= :as_of",
    "series_id, obs_time",
)
WINDOW_FIRST_RELEASE = _window(
    "series_id, obs_time",
    "knowledge_time",
    f"{_IDS} AND {_RANGE} AND knowledge_time <= :as_of",
    "series_id, obs_time",
)
WINDOW_LATEST = _window(
    "series_id",
    "obs_time DESC, knowledge_time DESC",
    f"{_IDS} AND knowledge_time <= :as_of",
    "series_id",
)
WINDOW_CROSS_SECTION = _window(
    "series_id",
    "knowledge_time DESC",
    "obs_time = :obs_time AND knowledge_time <= :as_of",
    "series_id",
)
#: What one writes for "latest per series" without knowing that Apache builds lack SkipScan.
NAIVE_LATEST = (
    f"SELECT DISTINCT ON (series_id) {COLUMNS} FROM {TABLE} WHERE {_IDS} "
    "AND knowledge_time <= :as_of ORDER BY series_id, obs_time DESC, knowledge_time DESC"
)


@dataclass(frozen=True)
class Baseline:
    """Hand-written SQL; with ``loop``, run once per parameter set (one probe per time)."""

    sql: str
    parameters: dict[str, Any]
    loop: Sequence[dict[str, Any]] = ()

    def run(self, connection: Connection) -> list[Sequence[Any]]:
        """Execute and fetch every row (as mp_sql does)."""
        if not self.loop:
            return list(connection.execute(text(self.sql), self.parameters).all())
        rows: list[Sequence[Any]] = []
        for parameters in self.loop:
            found = connection.execute(text(self.sql), parameters).all()
            rows.extend((parameters["as_of"], *row) for row in found)
        return rows


@dataclass(frozen=True)
class ReadShape:
    """One read: the public call, the query it runs, and baselines that answer the same."""

    name: str
    description: str
    call: Callable[[Reader], Sequence[Any]]
    query: Query[Any]
    baselines: dict[str, Baseline] = field(default_factory=dict)
    repeats: int = 20


def decision_times(count: int, until: datetime) -> list[datetime]:
    """The last ``count`` business days at the US close that are not after ``until``."""
    days: list[datetime] = []
    current = until.date()
    while len(days) < count:
        moment = datetime.combine(current, DECISION_CLOCK)
        if current.weekday() < 5 and moment <= until:
            days.append(moment)
        current -= timedelta(days=1)
    return sorted(days)


def _with_ids(query: Query[Any], ids: Sequence[int]) -> dict[str, Any]:
    # mp binds one series as a scalar; the hand-written baselines always take the array.
    parameters = {key: value for key, value in query.parameters.items() if key != "series_id"}
    return parameters | {"series_ids": sorted(ids)}


def _as_of_query(ids: Sequence[int], start: datetime | None, end: datetime | None) -> Query[Any]:
    return _Queries.as_of(
        ROW, series_ids=ids, as_of=AS_OF, start=start, end=end, ingested_before=None
    )


def as_of_shape(
    name: str, description: str, ids: Sequence[int], span: bool, repeats: int = 20
) -> ReadShape:
    """Reader.as_of over one year (``span``) or the whole history, against the window query."""
    start, end = ONE_YEAR if span else (None, None)
    query = _as_of_query(ids, start, end)
    return ReadShape(
        name,
        description,
        lambda reader: reader.as_of(ROW, ids, as_of=AS_OF, start=start, end=end),
        query,
        {"window_row_number": Baseline(WINDOW_AS_OF, _with_ids(query, ids))},
        repeats,
    )


def latest_shape(name: str, description: str, ids: Sequence[int], repeats: int = 20) -> ReadShape:
    """Reader.latest against naive DISTINCT ON and the window query."""
    query = _Queries.latest(ROW, ids, AS_OF, None, bounded=True)
    return ReadShape(
        name,
        description,
        lambda reader: reader.latest(ROW, ids, as_of=AS_OF),
        query,
        {
            "naive_distinct_on": Baseline(NAIVE_LATEST, query.parameters),
            "window_row_number": Baseline(WINDOW_LATEST, query.parameters),
        },
        repeats,
    )


def _backtest_shape(ids: Sequence[int], times: Sequence[datetime], repeats: int) -> ReadShape:
    query = _Queries.stream(ROW, ids, max(times), None)
    latest = _Queries.latest(ROW, ids, AS_OF, None)
    probes = [{**latest.parameters, "as_of": t} for t in times]
    return ReadShape(
        f"backtest_{len(ids)}x{len(times)}",
        f"Reader.backtest: latest print of {len(ids)} series at each of {len(times):,} "
        "decision days (answered on the server, one probe per decision time and series; "
        "mp_sql and the plan: the release stream it replaced, see bench_db_columnar)",
        lambda reader: reader.backtest(ROW, ids, times),
        query,
        {"latest_per_decision_time": Baseline(latest.sql, probes[0], probes)},
        repeats,
    )


def build_shapes(
    backfill: DataSet,
    wide: DataSet,
    times: Sequence[datetime],
    *,
    repeats: int,
    backtest_repeats: int,
) -> list[ReadShape]:
    """The shapes of performance.md on the loaded data, plus first release and cross-section.

    ``backfill`` holds few series with long histories; ``wide`` many series (for latest at 100
    and 500 series and the 50-series snapshot).
    """
    one = backfill.series_ids[:1]
    years = len(backfill.days) / 261
    many = wide.series_ids[:500]
    cross = _Queries.cross_section(ROW, CROSS_SECTION_DAY, AS_OF, None, None)
    first = _Queries.ranged(
        ROW,
        Ranged.FIRST_RELEASE,
        series_ids=one,
        start=None,
        end=None,
        as_of=AS_OF,
        ingested_before=None,
    )
    return [
        as_of_shape(
            "as_of_1_series_full_history",
            f"one series, its whole {years:.0f}-year history as known at T",
            one,
            span=False,
            repeats=repeats,
        ),
        as_of_shape(
            "as_of_1_series_1_year",
            "one series, one year, as known at T",
            one,
            span=True,
            repeats=repeats,
        ),
        latest_shape(
            f"latest_{len(backfill.series_ids)}_series_long_history",
            f"latest print of the {len(backfill.series_ids)} backfill series "
            f"({years:.0f}-year histories) as known at T",
            backfill.series_ids,
            repeats,
        ),
        latest_shape(
            "latest_100_series",
            "latest print of 100 series as known at T",
            wide.series_ids[:100],
            repeats,
        ),
        latest_shape(
            f"latest_{len(many)}_series",
            f"latest print of {len(many)} series as known at T",
            many,
            repeats,
        ),
        as_of_shape(
            "snapshot_50_series",
            "vintage snapshot: 50 series, whole range, as known at T",
            wide.series_ids[:50],
            span=False,
            repeats=repeats,
        ),
        _backtest_shape(backfill.series_ids, times, backtest_repeats),
        ReadShape(
            "cross_section_all_series",
            "every series at one obs_time as known at T (cross-section index)",
            lambda reader: reader.cross_section(ROW, CROSS_SECTION_DAY, as_of=AS_OF),
            cross,
            {"window_row_number": Baseline(WINDOW_CROSS_SECTION, cross.parameters)},
            repeats,
        ),
        ReadShape(
            "first_release_1_series_full_history",
            "first print of every observation of one series (known by T)",
            lambda reader: reader.first_release(ROW, one, as_of=AS_OF),
            first,
            {"window_row_number": Baseline(WINDOW_FIRST_RELEASE, _with_ids(first, one))},
            repeats,
        ),
    ]


# -- answers and plans ---------------------------------------------------------------------------


def _versions(result: Sequence[Any]) -> set[tuple[Any, ...]]:
    """What a result says, as comparable keys: (series, obs_time, knowledge_time), prefixed by
    the decision time for backtests."""
    keys: set[tuple[Any, ...]] = set()
    for item in result:
        if isinstance(item, AsOfValue):
            if item.row is None:
                keys.add((item.decision_time, item.series_id, None, None))
                continue
            row: FactRow = item.row
            keys.add((item.decision_time, row.series_id, row.obs_time, row.knowledge_time))
        elif isinstance(item, FactRow):
            keys.add((item.series_id, item.obs_time, item.knowledge_time))
        else:
            width = 4 if isinstance(item[0], datetime) else 3
            keys.add(tuple(item[:width]))
    return keys


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def plan_summary(connection: Connection, sql: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """Node types of the plan and whether any of them sorts."""
    raw = connection.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"), parameters).scalar_one()
    document = raw if isinstance(raw, list) else json.loads(raw)
    kinds = [str(node["Node Type"]) for node in _nodes(document[0]["Plan"])]
    return {
        "has_sort": any(kind in {"Sort", "Incremental Sort"} for kind in kinds),
        "node_types": sorted(set(kinds)),
        "planned_cost": document[0]["Plan"]["Total Cost"],
    }


def _planned(
    connection: Connection,
    query: Query[Any],
    explain: Callable[[Connection, str, dict[str, Any]], R],
) -> R:
    """``explain`` (or any call on the statement) of mp's statement, under the planner
    settings the Reader runs it with."""
    with planner_settings(connection, query.planner):
        return explain(connection, query.sql, query.parameters)


def explain_analyze(connection: Connection, sql: str, parameters: dict[str, Any]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) as text: evidence for the plans file."""
    rows = connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"), parameters).all()
    return "\n".join(str(row[0]) for row in rows)


# -- measuring -----------------------------------------------------------------------------------


def _fetched(connection: Connection, sql: str, parameters: dict[str, Any]) -> int:
    """How many rows the statement returns, fetched but not converted."""
    return len(connection.execute(text(sql), parameters).all())


def _counting(baseline: Baseline, connection: Connection) -> Callable[[], int]:
    return lambda: len(baseline.run(connection))


def measure_shape(
    context: Context, connection: Connection, shape: ReadShape, plans: list[str]
) -> dict[str, Any]:
    """Time every variant of ``shape`` interleaved; check answers and plans; add the plan
    texts to ``plans``."""
    query = shape.query
    variants: dict[str, Callable[[], object]] = {
        "mp_reader_engine": lambda: len(shape.call(Reader(context.engine))),
        "mp_reader_connection": lambda: len(shape.call(Reader(connection))),
        "mp_sql": lambda: _planned(connection, query, _fetched),
    }
    for name, baseline in shape.baselines.items():
        variants[name] = _counting(baseline, connection)
    # Each sample is preceded by an untimed run of the same variant: the first query after a
    # heavy baseline (a 700 ms scan) was measured 2-4x slower than the next one (9-12 ms
    # against 3 ms), and whichever variant the rotation put there paid for it.
    timings = interleaved(variants, shape.repeats, before=lambda name: variants[name]())
    mp_answer = _versions(shape.call(Reader(connection)))
    mp_time = timings["mp_reader_connection"].median
    result: dict[str, Any] = {
        "description": shape.description,
        "rows_returned": timings["mp_reader_connection"].last,
        "repeats": shape.repeats,
        "timings": {name: timing.as_dict() for name, timing in timings.items()},
        "rows_by_variant": {name: timing.last for name, timing in timings.items()},
        "plan": _planned(connection, query, plan_summary),
        "baselines": {},
    }
    for name, baseline in shape.baselines.items():
        same = _versions(baseline.run(connection)) == mp_answer
        result["baselines"][name] = {
            "same_answer_as_mp": same,
            "speedup_of_mp_reader_connection": ratio(timings[name].median, mp_time),
            "speedup_of_mp_reader_engine": ratio(
                timings[name].median, timings["mp_reader_engine"].median
            ),
            "speedup_of_mp_sql": ratio(timings[name].median, timings["mp_sql"].median),
            "plan": plan_summary(connection, baseline.sql, baseline.parameters),
        }
    plans.append(f"== {shape.name}: mp ==\n{query.sql}\n\n")
    plans.append(_planned(connection, query, explain_analyze) + "\n\n")
    for name, baseline in shape.baselines.items():
        plans.append(f"== {shape.name}: {name} ==\n{baseline.sql}\n\n")
        plans.append(explain_analyze(connection, baseline.sql, baseline.parameters) + "\n\n")
    connection.commit()  # end the read transaction between shapes (no long-open snapshot)
    log(f"reads: {shape.name}: mp {mp_time * 1000:.2f} ms")
    return result


# -- the section ---------------------------------------------------------------------------------


def _load_wide(context: Context) -> tuple[DataSet, dict[str, Any]]:
    """Many series with short histories (latest at 100 and 500 series, snapshots)."""
    sizes = context.sizes
    ids = create_series(context.engine, "WIDE", sizes.read_series)
    # Ending at T, so every series has prints known at T.
    wide = DataSet(
        ids, tuple(business_days(sizes.read_years, last=AS_OF.date())), sizes.read_vintages
    )
    seconds = 0.0
    inserted = 0
    for part in wide.split(1_000_000):
        rows = as_dicts(as_tuples(part))
        started = perf_counter()
        inserted += ingest(context.engine, "macro_observations", rows).inserted
        seconds += perf_counter() - started
    shape = {
        "series": len(ids),
        "business_days": len(wide.days),
        "vintages": wide.vintages,
        "rows": wide.rows,
        "rows_stored": inserted,
        "mp_ingest_seconds": seconds,
    }
    return wide, shape


def reads(context: Context, backfill: DataSet) -> tuple[dict[str, Any], str]:
    """Section 2: every read shape on the backfill plus a wide data set; returns the results
    and the EXPLAIN ANALYZE texts."""
    wide, wide_shape = _load_wide(context)
    context.analyze()
    sizes = context.sizes
    times = decision_times(sizes.backtest_days, AS_OF)
    shapes = build_shapes(
        backfill,
        wide,
        times,
        repeats=sizes.read_repeats,
        backtest_repeats=sizes.backtest_repeats,
    )
    log(f"reads: {context.stored_rows():,} rows in the table; {len(shapes)} shapes")
    plans: list[str] = []
    with context.engine.connect() as connection:
        results = {shape.name: measure_shape(context, connection, shape, plans) for shape in shapes}
    summary = {
        "as_of": AS_OF.isoformat(),
        "table_rows": context.stored_rows(),
        "wide_data": wide_shape,
        "decision_times": {"count": len(times), "first": times[0].isoformat()},
        "shapes": results,
    }
    return summary, "".join(plans)
