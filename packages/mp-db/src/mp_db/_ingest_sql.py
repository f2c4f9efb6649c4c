"""The SQL of idempotent, revision-aware ingest, built once per fact table from its spec.

One batch, one transaction:

1. lock: a shared table lock plus an exclusive lock per series (an exclusive table lock for
   batches touching very many series), in sorted order so writers cannot deadlock; this keeps
   revision numbers consistent while two connectors write the same series. Then ROW
   EXCLUSIVE on every chunk the batch's obs_time span meets, before the batch reads anything.
   ``compress_chunk`` takes EXCLUSIVE on a chunk and later ACCESS EXCLUSIVE (to truncate it);
   an ingest that had only read the chunk when compression took EXCLUSIVE would wait for it
   when inserting while compression waits for the ingest's read lock: a deadlock. Taking the
   write lock first makes the two queue instead, whichever comes first finishing first (see
   docs/operations.md, "Compression and ingest").
2. stage: binary COPY into a session-private temporary table (created once per connection, so
   asyncpg's cached statements never point at a dropped table).
3. log: ``mp.begin_ingest`` records the ingest in ``mp.ingest_log``; every row stored carries
   its ``ingest_id``, and the commit gives it its place in commit order (strict replay).
4. merge: one statement that puts the staged rows next to the stored versions of the same
   observations, orders each observation's versions by knowledge_time and inserts only rows
   that differ from the version before them (an unchanged re-publication inserts nothing, the
   ALFRED rule), numbering revisions, with ``ON CONFLICT DO NOTHING`` so a re-run is a no-op.
   Two shortcuts keep the common cases near raw COPY speed: rows identical to stored rows (a
   re-run) are deleted from staging first with one index probe each, and when nothing at all is
   stored for the chunk's series and periods (a first load, checked under the locks), the
   versions are compared in Python and COPYed straight into the hypertable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from mp_db._tables import FactTable

__all__ = ["IngestProgress", "IngestReport", "IngestSql", "ingest_sql"]

#: Sorting a chunk of staged rows with their stored history in memory instead of on disk
#: (measured: an external merge sort of 10 MB at the default work_mem).
INGEST_WORK_MEM = "256MB"

#: Above this many series in one batch, one exclusive table lock replaces per-series locks
#: (PostgreSQL's lock table holds about max_locks_per_transaction x max_connections entries).
PER_SERIES_LOCK_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ingest call did.

    Every received row is counted in exactly one of ``inserted``, ``unchanged``,
    ``already_stored``, ``conflicts`` and ``duplicates_dropped``, so they add up to
    ``received``.

    Attributes:
        table: the fact table.
        ingest_id: the ingest's row in ``mp.ingest_log`` (every row it stored carries it); 0
            when the batch was empty.
        received: rows in the batch.
        inserted: rows stored: first versions, revisions and (with ``keep_republications``)
            restatements.
        revisions: of those, rows whose values differ from the version before them.
        republications: of those, restatements of the version before them (stored only with
            ``keep_republications``).
        unchanged: rows equal to the version before them, not stored (the ALFRED rule).
        already_stored: rows identical to a stored row (a re-run).
        conflicts: rows whose key is stored with different values; the stored row is kept and
            the batch row plays no part in the comparison of the others.
        duplicates_dropped: exact copies of another row of the batch.
        chunks: COPY chunks used.
        elapsed_seconds: wall time of the whole call, validation included.
    """

    table: str
    ingest_id: int
    received: int
    inserted: int
    revisions: int
    republications: int
    unchanged: int
    already_stored: int
    conflicts: int
    duplicates_dropped: int
    chunks: int
    elapsed_seconds: float

    @property
    def skipped(self) -> int:
        """Rows not stored because storing them would add nothing."""
        return self.unchanged + self.already_stored + self.duplicates_dropped


@dataclass(frozen=True, slots=True)
class IngestProgress:
    """Progress of a long ingest, reported after each chunk."""

    table: str
    rows_done: int
    rows_total: int
    chunk: int
    chunks: int
    elapsed_seconds: float


@dataclass(frozen=True)
class IngestSql:
    """Every statement ingest needs for one table."""

    staging: str
    create_staging: str
    truncate_staging: str
    copy: str
    lock_series: str
    lock_table_shared: str
    lock_table_exclusive: str
    chunks_to_lock: str
    merge: str
    copy_target: str
    stored_in_range: str
    drop_already_stored: str
    series_kinds: str
    known_instruments: str
    begin_ingest: str


