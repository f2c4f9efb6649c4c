"""The SQL of the point-in-time reads, one builder per query shape (shared by sync and async).

Every shape is written so the primary key ``(series_id, obs_time, [entity,] knowledge_time)``
can give the order and bounds the rows read (EXPLAIN ANALYZE tests count them):

* as of T over a range: ``DISTINCT ON`` the observation with every ORDER BY column descending,
  an exact reverse of the index (mixed directions measured 3-5x slower);
* latest print per series: a ``LATERAL ... LIMIT 1`` per series (SkipScan is missing from
  Apache builds; ``DISTINCT ON (series_id)`` over 500 series measured 4.5 s against 8-16 ms),
  over observations from ``:since`` on (the year before T, or before now for a later T,
  first: only its chunks are planned; :data:`mp_db._read_queries.LATEST_WINDOW`);
* first release: ``DISTINCT ON`` with every column ascending, the index's own order;
* vintages, vintage dates and intervals: the value changes of each observation, found with
  ``lag`` over the observation's versions in knowledge_time order (the index's order), so a
  stored restatement (kept by ``keep_republications``, or made one by a later backfill) is never
  reported as a vintage.

A read of one series binds ``series_id = :series_id`` and leaves the constant series_id out of
DISTINCT ON and ORDER BY: obs_time then leads the sort, TimescaleDB can append the chunks in
order with backward index scans and no Sort, and the scan is cheaper than ``= ANY`` of a
one-element array (measured 30-40% faster over 30 years of one daily series). Left free, the
planner prefers bitmap scans and one Sort for a one-series window of about five years and
more, which measured slower (9.8 against 5.4 ms over 30 years): those reads run with
``enable_sort`` off (:data:`mp_db._planner.INDEX_ORDER`, set by the query builder). For many
series the ``= ANY`` scan is merged across chunks in key order without a Sort already.

A read over all time (no ``start``, no ``end``) has a statement without the bounds
(``ranged=False``): bound to the ends of time, they excluded nothing and cost planning.

``obs_time <= T`` is added wherever ``knowledge_time >= obs_time`` holds (every table but the
release calendar): it is implied by ``knowledge_time <= T`` and lets TimescaleDB exclude chunks.

Every statement has a replay variant: with a cutoff it sees only rows of the ingests the cutoff
covers (:func:`visible`), and everything else (value changes, the newest observation, interval
ends) is computed over those rows alone, as if nothing else had been stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from mp_db._rows import ROW_TYPES, row_fields
from mp_db._tables import FactTable
from mp_schema.models import BOOKKEEPING_COLUMNS

__all__ = ["CUTOFF_AT_SQL", "CUTOFF_NOW_SQL", "ReadSql", "read_sql", "visible"]

#: The cutoff of "now": the newest commit and ingest this snapshot can see.
CUTOFF_NOW_SQL = (
    "SELECT coalesce(max(commit_seq), 0), coalesce(max(ingest_id), 0) FROM mp.ingest_log"
)
#: The cutoff of a past instant: the ingests whose commit was stamped at or before it.
CUTOFF_AT_SQL = (
    "SELECT coalesce(max(commit_seq), 0), coalesce(max(ingest_id), 0) FROM mp.ingest_log "
    "WHERE committed_at <= :cutoff_time"
)


@dataclass(frozen=True)
class ReadSql:
    """Every read statement of one fact table. Parameters are always bound.

    ``lean`` holds the same statements selecting no bookkeeping column
    (:data:`~mp_schema.models.BOOKKEEPING_COLUMNS`), what a frame read without them runs: a
    column selected inside a ``DISTINCT ON`` and left out around it is still produced (as a
    NULL, by a projection over every version read), which cost the as-of read of one series
    over 30 years 1.0 of its 5.0 ms of execution (20 series: 15 of 101 ms).
    """

    as_of: str
    latest: str
    first_release: str
    vintages: str
    vintage_dates: str
    intervals: str
    stream: str
    backtest: str
    cross_section: str
    cross_section_of: str
    lean: ReadSql | None = None


def visible(alias: str = "") -> str:
    """Rows of the ingests a cutoff covers: ``ingest_id`` at most the newest the cutoff saw,
    not one of the ingests that committed after it (they began before the cutoff and were in
    flight), and, for rows older than the ingest log, stored by the cutoff's time."""
    prefix = f"{alias}." if alias else ""
    return (
        f"{prefix}ingest_id <= :cutoff_ingest "
        f"AND ({prefix}ingest_id > 0 OR {prefix}ingested_at <= :cutoff_time) "
        f"AND {prefix}ingest_id <> ALL(ARRAY(SELECT l.ingest_id FROM mp.ingest_log l "
        "WHERE l.commit_seq > :cutoff_commit AND l.ingest_id <= :cutoff_ingest))"
    )


