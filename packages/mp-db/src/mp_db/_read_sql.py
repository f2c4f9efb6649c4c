"""The SQL of the point-in-time reads, one builder per query shape (shared by sync and async).

Every shape is written so the primary key ``(series_id, obs_time, [entity,] knowledge_time)``
can give the order and bounds the rows read (EXPLAIN ANALYZE tests count them):

* as of T over a range: ``DISTINCT ON`` the observation with every ORDER BY column descending,
  an exact reverse of the index (mixed directions measured 3-5x slower);
* latest print per series: a ``LATERAL ... LIMIT 1`` per series (SkipScan is missing from
  Apache builds; ``DISTINCT ON (series_id)`` over 500 series measured 4.5 s against 8-16 ms);
* first release: ``DISTINCT ON`` with every column ascending, the index's own order.

A read of one series binds ``series_id = :series_id`` and leaves the constant series_id out of
DISTINCT ON and ORDER BY: obs_time then leads the sort, TimescaleDB can append the chunks in
order with backward index scans and no Sort, and the scan is cheaper than ``= ANY`` of a
one-element array (measured 30-40% faster over 30 years of one daily series). For short
ranges, and for many series, the planner may still prefer bitmap scans and one Sort of the rows
the read has to touch anyway; both were measured within noise of each other (1-50 series x 30
years), so no planner setting is forced.

``obs_time <= T`` is added wherever ``knowledge_time >= obs_time`` holds (every table but the
release calendar): it is implied by ``knowledge_time <= T`` and lets TimescaleDB exclude chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from mp_db._rows import ROW_TYPES, row_fields
from mp_db._tables import FactTable

__all__ = ["ReadSql", "read_sql"]


@dataclass(frozen=True)
class ReadSql:
    """Every read statement of one fact table. Parameters are always bound."""

    as_of: str
    as_of_replay: str
    latest: str
    latest_replay: str
    first_release: str
    vintages: str
    vintage_dates: str
    intervals: str
    stream: str
    cross_section: str


def _columns(fact: FactTable, alias: str = "") -> str:
    # In the row class's field order, so rows map onto it positionally.
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{column}" for column in row_fields(ROW_TYPES[fact.name]))


def _known(fact: FactTable, replay: bool, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    condition = f"{prefix}knowledge_time <= :as_of"
    if fact.spec.knowledge_after_obs:
        condition += f" AND {prefix}obs_time <= :as_of"
    if replay:
        condition += f" AND {prefix}ingested_at <= :ingested_before"
    return condition


def _series(one: bool) -> str:
    return "series_id = :series_id" if one else "series_id = ANY(CAST(:series_ids AS integer[]))"


def _range(one: bool) -> str:
    return f"{_series(one)} AND obs_time >= :start AND obs_time < :end"


def _per_series(columns: tuple[str, ...], one: bool) -> tuple[str, ...]:
    # With one series, series_id is a constant: leaving it out of DISTINCT ON and ORDER BY
    # makes obs_time the leading sort key, which TimescaleDB's ordered chunk append needs.
    return tuple(column for column in columns if column != "series_id") if one else columns


def _as_of(fact: FactTable, replay: bool, one: bool) -> str:
    distinct = ", ".join(_per_series(fact.observation, one))
    order = ", ".join(f"{column} DESC" for column in _per_series(fact.key, one))
    return (
        f"SELECT DISTINCT ON ({distinct}) {_columns(fact)} FROM {fact.qualified} "
        f"WHERE {_range(one)} AND {_known(fact, replay)} ORDER BY {order}"
    )


def _latest(fact: FactTable, replay: bool) -> str:
    # Per series: the newest observation known at T, then every entity of that observation
    # (a whole curve, all trader categories) at its newest version known at T.
    distinct = ", ".join(fact.entities)
    order = ", ".join(f"{column} DESC" for column in (*fact.entities, "knowledge_time"))
    inner_known = _known(fact, replay, "t")
    if not fact.entities:
        return (
            f"SELECT {_columns(fact, 'l')} FROM unnest(CAST(:series_ids AS integer[])) "
            "AS s(series_id) CROSS JOIN LATERAL ("
            f"SELECT {_columns(fact, 't')} FROM {fact.qualified} t "
            f"WHERE t.series_id = s.series_id AND {inner_known} "
            "ORDER BY t.obs_time DESC, t.knowledge_time DESC LIMIT 1) l"
        )
    return (
        f"SELECT {_columns(fact, 'l')} FROM unnest(CAST(:series_ids AS integer[])) "
        "AS s(series_id) CROSS JOIN LATERAL ("
        f"SELECT t.obs_time FROM {fact.qualified} t "
        f"WHERE t.series_id = s.series_id AND {inner_known} "
        "ORDER BY t.obs_time DESC LIMIT 1) newest CROSS JOIN LATERAL ("
        f"SELECT DISTINCT ON ({distinct}) {_columns(fact, 't')} FROM {fact.qualified} t "
        f"WHERE t.series_id = s.series_id AND t.obs_time = newest.obs_time AND {inner_known} "
        f"ORDER BY {', '.join(f't.{part}' for part in order.split(', '))}) l"
    )


def _first_release(fact: FactTable, one: bool) -> str:
    distinct = ", ".join(_per_series(fact.observation, one))
    order = ", ".join(_per_series(fact.key, one))
    return (
        f"SELECT DISTINCT ON ({distinct}) {_columns(fact)} FROM {fact.qualified} "
        f"WHERE {_range(one)} AND knowledge_time <= :as_of ORDER BY {order}"
    )


def _intervals(fact: FactTable, one: bool) -> str:
    partition = ", ".join(_per_series(fact.observation, one))
    return (
        f"SELECT {_columns(fact)}, lead(knowledge_time) OVER (PARTITION BY {partition} "
        f"ORDER BY knowledge_time) AS realtime_end FROM {fact.qualified} "
        f"WHERE {_range(one)} ORDER BY {', '.join(_per_series(fact.key, one))}"
    )


@cache
def read_sql(fact: FactTable, *, one_series: bool = False) -> ReadSql:
    """The read statements of ``fact`` (built once, cached). With ``one_series`` the range
    shapes take ``:series_id`` instead of the ``:series_ids`` array."""
    one = one_series
    key_order = ", ".join(_per_series(fact.key, one))
    entities = "".join(f", {entity}" for entity in fact.entities)
    after_obs = " AND obs_time <= :as_of" if fact.spec.knowledge_after_obs else ""
    return ReadSql(
        as_of=_as_of(fact, replay=False, one=one),
        as_of_replay=_as_of(fact, replay=True, one=one),
        latest=_latest(fact, replay=False),
        latest_replay=_latest(fact, replay=True),
        first_release=_first_release(fact, one),
        vintages=(
            f"SELECT {_columns(fact)} FROM {fact.qualified} WHERE {_range(one)} "
            f"AND knowledge_time <= :as_of ORDER BY {key_order}"
        ),
        vintage_dates=(
            f"SELECT DISTINCT knowledge_time FROM {fact.qualified} "
            "WHERE series_id = :series_id AND knowledge_time <= :as_of "
            "ORDER BY knowledge_time"
        ),
        intervals=_intervals(fact, one),
        # The whole release stream of some series up to the last decision time, in index
        # order; the as-of join over many decision times is done by the client in one pass.
        stream=(
            f"SELECT {_columns(fact)} FROM {fact.qualified} "
            f"WHERE {_series(one)} "
            f"AND knowledge_time <= :as_of{after_obs} ORDER BY {key_order}"
        ),
        # Served by ix_macro_observations_cross_section (obs_time, series_id, knowledge_time
        # DESC) on macro_observations; elsewhere by the primary key and a small sort.
        cross_section=(
            f"SELECT DISTINCT ON (series_id{entities}) {_columns(fact)} FROM {fact.qualified} "
            "WHERE obs_time = :obs_time AND knowledge_time <= :as_of "
            f"ORDER BY series_id{entities}, knowledge_time DESC"
        ),
    )