def _staging_definition(fact: FactTable) -> str:
    columns = []
    for name in fact.staged:
        sql_type = fact.column_type(name)
        if sql_type == "text" and fact.max_length(name):
            sql_type = f"varchar({fact.max_length(name)})"
        columns.append(f"{name} {sql_type}")
    return ", ".join(columns)


def _merge(fact: FactTable, staging: str) -> str:
    observation = ", ".join(fact.observation)
    key = ", ".join(fact.key)
    values = ", ".join(fact.values)
    on_observation = " AND ".join(f"t.{column} = k.{column}" for column in fact.observation)
    on_key = " AND ".join(f"t.{column} = s.{column}" for column in fact.key)
    staged_values = ", ".join(f"s.{column}" for column in fact.values)
    stored_values = ", ".join(f"t.{column}" for column in fact.values)
    lags = ", ".join(f"lag({column}) OVER w AS previous_{column}" for column in fact.values)
    current = ", ".join(f"c.{column}" for column in fact.values)
    previous = ", ".join(f"c.previous_{column}" for column in fact.values)
    same = f"ROW({current}) IS NOT DISTINCT FROM ROW({previous})"
    return f"""
WITH staged AS (
    SELECT {key}, {values}, knowledge_time_source FROM pg_temp.{staging}
),
keys AS (
    SELECT DISTINCT {observation} FROM staged
),
stored AS (
    SELECT t.* FROM {fact.qualified} t JOIN keys k ON {on_observation}
    WHERE t.series_id = ANY(CAST(:series_ids AS integer[]))
      AND t.obs_time >= :low AND t.obs_time <= :high
),
-- A staged row whose key is stored already is settled before any comparison: identical, or a
-- conflict (the stored row wins). A conflicting row is never the version before another one.
classified AS (
    SELECT s.*,
        CASE
            WHEN t.knowledge_time IS NULL THEN 'candidate'
            WHEN ROW({staged_values}) IS NOT DISTINCT FROM ROW({stored_values})
                THEN 'already_stored'
            ELSE 'conflict'
        END AS settled
    FROM staged s LEFT JOIN stored t ON {on_key}
),
history AS (
    SELECT {key}, {values}, NULL::varchar AS knowledge_time_source, false AS staged FROM stored
    UNION ALL
    SELECT {key}, {values}, knowledge_time_source, true FROM classified
    WHERE settled = 'candidate'
),
compared AS (
    SELECT h.*, lag(knowledge_time) OVER w IS NULL AS first, {lags}
    FROM history h
    WINDOW w AS (PARTITION BY {observation} ORDER BY knowledge_time)
),
judged AS (
    SELECT c.*,
        CASE
            WHEN NOT c.staged THEN 'stored'
            WHEN c.first OR NOT {same} THEN 'new'
            ELSE 'unchanged'
        END AS verdict,
        (c.first OR NOT {same}) AS changed
    FROM compared c
),
numbered AS (
    -- A revision number counts the value changes before a version (a restatement keeps the
    -- number of the version it restates).
    SELECT j.*, count(*) FILTER (WHERE j.changed) OVER (
        PARTITION BY {observation} ORDER BY knowledge_time ROWS UNBOUNDED PRECEDING) - 1
        AS new_revision
    FROM judged j
),
inserted AS (
    INSERT INTO {fact.qualified}
        ({key}, {values}, knowledge_time_source, revision, ingested_at, ingest_id)
    SELECT {key}, {values}, knowledge_time_source, LEAST(new_revision, 32767)::smallint, now(),
        CAST(:ingest_id AS bigint)
    FROM numbered
    WHERE verdict = 'new' OR (verdict = 'unchanged' AND CAST(:keep_republications AS boolean))
    ON CONFLICT DO NOTHING
    RETURNING revision
)
SELECT (SELECT count(*) FROM inserted),
       (SELECT count(*) FROM numbered WHERE verdict = 'new' AND NOT first),
       (SELECT count(*) FROM numbered WHERE verdict = 'unchanged'),
       (SELECT count(*) FROM classified WHERE settled = 'already_stored'),
       (SELECT count(*) FROM classified WHERE settled = 'conflict')"""


