"""One error taxonomy under both drivers, for real faults on real servers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import run
from sqlalchemy import Engine, text

from mp_config import PostgresSettings
from mp_db import (
    ConnectionLostError,
    ConstraintViolationError,
    MpDbError,
    PoolTimeoutError,
    ReadOnlyError,
    ServerUnavailableError,
    StatementTimeoutError,
    TransientError,
    classify_error,
    create_db_engine,
    create_db_engine_async,
    translate_errors,
)
from mp_testing import ThrowawayPostgres


def _sync_outcome(settings: PostgresSettings, work: Callable[[Any], None]) -> type[MpDbError]:
    engine = create_db_engine(settings)
    try:
        with pytest.raises(MpDbError) as caught, translate_errors(), engine.connect() as conn:
            work(conn)
        return type(caught.value)
    finally:
        engine.dispose()


def _async_outcome(settings: PostgresSettings, work: Callable[[Any], Any]) -> type[MpDbError]:
    async def attempt() -> type[MpDbError]:
        engine = create_db_engine_async(settings)
        try:
            with pytest.raises(MpDbError) as caught, translate_errors():
                async with engine.connect() as connection:
                    await work(connection)
            return type(caught.value)
        finally:
            await engine.dispose()

    return run(attempt())


@pytest.mark.scenario("faults_survived")
def test_statement_timeout_is_the_same_under_both_drivers(
    mp_pg_settings: PostgresSettings,
) -> None:
    """statement_timeout is StatementTimeoutError for psycopg and asyncpg alike."""
    settings = mp_pg_settings.model_copy(update={"statement_timeout_ms": 50})

    def slow(connection: Any) -> None:
        connection.execute(text("SELECT pg_sleep(2)"))

    async def slow_async(connection: Any) -> None:
        await connection.execute(text("SELECT pg_sleep(2)"))

    assert _sync_outcome(settings, slow) is StatementTimeoutError
    assert _async_outcome(settings, slow_async) is StatementTimeoutError


@pytest.mark.scenario("faults_survived")
def test_backend_terminated_mid_transaction(mp_throwaway_postgres: ThrowawayPostgres) -> None:
    """A backend killed inside a transaction is ConnectionLostError (transient) for both."""
    settings = mp_throwaway_postgres.settings.model_copy(update={"application_name": "victim"})

    def killed(connection: Any) -> None:
        connection.execute(text("BEGIN"))
        connection.execute(text("SELECT 1"))
        mp_throwaway_postgres.terminate_backends("victim")
        connection.execute(text("SELECT 1"))

    async def killed_async(connection: Any) -> None:
        await connection.execute(text("SELECT 1"))
        mp_throwaway_postgres.terminate_backends("victim")
        await connection.execute(text("SELECT 1"))

    assert _sync_outcome(settings, killed) is ConnectionLostError
    assert _async_outcome(settings, killed_async) is ConnectionLostError
    assert issubclass(ConnectionLostError, TransientError)


@pytest.mark.scenario("faults_survived")
def test_server_restart_between_uses(mp_throwaway_postgres: ThrowawayPostgres) -> None:
    """A pooled connection from before a restart: pre-ping replaces it and work goes on;
    during the restart itself the error is transient under both drivers."""
    settings = mp_throwaway_postgres.settings
    engine = create_db_engine(settings)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
        mp_throwaway_postgres.cluster.restart("fast")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 2")).scalar() == 2
        mp_throwaway_postgres.cluster.stop("immediate")

        def probe(connection: Any) -> None:
            connection.execute(text("SELECT 1"))

        async def probe_async(connection: Any) -> None:
            await connection.execute(text("SELECT 1"))

        down_sync = _sync_outcome(settings, probe)
        down_async = _async_outcome(settings, probe_async)
        assert issubclass(down_sync, TransientError)
        assert issubclass(down_async, TransientError)
    finally:
        engine.dispose()
        mp_throwaway_postgres.cluster.start()


@pytest.mark.scenario("faults_survived")
def test_unreachable_server_fails_fast_and_names_the_address() -> None:
    """No server: the error names host and port, never the password, within the timeout."""
    settings = PostgresSettings.load(env_file=None, port=1, password="s3cret-pw", connect_timeout=2)
    engine = create_db_engine(settings)
    started = time.monotonic()
    try:
        with pytest.raises(ServerUnavailableError) as caught, translate_errors():
            engine.connect().close()
    finally:
        engine.dispose()
    assert time.monotonic() - started < 5
    assert "127.0.0.1" in str(caught.value)
    assert "1" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)


@pytest.mark.scenario("faults_survived")
def test_read_only_transaction(mp_pg_settings: PostgresSettings) -> None:
    """A write in a read-only transaction is ReadOnlyError for both drivers."""

    def write(connection: Any) -> None:
        connection.execute(text("SET TRANSACTION READ ONLY"))
        connection.execute(text("CREATE TEMP TABLE scratch (id int)"))

    async def write_async(connection: Any) -> None:
        await connection.execute(text("SET TRANSACTION READ ONLY"))
        await connection.execute(text("CREATE TEMP TABLE scratch (id int)"))

    assert _sync_outcome(mp_pg_settings, write) is ReadOnlyError
    assert _async_outcome(mp_pg_settings, write_async) is ReadOnlyError


@pytest.mark.scenario("bad_inputs")
def test_constraint_names_come_through(mp_pg_settings: PostgresSettings) -> None:
    """A database CHECK violation carries the constraint's name under both drivers."""
    statement = text(
        "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
        " VALUES ('BAD CODE', 'x', 'vendor', 'full')"
    )
    engine = create_db_engine(mp_pg_settings)
    try:
        with (
            pytest.raises(ConstraintViolationError) as caught,
            translate_errors(),
            engine.begin() as connection,
        ):
            connection.execute(statement)
    finally:
        engine.dispose()
    assert caught.value.constraint == "ck_data_sources_code_format"

    async def attempt() -> str | None:
        async_engine = create_db_engine_async(mp_pg_settings)
        try:
            with pytest.raises(ConstraintViolationError) as error, translate_errors():
                async with async_engine.begin() as connection:
                    await connection.execute(statement)
            return error.value.constraint
        finally:
            await async_engine.dispose()

    assert run(attempt()) == "ck_data_sources_code_format"


