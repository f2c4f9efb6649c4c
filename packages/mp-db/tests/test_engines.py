"""Engines, the Database objects, read routing to a real standby, health and retries."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import macro, run, utc
from sqlalchemy import text

import mp_db
from mp_config import PostgresSettings
from mp_db import (
    AsyncDatabase,
    ConfigurationError,
    ConnectionLostError,
    Database,
    MacroObservationRow,
    ReadOnlyError,
    RetryPolicy,
    StatementTimeoutError,
    create_db_engine,
    create_db_engine_async,
    durability_warnings,
    primary_wal_position,
    replica_lag,
    run_with_retry,
    run_with_retry_async,
    translate_errors,
    wait_for_replay,
)
from mp_testing import ThrowawayPostgres

SESSION_QUERY = text(
    "SELECT current_setting('TimeZone'), current_setting('statement_timeout'),"
    " current_setting('application_name'), current_setting('lock_timeout'),"
    " current_setting('idle_in_transaction_session_timeout'),"
    " current_setting('constraint_exclusion')"
)
EXPECTED = ("UTC", "1234ms", "mp-test", "10s", "1min", "off")


def test_sync_engine_session_settings(mp_pg_settings: PostgresSettings) -> None:
    """The psycopg engine's sessions run in UTC with the configured timeouts."""
    settings = mp_pg_settings.model_copy(
        update={"statement_timeout_ms": 1234, "application_name": "mp-test"}
    )
    engine = create_db_engine(settings)
    try:
        with engine.connect() as connection:
            assert tuple(connection.execute(SESSION_QUERY).one()) == EXPECTED
    finally:
        engine.dispose()


def test_async_engine_session_settings(mp_pg_settings: PostgresSettings) -> None:
    """The asyncpg engine's sessions run with the same settings."""
    settings = mp_pg_settings.model_copy(
        update={"statement_timeout_ms": 1234, "application_name": "mp-test"}
    )

    async def read() -> tuple[Any, ...]:
        engine = create_db_engine_async(settings)
        try:
            async with engine.connect() as connection:
                return tuple((await connection.execute(SESSION_QUERY)).one())
        finally:
            await engine.dispose()

    assert run(read()) == EXPECTED


def test_the_old_engine_names_work_and_say_they_are_deprecated(
    mp_pg_settings: PostgresSettings,
) -> None:
    """create_sync_engine and create_async_db_engine still give working engines, with a
    DeprecationWarning naming the function to use instead."""
    with pytest.warns(DeprecationWarning, match="use create_db_engine$"):
        engine = mp_db.create_sync_engine(mp_pg_settings)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()

    async def read() -> int:
        with pytest.warns(DeprecationWarning, match="use create_db_engine_async$"):
            async_engine = mp_db.create_async_db_engine(mp_pg_settings)
        try:
            async with async_engine.connect() as connection:
                return int((await connection.execute(text("SELECT 2"))).scalar_one())
        finally:
            await async_engine.dispose()

    assert run(read()) == 2


@pytest.mark.scenario("load_held")
def test_reads_go_to_a_real_standby(mp_throwaway_postgres: ThrowawayPostgres) -> None:
    """With a replica configured, reads run on the streaming standby and writes on the primary."""
    settings = mp_throwaway_postgres.add_standby()
    with Database(settings) as db:
        with db.read_engine.connect() as connection:
            assert connection.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
            with pytest.raises(ReadOnlyError), translate_errors():
                connection.execute(text("CREATE TABLE nope (id int)"))
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT pg_is_in_recovery()")).scalar() is False
        assert db.health(read=True).in_recovery is True
        assert db.health().in_recovery is False

    async def routed() -> tuple[Any, Any]:
        async with AsyncDatabase(settings) as adb:
            async with adb.read_engine.connect() as connection:
                on_read = (await connection.execute(text("SELECT pg_is_in_recovery()"))).scalar()
            async with adb.engine.connect() as connection:
                on_write = (await connection.execute(text("SELECT pg_is_in_recovery()"))).scalar()
        return on_read, on_write

    assert run(routed()) == (True, False)