def _fields(fact: FactTable, lean: bool) -> tuple[str, ...]:
    # In the row class's field order, so rows map onto it positionally.
    fields = row_fields(ROW_TYPES[fact.name])
    return tuple(name for name in fields if name not in BOOKKEEPING_COLUMNS) if lean else fields


def _columns(fact: FactTable, alias: str = "", *, lean: bool = False) -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{column}" for column in _fields(fact, lean))


def _known(fact: FactTable, replay: bool, alias: str = "", moment: str = ":as_of") -> str:
    prefix = f"{alias}." if alias else ""
    condition = f"{prefix}knowledge_time <= {moment}"
    if fact.spec.knowledge_after_obs:
        condition += f" AND {prefix}obs_time <= {moment}"
    if replay:
        condition += f" AND {visible(alias)}"
    return condition


def _series(one: bool, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    if one:
        return f"{prefix}series_id = :series_id"
    return f"{prefix}series_id = ANY(CAST(:series_ids AS integer[]))"


def _range(one: bool, ranged: bool) -> str:
    # Unranged (all time), the bounds are left out rather than bound to the ends of time:
    # each is a clause the planner estimates for every chunk, which cost the one-series
    # as-of over 31 yearly chunks 0.47 of its 1.27 ms of planning.
    window = " AND obs_time >= :start AND obs_time < :end" if ranged else ""
    return f"{_series(one)}{window}"


def _per_series(columns: tuple[str, ...], one: bool) -> tuple[str, ...]:
    # With one series, series_id is a constant: leaving it out of DISTINCT ON and ORDER BY
    # makes obs_time the leading sort key, which TimescaleDB's ordered chunk append needs.
    return tuple(column for column in columns if column != "series_id") if one else columns


def _as_of(fact: FactTable, replay: bool, one: bool, lean: bool, ranged: bool) -> str:
    distinct = ", ".join(_per_series(fact.observation, one))
    order = ", ".join(f"{column} DESC" for column in _per_series(fact.key, one))
    return (
        f"SELECT DISTINCT ON ({distinct}) {_columns(fact, lean=lean)} FROM {fact.qualified} "
        f"WHERE {_range(one, ranged)} AND {_known(fact, replay)} ORDER BY {order}"
    )


def _latest(fact: FactTable, replay: bool, lean: bool) -> str:
    # Per series: the newest observation known at T, then every entity of that observation
    # (a whole curve, all trader categories) at its newest version known at T. Only
    # observations from :since on are looked at (see LATEST_WINDOW in mp_db._read_queries).
    distinct = ", ".join(fact.entities)
    order = ", ".join(f"{column} DESC" for column in (*fact.entities, "knowledge_time"))
    inner_known = f"t.obs_time >= :since AND {_known(fact, replay, 't')}"
    if not fact.entities:
        return (
            f"SELECT {_columns(fact, 'l', lean=lean)} FROM unnest(CAST(:series_ids AS integer[])) "
            "AS s(series_id) CROSS JOIN LATERAL ("
            f"SELECT {_columns(fact, 't', lean=lean)} FROM {fact.qualified} t "
            f"WHERE t.series_id = s.series_id AND {inner_known} "
            "ORDER BY t.obs_time DESC, t.knowledge_time DESC LIMIT 1) l"
        )
    return (
        f"SELECT {_columns(fact, 'l', lean=lean)} FROM unnest(CAST(:series_ids AS integer[])) "
        "AS s(series_id) CROSS JOIN LATERAL ("
        f"SELECT t.obs_time FROM {fact.qualified} t "
        f"WHERE t.series_id = s.series_id AND {inner_known} "
        "ORDER BY t.obs_time DESC LIMIT 1) newest CROSS JOIN LATERAL ("
        f"SELECT DISTINCT ON ({distinct}) {_columns(fact, 't', lean=lean)} "
        f"FROM {fact.qualified} t "
        f"WHERE t.series_id = s.series_id AND t.obs_time = newest.obs_time AND {inner_known} "
        f"ORDER BY {', '.join(f't.{part}' for part in order.split(', '))}) l "
        f"ORDER BY l.series_id{''.join(f', l.{entity}' for entity in fact.entities)}"
    )


def _first_release(fact: FactTable, replay: bool, one: bool, lean: bool, ranged: bool) -> str:
    # The smallest knowledge_time known at T is the first version's whenever any is known.
    distinct = ", ".join(_per_series(fact.observation, one))
    order = ", ".join(_per_series(fact.key, one))
    return (
        f"SELECT DISTINCT ON ({distinct}) {_columns(fact, lean=lean)} FROM {fact.qualified} "
        f"WHERE {_range(one, ranged)} AND {_known(fact, replay)} ORDER BY {order}"
    )


def _changes(
    fact: FactTable, replay: bool, one: bool, *, columns: str, lean: bool, ranged: bool
) -> str:
    """The value changes of each observation in range known at T: a version is kept when it
    is the first or its values differ from the version before it."""
    partition = ", ".join(_per_series(fact.observation, one))
    lags = ", ".join(f"lag({column}) OVER w AS previous_{column}" for column in fact.values)
    current = ", ".join(fact.values)
    previous = ", ".join(f"previous_{column}" for column in fact.values)
    return (
        f"SELECT {columns} FROM (SELECT {_columns(fact, lean=lean)}, "
        f"lag(knowledge_time) OVER w IS NULL AS first, {lags} FROM {fact.qualified} "
        f"WHERE {_range(one, ranged)} AND {_known(fact, replay)} "
        f"WINDOW w AS (PARTITION BY {partition} ORDER BY knowledge_time)) versions "
        f"WHERE first OR ROW({current}) IS DISTINCT FROM ROW({previous})"
    )


def _vintages(fact: FactTable, replay: bool, one: bool, lean: bool, ranged: bool) -> str:
    order = ", ".join(_per_series(fact.key, one))
    columns = _columns(fact, lean=lean)
    changes = _changes(fact, replay, one, columns=columns, lean=lean, ranged=ranged)
    return f"{changes} ORDER BY {order}"


def _intervals(fact: FactTable, replay: bool, one: bool, lean: bool, ranged: bool) -> str:
    partition = ", ".join(_per_series(fact.observation, one))
    order = ", ".join(_per_series(fact.key, one))
    columns = _columns(fact, lean=lean)
    return (
        f"SELECT {columns}, lead(knowledge_time) OVER (PARTITION BY {partition} "
        f"ORDER BY knowledge_time) AS realtime_end FROM ("
        f"{_changes(fact, replay, one, columns=columns, lean=lean, ranged=ranged)}) changes "
        f"ORDER BY {order}"
    )


def _vintage_dates(fact: FactTable, replay: bool, one: bool, ranged: bool) -> str:
    columns = "series_id, knowledge_time"
    changes = _changes(fact, replay, one, columns=columns, lean=True, ranged=ranged)
    return f"SELECT DISTINCT {columns} FROM ({changes}) changes ORDER BY series_id, knowledge_time"


def _backtest(fact: FactTable, replay: bool, lean: bool) -> str:
    """The latest print of every series at every decision time, probed on the server: per
    (decision time, series) the newest observation known then, walked backwards down the
    primary key (the :func:`_latest` shape with the decision time for ``:as_of``), and each of
    its entities at its newest version known then. A LEFT JOIN keeps one all-NULL row where
    nothing was known. Rows come in decision-time order as given (``position``), then series,
    then entity in code-point order (``COLLATE "C"``, as Python sorts)."""
    known = _known(fact, replay, "t", moment="d.decision_time")
    fields = [column for column in _fields(fact, lean) if column != "series_id"]
    selected = ", ".join(["d.decision_time", "s.series_id", *(f"l.{name}" for name in fields)])
    probes = (
        "FROM unnest(CAST(:decision_times AS timestamptz[])) WITH ORDINALITY "
        "AS d(decision_time, position) CROSS JOIN unnest(CAST(:series_ids AS integer[])) "
        "AS s(series_id) "
    )
    if not fact.entities:
        return (
            f"SELECT {selected} {probes}LEFT JOIN LATERAL (SELECT {_columns(fact, 't', lean=lean)} "
            f"FROM {fact.qualified} t WHERE t.series_id = s.series_id AND {known} "
            "ORDER BY t.obs_time DESC, t.knowledge_time DESC LIMIT 1) l ON true "
            "ORDER BY d.position, s.series_id"
        )
    distinct = ", ".join(f"t.{entity}" for entity in fact.entities)
    order = ", ".join(f"t.{column} DESC" for column in (*fact.entities, "knowledge_time"))
    entity_order = "".join(
        f", l.{entity}" + (' COLLATE "C"' if fact.column_type(entity) == "text" else "")
        for entity in fact.entities
    )
    return (
        f"SELECT {selected} {probes}LEFT JOIN LATERAL (SELECT t.obs_time "
        f"FROM {fact.qualified} t WHERE t.series_id = s.series_id AND {known} "
        "ORDER BY t.obs_time DESC LIMIT 1) newest ON true LEFT JOIN LATERAL ("
        f"SELECT DISTINCT ON ({distinct}) {_columns(fact, 't', lean=lean)} "
        f"FROM {fact.qualified} t "
        f"WHERE t.series_id = s.series_id AND t.obs_time = newest.obs_time AND {known} "
        f"ORDER BY {order}) l ON true ORDER BY d.position, s.series_id{entity_order}"
    )


def _cross_section(fact: FactTable, replay: bool, *, chosen: bool, lean: bool) -> str:
    entities = "".join(f", {entity}" for entity in fact.entities)
    series = f" AND {_series(one=False)}" if chosen else ""
    return (
        f"SELECT DISTINCT ON (series_id{entities}) {_columns(fact, lean=lean)} "
        f"FROM {fact.qualified} "
        f"WHERE obs_time = :obs_time{series} AND {_known(fact, replay)} "
        f"ORDER BY series_id{entities}, knowledge_time DESC"
    )


@cache
def read_sql(
    fact: FactTable,
    *,
    one_series: bool = False,
    replay: bool = False,
    lean: bool = False,
    ranged: bool = True,
) -> ReadSql:
    """The read statements of ``fact`` (built once, cached), their :attr:`ReadSql.lean` twins
    beside them. With ``one_series`` the range shapes take ``:series_id`` instead of the
    ``:series_ids`` array; with ``replay`` they see only the rows a cutoff covers
    (``:cutoff_commit``, ``:cutoff_ingest``, ``:cutoff_time``); with ``lean`` they select no
    bookkeeping column (and have no twin); with ``ranged`` False the range shapes read all
    time (no ``:start`` and ``:end``)."""
    one = one_series
    key_order = ", ".join(_per_series(fact.key, one))
    return ReadSql(
        as_of=_as_of(fact, replay, one, lean, ranged),
        latest=_latest(fact, replay, lean),
        first_release=_first_release(fact, replay, one, lean, ranged),
        vintages=_vintages(fact, replay, one, lean, ranged),
        vintage_dates=_vintage_dates(fact, replay, one, ranged),
        intervals=_intervals(fact, replay, one, lean, ranged),
        # The whole release stream of some series up to the last decision time, in index
        # order; the as-of join over many decision times is done by the client in one pass.
        stream=(
            f"SELECT {_columns(fact, lean=lean)} FROM {fact.qualified} "
            f"WHERE {_series(one)} AND {_known(fact, replay)} ORDER BY {key_order}"
        ),
        backtest=_backtest(fact, replay, lean),
        # Served by ix_macro_observations_cross_section (obs_time, series_id, knowledge_time
        # DESC) on macro_observations; elsewhere by the primary key and a small sort.
        cross_section=_cross_section(fact, replay, chosen=False, lean=lean),
        cross_section_of=_cross_section(fact, replay, chosen=True, lean=lean),
        lean=None
        if lean
        else read_sql(fact, one_series=one, replay=replay, lean=True, ranged=ranged),
    )
