"""The compression lifecycle: nothing compresses until the operator enables a table.

On an Apache build every table is ``deferred`` with the reason and the commands refuse with a
clear message; on a TSL build the settings and policies match the specs and the states move
backfilling -> enabled -> paused -> enabled, with the policy job scheduled exactly when enabled.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from mp_config import PostgresSettings
from mp_schema import (
    COMPRESSION_STATES,
    FACT_TABLES,
    CompressionUnavailableError,
    MigrationError,
    apply_timescale_features,
    compression_status,
    downgrade,
    enable_compression,
    fact_spec,
    pause_compression,
    upgrade,
)
from mp_schema._cli import main


def _interval(text: str) -> timedelta:
    number, unit = text.split()
    assert unit == "days", text
    return timedelta(days=int(number))


def _states(settings: PostgresSettings) -> dict[str, str]:
    return {item.table: item.state for item in compression_status(settings)}


def _use(monkeypatch: pytest.MonkeyPatch, settings: PostgresSettings) -> None:
    """Point the command line at the test's database."""
    monkeypatch.setenv("MP_ENV_FILE", "")
    monkeypatch.setenv("MP_PG_HOST", settings.host)
    monkeypatch.setenv("MP_PG_PORT", str(settings.port))
    monkeypatch.setenv("MP_PG_USER", settings.user)
    password = settings.password.get_secret_value() if settings.password else ""
    monkeypatch.setenv("MP_PG_PASSWORD", password)
    monkeypatch.setenv("MP_PG_DATABASE", settings.database)


def test_status_after_migration(
    mp_pg_settings: PostgresSettings, mp_timescaledb_license: str
) -> None:
    """Every fact table has a state; nothing is scheduled. Apache: deferred, saying why. TSL:
    backfilling, with an unscheduled policy of the spec's compress_after."""
    statuses = compression_status(mp_pg_settings)
    assert [item.table for item in statuses] == sorted(FACT_TABLES)
    for item in statuses:
        assert item.state in COMPRESSION_STATES
        assert item.consistent, item
        assert item.compressed_chunks == 0
        assert item.license == mp_timescaledb_license
        if mp_timescaledb_license == "timescale":
            assert item.state == "backfilling"
            assert item.scheduled is False
            assert item.compress_after is not None
            assert f"mp-schema compression enable {item.table}" in item.reason
        else:
            assert item.state == "deferred"
            assert item.job_id is None
            assert "timescale (TSL) license" in item.reason
            assert mp_timescaledb_license in item.reason


def test_unknown_table_is_refused(mp_pg_settings: PostgresSettings) -> None:
    """Only fact tables have compression; the error lists them."""
    with pytest.raises(MigrationError, match="not a fact table; compression applies to"):
        enable_compression(mp_pg_settings, "series")


