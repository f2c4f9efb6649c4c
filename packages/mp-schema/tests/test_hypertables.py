"""The seven fact tables are hypertables with the intended settings, read back from TimescaleDB."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SeriesMaker

from mp_schema import FACT_TABLES, fact_spec


def test_seven_hypertables_partitioned_on_obs_time(db: Any) -> None:
    """Exactly the seven fact tables are hypertables, each partitioned on obs_time alone."""
    rows = db.execute(
        "SELECT hypertable_name, num_dimensions FROM timescaledb_information.hypertables"
        " WHERE hypertable_schema = 'mp'"
    ).fetchall()
    assert {name for name, _ in rows} == set(FACT_TABLES)
    assert {dimensions for _, dimensions in rows} == {1}
    columns = db.execute(
        "SELECT DISTINCT column_name FROM timescaledb_information.dimensions"
        " WHERE hypertable_schema = 'mp'"
    ).fetchall()
    assert columns == [("obs_time",)]


@pytest.mark.parametrize("table", list(FACT_TABLES))
def test_chunk_interval_matches_the_spec(db: Any, table: str) -> None:
    """Each hypertable's chunk interval is the one its FactSpec names."""
    spec = fact_spec(FACT_TABLES[table])
    row = db.execute(
        "SELECT time_interval, time_interval = %s::interval FROM timescaledb_information.dimensions"
        " WHERE hypertable_schema = 'mp' AND hypertable_name = %s",
        (spec.chunk_interval, table),
    ).fetchone()
    assert row is not None
    assert row[1] is True, f"{table}: {row[0]} != {spec.chunk_interval}"


def test_signals_get_short_chunks_and_daily_data_a_year() -> None:
    """Volume decides chunk size: a week for signals, a year for daily-or-slower data."""
    assert fact_spec(FACT_TABLES["signal_values"]).chunk_interval == "7 days"
    assert fact_spec(FACT_TABLES["market_bars"]).chunk_interval == "1 year"


@pytest.mark.parametrize("table", list(FACT_TABLES))
def test_no_default_time_index(db: Any, table: str) -> None:
    """Only the indexes the models declare exist: no TimescaleDB default obs_time index."""
    indexes = {
        name
        for (name,) in db.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'mp' AND tablename = %s", (table,)
        ).fetchall()
    }
    declared = {f"pk_{table}"} | {index.name for index in FACT_TABLES[table].indexes}
    assert indexes == declared


@pytest.mark.parametrize("table", list(FACT_TABLES))
def test_primary_key_carries_no_include(db: Any, table: str) -> None:
    """Each primary key index has exactly its key columns: no INCLUDE (revision 0006; mp's
    reads visit the heap for the bookkeeping columns anyway)."""
    row = db.execute(
        "SELECT i.indnatts - i.indnkeyatts, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indexrelid = %s::regclass",
        (f"mp.pk_{table}",),
    ).fetchone()
    assert row is not None
    assert row[0] == 0
    assert "INCLUDE" not in row[1]


def test_primary_keys_lead_with_series_and_time(db: Any) -> None:
    """Every fact primary key starts (series_id, obs_time) and ends with knowledge_time."""
    for table in FACT_TABLES:
        columns = [
            name
            for (name,) in db.execute(
                "SELECT a.attname FROM pg_index i JOIN LATERAL unnest(i.indkey)"
                " WITH ORDINALITY AS k(attnum, position) ON true"
                " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
                " WHERE i.indexrelid = %s::regclass AND k.position <= i.indnkeyatts"
                " ORDER BY k.position",
                (f"mp.pk_{table}",),
            ).fetchall()
        ]
        assert columns == list(fact_spec(FACT_TABLES[table]).key_columns), table


def test_a_new_chunk_is_created_on_insert(db: Any, make_series: SeriesMaker) -> None:
    """Rows far apart in obs_time land in different chunks (partitioning really happens)."""
    series_id = make_series()
    for obs in ("1995-01-01", "2024-01-01"):
        db.execute(
            "INSERT INTO mp.macro_observations (series_id, obs_time, knowledge_time, value,"
            " knowledge_time_source) VALUES (%s, %s, %s::timestamptz + interval '40 days', 1.0,"
            " 'vendor')",
            (series_id, f"{obs} 00:00+00", f"{obs} 00:00+00"),
        )
    chunks = db.execute(
        "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_schema = 'mp'"
        " AND hypertable_name = 'macro_observations'"
    ).fetchone()
    assert chunks == (2,)