def test_replica_sees_ingested_rows(mp_throwaway_postgres: ThrowawayPostgres) -> None:
    """Rows ingested on the primary become readable point-in-time on the standby."""
    settings = mp_throwaway_postgres.add_standby()
    with Database(settings) as db, db.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
                " VALUES ('rep', 'r', 'vendor', 'full')"
            )
        )
        series = connection.execute(
            text(
                "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
                " SELECT source_id, 'R', 'macro', 'r', 'monthly' FROM mp.data_sources"
                " RETURNING series_id"
            )
        ).scalar_one()
    with Database(settings) as db:
        db.ingest(
            "macro",
            [macro(series, utc(2024, 3), utc(2024, 4), 1.0)],
        )
        for _ in range(100):
            if db.reader.latest(MacroObservationRow, series, as_of=utc(2025, 1)):
                break
            asyncio.run(asyncio.sleep(0.05))
        assert [
            row.value for row in db.reader.latest(MacroObservationRow, series, as_of=utc(2025, 1))
        ] == [1.0]


def test_health_report(mp_pg_settings: PostgresSettings, mp_timescaledb_license: str) -> None:
    """Health names versions, license and schema revision, sync and async alike."""
    with Database(mp_pg_settings) as db:
        report = db.health()
    assert report.ok is True
    assert report.schema_revision == report.expected_revision
    assert report.timescaledb_version
    assert report.timescaledb_license == mp_timescaledb_license

    async def check() -> Any:
        async with AsyncDatabase(mp_pg_settings) as adb:
            return await adb.health()

    assert run(check()).schema_revision == report.schema_revision


@pytest.mark.scenario("nothing_lost")
def test_preflight_reports_unsafe_durability(mp_throwaway_postgres: ThrowawayPostgres) -> None:
    """Throwaway clusters run with fsync off: the health report says so, and why."""
    with Database(mp_throwaway_postgres.settings) as db:
        warnings = db.health().durability_warnings
    assert any("fsync is off" in warning for warning in warnings)
    assert (
        durability_warnings({"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"})
        == []
    )
    assert (
        len(
            durability_warnings(
                {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
            )
        )
        == 3
    )


def test_database_refuses_use_after_close(mp_pg_settings: PostgresSettings) -> None:
    """A closed Database says so instead of reconnecting silently."""
    db = Database(mp_pg_settings)
    db.close()
    with pytest.raises(ConfigurationError, match="closed"):
        _ = db.engine


def test_retry_repeats_transient_faults_only() -> None:
    """Transient faults are retried up to the limit; others surface at once."""
    calls: list[int] = []
    fast = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002)

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionLostError("gone")
        return "done"

    assert run_with_retry(flaky, policy=fast) == "done"
    assert len(calls) == 3

    def timing_out() -> None:
        calls.append(1)
        raise StatementTimeoutError("slow")

    calls.clear()
    with pytest.raises(StatementTimeoutError):
        run_with_retry(timing_out, policy=fast)
    assert len(calls) == 1

    async def always_lost() -> None:
        calls.append(1)
        raise ConnectionLostError("gone")

    calls.clear()
    with pytest.raises(ConnectionLostError):
        run(run_with_retry_async(always_lost, policy=fast))
    assert len(calls) == 3


def test_replica_reports_its_lag_and_replays_a_fresh_write(
    mp_throwaway_postgres: ThrowawayPostgres,
) -> None:
    """The standby says it is recovering and how far behind it is; waiting for the primary's
    WAL position after a write makes that write visible there; the primary never lags."""
    settings = mp_throwaway_postgres.add_standby()
    with Database(settings) as db:
        with db.begin() as connection:
            connection.execute(text("CREATE TABLE mp.replay_probe (n int)"))
            connection.execute(text("INSERT INTO mp.replay_probe VALUES (7)"))
        position = primary_wal_position(db.engine)
        wait_for_replay(db.read_engine, position, wait_seconds=10)
        with db.read_engine.connect() as connection:
            seen = connection.execute(text("SELECT n FROM mp.replay_probe")).scalar_one()
        assert seen == 7
        lag = replica_lag(db.read_engine)
        assert lag.in_recovery is True
        assert lag.lag_seconds >= 0.0
        primary = replica_lag(db.engine)
        assert (primary.in_recovery, primary.caught_up, primary.lag_seconds) == (False, True, 0.0)
        with pytest.raises(ConfigurationError, match="needs the primary"):
            primary_wal_position(db.read_engine)