def _drop_already_stored(fact: FactTable, staging: str) -> str:
    """Remove staged rows identical to a stored row (a re-run): one index probe per row, and
    the merge then only looks at what is really new."""
    join = " AND ".join(f"t.{column} = s.{column}" for column in fact.key)
    current = ", ".join(f"s.{column}" for column in fact.values)
    stored = ", ".join(f"t.{column}" for column in fact.values)
    return (
        f"DELETE FROM pg_temp.{staging} s USING {fact.qualified} t WHERE {join} "
        f"AND ROW({current}) IS NOT DISTINCT FROM ROW({stored}) "
        "AND t.series_id = ANY(CAST(:series_ids AS integer[])) "
        "AND t.obs_time >= :low AND t.obs_time <= :high"
    )


@cache
def ingest_sql(fact: FactTable) -> IngestSql:
    """The statements for ``fact`` (built once, cached)."""
    staging = f"mp_staging_{fact.name}"
    columns = ", ".join(fact.staged)
    lock = fact.lock_key
    return IngestSql(
        staging=staging,
        # ON COMMIT DELETE ROWS, not DROP: the table lives as long as the connection, so the
        # statements that name it stay valid in asyncpg's prepared-statement cache.
        create_staging=(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} "
            f"({_staging_definition(fact)}) ON COMMIT DELETE ROWS"
        ),
        truncate_staging=f"TRUNCATE pg_temp.{staging}",
        copy=f"COPY pg_temp.{staging} ({columns}) FROM STDIN (FORMAT BINARY)",
        lock_series=(
            f"SELECT count(pg_advisory_xact_lock({lock}, s)) FROM "
            "(SELECT s FROM unnest(CAST(:series_ids AS integer[])) AS s ORDER BY s) AS ordered"
        ),
        lock_table_shared=f"SELECT pg_advisory_xact_lock_shared({lock}, 0)",
        lock_table_exclusive=f"SELECT pg_advisory_xact_lock({lock}, 0)",
        # Every chunk overlapping [low, high]: all of them minus those ending at or before low
        # and those starting after high. show_chunks is public and fast (about 1 ms, against
        # 20-40 ms for the timescaledb_information.chunks view). On Apache builds nothing
        # compresses, and the lock costs only that lookup. regclass::text is schema-qualified
        # and quoted where needed.
        chunks_to_lock=(
            "SELECT chunk::text FROM ("
            f"SELECT show_chunks('{fact.qualified}') AS chunk "
            f"EXCEPT SELECT show_chunks('{fact.qualified}', "
            "older_than => CAST(:low AS timestamptz)) "
            f"EXCEPT SELECT show_chunks('{fact.qualified}', "
            "newer_than => CAST(:high AS timestamptz) + interval '1 microsecond')"
            ") AS overlapping ORDER BY overlapping.chunk"
        ),
        merge=_merge(fact, staging),
        copy_target=(
            f"COPY {fact.qualified} ({columns}, revision, ingest_id) FROM STDIN (FORMAT BINARY)"
        ),
        begin_ingest=(
            "SELECT mp.begin_ingest(CAST(:fact_table AS text), CAST(:series_ids AS integer[]))"
        ),
        # Per series, so one series' earlier chunk does not make another look non-fresh.
        stored_in_range=(
            "SELECT EXISTS (SELECT 1 FROM unnest(CAST(:range_ids AS integer[]), "
            "CAST(:range_lows AS timestamptz[]), CAST(:range_highs AS timestamptz[])) "
            f"AS r(series_id, low, high) JOIN {fact.qualified} t ON t.series_id = r.series_id "
            "AND t.obs_time >= r.low AND t.obs_time <= r.high)"
        ),
        drop_already_stored=_drop_already_stored(fact, staging),
        # hold_series locks the series FOR KEY SHARE until commit: a deletion waits for this
        # ingest and then sees its rows (mp.guard_series_delete), as a foreign key's would.
        series_kinds=("SELECT series_id, kind FROM mp.hold_series(CAST(:series_ids AS integer[]))"),
        known_instruments=(
            "SELECT instrument_id FROM mp.instruments "
            "WHERE instrument_id = ANY(CAST(:instrument_ids AS integer[]))"
        ),
    )