def test_commands_refuse_on_apache(
    mp_pg_settings: PostgresSettings,
    mp_timescaledb_license: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On an Apache build enable and pause say compression needs a TSL server; nothing
    changes, and `compression status` shows each table deferred with the reason."""
    if mp_timescaledb_license == "timescale":
        pytest.skip("checks the Apache build's refusal; this server has the timescale license")
    for function in (enable_compression, pause_compression):
        with pytest.raises(CompressionUnavailableError, match=r"timescale \(TSL\) license"):
            function(mp_pg_settings, "macro_observations")
    assert set(_states(mp_pg_settings).values()) == {"deferred"}
    _use(monkeypatch, mp_pg_settings)
    assert main(["compression", "enable"]) == 1
    refused = capsys.readouterr().err
    assert "compression needs a TimescaleDB server with the timescale (TSL) license" in refused
    assert "license is apache" in refused
    assert main(["compression", "status"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert len(shown) == len(FACT_TABLES)
    assert all(" deferred " in line and "license is apache" in line for line in shown)


@pytest.mark.timescale_license
def test_settings_match_the_specs(db: Any) -> None:
    """segmentby series_id, orderby the as-of read order, compress_after per table's spec."""
    for table in FACT_TABLES:
        spec = fact_spec(FACT_TABLES[table])
        rows = db.execute(
            "SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc"
            " FROM timescaledb_information.compression_settings"
            " WHERE hypertable_schema = 'mp' AND hypertable_name = %s",
            (table,),
        ).fetchall()
        segment = [name for name, segment_index, _, _ in rows if segment_index is not None]
        assert segment == [spec.compress_segment_by]
        order = sorted(
            (index, name, ascending) for name, _, index, ascending in rows if index is not None
        )
        wanted = [part.split() for part in spec.compress_order_by.split(", ")]
        assert [(name, ascending) for _, name, ascending in order] == [
            (part[0], len(part) == 1) for part in wanted
        ], table
        (config,) = db.execute(
            "SELECT config FROM timescaledb_information.jobs WHERE proc_name ="
            " 'policy_compression' AND hypertable_schema = 'mp' AND hypertable_name = %s",
            (table,),
        ).fetchone()
        after = db.execute("SELECT %s::interval", (config["compress_after"],)).fetchone()[0]
        assert after == _interval(spec.compress_after), table


@pytest.mark.timescale_license
def test_compress_after_follows_each_tables_revisions() -> None:
    """Macro vintages are revised for years, market data is final within days."""
    after = {
        table: _interval(fact_spec(FACT_TABLES[table]).compress_after) for table in FACT_TABLES
    }
    assert after["macro_observations"] >= timedelta(days=5 * 365)
    assert after["market_bars"] <= timedelta(days=180)
    assert after["macro_observations"] > after["release_calendar"] > after["market_bars"]


@pytest.mark.timescale_license
def test_lifecycle_states(
    mp_pg_settings: PostgresSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """backfilling -> enabled -> paused -> enabled, one table at a time; apply keeps states;
    the job is scheduled exactly when enabled; the command line shows the same."""
    table = "market_bars"
    (enabled,) = enable_compression(mp_pg_settings, table)
    assert (enabled.state, enabled.scheduled, enabled.consistent) == ("enabled", True, True)
    assert "policy running" in enabled.reason
    others = {name: state for name, state in _states(mp_pg_settings).items() if name != table}
    assert set(others.values()) == {"backfilling"}
    apply_timescale_features(mp_pg_settings)
    assert _states(mp_pg_settings)[table] == "enabled"
    (paused,) = pause_compression(mp_pg_settings, table)
    assert (paused.state, paused.scheduled, paused.consistent) == ("paused", False, True)
    assert f"mp-schema compression enable {table}" in paused.reason
    apply_timescale_features(mp_pg_settings)
    assert _states(mp_pg_settings)[table] == "paused"
    # Pausing a table that never ran leaves it waiting for its backfill.
    (waiting,) = pause_compression(mp_pg_settings, "macro_observations")
    assert waiting.state == "backfilling"
    _use(monkeypatch, mp_pg_settings)
    assert main(["compression", "enable", table]) == 0
    assert " enabled " in capsys.readouterr().out
    assert main(["compression", "status", table]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(table)
    assert " enabled " in line
    assert "MISMATCH" not in line
    assert main(["compression", "pause"]) == 0
    assert set(_states(mp_pg_settings).values()) == {"backfilling", "paused"}


@pytest.mark.timescale_license
def test_status_flags_a_job_changed_by_hand(db: Any, mp_pg_settings: PostgresSettings) -> None:
    """A policy scheduled behind the bookkeeping's back shows as a mismatch."""
    db.execute(
        "SELECT alter_job(job_id, scheduled => true) FROM timescaledb_information.jobs"
        " WHERE proc_name = 'policy_compression' AND hypertable_name = 'rate_fixings'"
    )
    (item,) = (item for item in compression_status(mp_pg_settings) if item.table == "rate_fixings")
    assert not item.consistent
    assert "MISMATCH" in item.describe()


@pytest.mark.timescale_license
def test_upgrade_unschedules_policies_of_the_previous_revision(
    mp_pg_settings: PostgresSettings, db: Any
) -> None:
    """Down one revision, policies have revision 0002's compress_after back but stay
    unscheduled (a downgrade starts no background work); up again, they wait for the operator
    with each table's own compress_after."""
    (enabled,) = enable_compression(mp_pg_settings, "market_bars")
    assert enabled.scheduled is True
    downgrade(mp_pg_settings, "-1")
    before = {
        table: (scheduled, config["compress_after"])
        for table, scheduled, config in db.execute(
            "SELECT hypertable_name, scheduled, config FROM timescaledb_information.jobs"
            " WHERE proc_name = 'policy_compression' AND hypertable_schema = 'mp'"
        ).fetchall()
    }
    assert before == {
        table: (False, "90 days" if table == "signal_values" else "730 days")
        for table in FACT_TABLES
    }
    states = dict(db.execute("SELECT table_name, status FROM mp.timescale_features").fetchall())
    assert states == dict.fromkeys(FACT_TABLES, "applied")
    upgrade(mp_pg_settings, "head")
    statuses = compression_status(mp_pg_settings)
    assert {item.state for item in statuses} == {"backfilling"}
    assert {item.scheduled for item in statuses} == {False}
    for item in statuses:
        assert item.compress_after is not None
        wanted = _interval(fact_spec(FACT_TABLES[item.table]).compress_after)
        got = db.execute("SELECT %s::interval", (item.compress_after,)).fetchone()[0]
        assert got == wanted, item.table