@pytest.mark.scenario("load_held")
def test_pool_exhaustion_fails_fast(mp_pg_settings: PostgresSettings) -> None:
    """With every pooled connection busy, the next caller gets PoolTimeoutError in time."""
    settings = mp_pg_settings.model_copy(
        update={"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.5}
    )
    engine = create_db_engine(settings)
    try:
        with engine.connect():
            started = time.monotonic()
            with pytest.raises(PoolTimeoutError), translate_errors():
                engine.connect()
            assert time.monotonic() - started < 3
    finally:
        engine.dispose()


def test_classify_ignores_foreign_errors() -> None:
    """Errors that are not database errors are left alone."""
    assert classify_error(ValueError("x")) is None
    assert isinstance(classify_error(ConnectionRefusedError()), ServerUnavailableError)


@pytest.mark.scenario("security")
def test_engine_errors_hide_parameters(engine: Engine) -> None:
    """A failing statement's error does not echo its bound values (hide_parameters).

    (PostgreSQL's own message may quote a value it could not parse; that is the server's text,
    so this test binds a value the failing expression does not touch.)
    """
    with pytest.raises(MpDbError) as caught, translate_errors(), engine.connect() as connection:
        connection.execute(
            text("SELECT 1 / 0 WHERE CAST(:secret AS text) IS NOT NULL"), {"secret": "hunter2"}
        )
    assert "division by zero" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in str(caught.value.__cause__)
