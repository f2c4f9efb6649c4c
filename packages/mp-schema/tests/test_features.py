"""License-dependent features: deferred on Apache builds, applied on community builds, and the
SQL of both branches visible offline."""

from __future__ import annotations

from typing import Any

import pytest

from mp_config import PostgresSettings
from mp_schema import FACT_TABLES, apply_timescale_features, offline_sql, timescale_feature_status


def test_offline_sql_shows_both_branches() -> None:
    """Rendered without a server, the upgrade contains the compression DDL and the deferral."""
    sql = offline_sql("base:head")
    for table in FACT_TABLES:
        assert f"create_hypertable('mp.{table}'" in sql
        assert f"ALTER TABLE mp.{table} SET (" in sql
        assert f"add_compression_policy('mp.{table}'" in sql
    assert "timescaledb.compress_segmentby = 'series_id'" in sql
    assert "outcome := 'deferred'" in sql
    assert "current_setting('timescaledb.license', true)" in sql
    assert "create_default_indexes => false" in sql
    # Revision 0005: policies are created unscheduled and wait for the operator.
    assert "CREATE OR REPLACE FUNCTION mp.set_compression_state" in sql
    assert "'backfilling'" in sql
    assert "alter_job(v_job, scheduled => outcome = 'enabled')" in sql


def test_features_are_recorded_for_every_table(
    mp_pg_settings: PostgresSettings, mp_timescaledb_license: str
) -> None:
    """Each hypertable has a compression record: applied on timescale, deferred otherwise."""
    statuses = timescale_feature_status(mp_pg_settings)
    assert {item.table for item in statuses} == set(FACT_TABLES)
    expected = "backfilling" if mp_timescaledb_license == "timescale" else "deferred"
    assert {item.status for item in statuses} == {expected}
    if expected == "deferred":
        assert all(mp_timescaledb_license in item.reason for item in statuses)


def test_apply_is_idempotent(mp_pg_settings: PostgresSettings, db: Any) -> None:
    """Applying twice gives the same outcome and leaves the compression state as it was."""
    before = db.execute(
        "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables"
        " WHERE hypertable_schema = 'mp' ORDER BY 1"
    ).fetchall()
    first = apply_timescale_features(mp_pg_settings)
    second = apply_timescale_features(mp_pg_settings)
    assert [(f.table, f.status) for f in first] == [(f.table, f.status) for f in second]
    after = db.execute(
        "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables"
        " WHERE hypertable_schema = 'mp' ORDER BY 1"
    ).fetchall()
    assert before == after


def test_apache_build_has_no_compression(db: Any, mp_timescaledb_license: str) -> None:
    """On an Apache build nothing was compressed and no job exists; on TSL the opposite."""
    enabled = {
        flag
        for (flag,) in db.execute(
            "SELECT compression_enabled FROM timescaledb_information.hypertables"
            " WHERE hypertable_schema = 'mp'"
        ).fetchall()
    }
    assert enabled == {mp_timescaledb_license == "timescale"}


@pytest.mark.timescale_license
def test_compression_settings_on_community_build(db: Any) -> None:
    """With the community license, each hypertable segments by series_id with a policy."""
    rows = db.execute(
        "SELECT hypertable_name, attname, segmentby_column_index"
        " FROM timescaledb_information.compression_settings WHERE hypertable_schema = 'mp'"
        " AND segmentby_column_index IS NOT NULL"
    ).fetchall()
    assert {(table, column) for table, column, _ in rows} == {
        (table, "series_id") for table in FACT_TABLES
    }
    jobs = db.execute(
        "SELECT count(*) FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression'"
        " AND hypertable_schema = 'mp'"
    ).fetchone()
    assert jobs == (len(FACT_TABLES),)
