"""Every public entry point raises mp-db errors only, each saying what to do; both drivers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import run
from sqlalchemy import text

from mp_config import PostgresSettings
from mp_db import (
    AsyncDatabase,
    AuthenticationError,
    ConfigurationError,
    Database,
    IngestValidationError,
    MpDbError,
    RetryPolicy,
    SchemaNotReadyError,
    ServerUnavailableError,
    SourceSpec,
    TransientError,
    UnknownTableError,
    run_with_retry,
    run_with_retry_async,
)
from mp_stack.native import free_port

WHEN = datetime(2024, 1, 2, tzinfo=UTC)
WRONG = "wrong-secret-pw"
SOURCE = SourceSpec(code="test", name="Test", source_type="vendor", vintage_capability="full")
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.01)


def _wrong_password(settings: PostgresSettings) -> PostgresSettings:
    return PostgresSettings.load(
        env_file=None, **settings.model_dump(exclude={"password"}), password=WRONG
    )


def _row() -> dict[str, Any]:
    return {"series_id": 1, "obs_time": WHEN, "knowledge_time": WHEN, "value": 1.0}


def _sync_entry_points(db: Database) -> dict[str, Callable[[], object]]:
    def begin() -> None:
        with db.begin() as connection:
            connection.execute(text("SELECT 1"))

    def session() -> None:
        with db.session() as orm:
            orm.execute(text("SELECT 1"))

    return {
        "begin": begin,
        "session": session,
        "ingest": lambda: db.ingest("macro_observations", [_row()]),
        "latest": lambda: db.reader.latest("macro_observations", [1], as_of=WHEN),
        "health": db.health,
        "catalog": lambda: db.catalog.ensure_sources([SOURCE]),
        "lookup": lambda: db.catalog.source_ids(["test"]),
    }


def _async_entry_points(db: AsyncDatabase) -> dict[str, Callable[[], Awaitable[object]]]:
    async def begin() -> None:
        async with db.begin() as connection:
            await connection.execute(text("SELECT 1"))

    async def session() -> None:
        async with db.session() as orm:
            await orm.execute(text("SELECT 1"))

    return {
        "begin": begin,
        "session": session,
        "ingest": lambda: db.ingest("macro_observations", [_row()]),
        "latest": lambda: db.reader.latest("macro_observations", [1], as_of=WHEN),
        "health": db.health,
        "catalog": lambda: db.catalog.ensure_sources([SOURCE]),
        "lookup": lambda: db.catalog.source_ids(["test"]),
    }


ENTRY_POINTS = ["begin", "session", "ingest", "latest", "health", "catalog", "lookup"]


def _sync_error(settings: PostgresSettings, entry: str) -> MpDbError:
    with Database(settings) as db, pytest.raises(MpDbError) as caught:
        _sync_entry_points(db)[entry]()
    return caught.value


def _async_error(settings: PostgresSettings, entry: str) -> MpDbError:
    async def attempt() -> MpDbError:
        async with AsyncDatabase(settings) as db:
            with pytest.raises(MpDbError) as caught:
                await _async_entry_points(db)[entry]()
            return caught.value

    return run(attempt())


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_wrong_password_is_an_authentication_error(
    mp_pg_settings: PostgresSettings, entry: str
) -> None:
    """Both drivers, every entry point: AuthenticationError, not transient, naming the settings
    to check and never the password."""
    settings = _wrong_password(mp_pg_settings)
    for error in (_sync_error(settings, entry), _async_error(settings, entry)):
        assert type(error) is AuthenticationError, repr(error)
        assert not error.retryable
        assert not isinstance(error, TransientError)
        assert "MP_PG_PASSWORD" in str(error)
        assert WRONG not in str(error)


def test_run_with_retry_does_not_retry_a_wrong_password(mp_pg_settings: PostgresSettings) -> None:
    """A wrong password is raised at the first attempt, sync and async."""
    settings = _wrong_password(mp_pg_settings)
    calls: list[str] = []

    def work() -> None:
        calls.append("sync")
        with Database(settings) as db, db.begin() as connection:
            connection.execute(text("SELECT 1"))

    async def work_async() -> None:
        calls.append("async")
        async with AsyncDatabase(settings) as db, db.begin() as connection:
            await connection.execute(text("SELECT 1"))

    with pytest.raises(AuthenticationError):
        run_with_retry(work, policy=FAST)
    with pytest.raises(AuthenticationError):
        run(run_with_retry_async(work_async, policy=FAST))
    assert calls == ["sync", "async"]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_stopped_server_says_to_start_the_stack(entry: str) -> None:
    """Nothing listens: ServerUnavailableError naming host, port and `nox -s up`, no password."""
    port = free_port()
    settings = PostgresSettings.load(
        env_file=None, port=port, password="s3cret-pw", connect_timeout=2
    )
    for error in (_sync_error(settings, entry), _async_error(settings, entry)):
        assert type(error) is ServerUnavailableError, repr(error)
        message = str(error)
        assert "python3 -m nox -s up" in message
        assert "127.0.0.1" in message
        assert str(port) in message
        assert "s3cret-pw" not in message


def test_a_missing_database_names_the_setting(mp_pg_settings: PostgresSettings) -> None:
    """A database that does not exist: ConfigurationError pointing at MP_PG_DATABASE."""
    settings = mp_pg_settings.model_copy(update={"database": "no_such_database"})
    for error in (_sync_error(settings, "begin"), _async_error(settings, "begin")):
        assert type(error) is ConfigurationError, repr(error)
        assert "MP_PG_DATABASE" in str(error)


def test_an_unmigrated_database_says_to_migrate(mp_empty_database: Any) -> None:
    """Reads on a database without mp's tables: SchemaNotReadyError with the migrate command."""
    settings = mp_empty_database.settings
    for error in (_sync_error(settings, "latest"), _async_error(settings, "latest")):
        assert type(error) is SchemaNotReadyError, repr(error)
        assert "nox -s migrate" in str(error)


def test_errors_inside_begin_are_mp_errors(mp_pg_settings: PostgresSettings) -> None:
    """SQL that fails inside ``begin()`` arrives classified (never a raw SQLAlchemy error)."""
    with (
        Database(mp_pg_settings) as db,
        pytest.raises(SchemaNotReadyError),
        db.begin() as connection,
    ):
        connection.execute(text("SELECT * FROM mp.no_such_table"))

    async def attempt() -> None:
        async with AsyncDatabase(mp_pg_settings) as db:
            with pytest.raises(SchemaNotReadyError):
                async with db.begin() as connection:
                    await connection.execute(text("SELECT * FROM mp.no_such_table"))

    run(attempt())


def test_a_wrong_table_name_is_an_mp_error_and_a_key_error(
    mp_pg_settings: PostgresSettings,
) -> None:
    """Ingest and reads, both drivers: UnknownTableError (MpDbError and KeyError), valid names
    listed."""

    async def attempt() -> list[MpDbError]:
        errors: list[MpDbError] = []
        async with AsyncDatabase(mp_pg_settings) as db:
            with pytest.raises(UnknownTableError) as caught:
                await db.ingest("macro_observation", [_row()])
            errors.append(caught.value)
            with pytest.raises(UnknownTableError) as caught:
                await db.reader.latest("macro_observation", [1], as_of=WHEN)
            errors.append(caught.value)
        return errors

    errors = run(attempt())
    with Database(mp_pg_settings) as db:
        with pytest.raises(UnknownTableError) as caught:
            db.ingest("macro_observation", [_row()])
        errors.append(caught.value)
        with pytest.raises(UnknownTableError) as caught:
            db.reader.latest("macro_observation", [1], as_of=WHEN)
        errors.append(caught.value)
    for error in errors:
        assert isinstance(error, MpDbError)
        assert isinstance(error, KeyError)
        assert str(error).startswith("'macro_observation' is not a fact table; use one of:")
        assert "macro_observations" in str(error)


def test_a_bad_tenor_says_the_format(mp_pg_settings: PostgresSettings) -> None:
    """``10y`` is refused with the format spelled out, both drivers."""
    row = {**_row(), "tenor": "10y"}

    async def attempt() -> IngestValidationError:
        async with AsyncDatabase(mp_pg_settings) as db:
            with pytest.raises(IngestValidationError) as caught:
                await db.ingest("curve_points", [row])
            return caught.value

    async_error = run(attempt())
    with Database(mp_pg_settings) as db, pytest.raises(IngestValidationError) as caught:
        db.ingest("curve_points", [row])
    for error in (caught.value, async_error):
        tenor = [problem for problem in error.problems if problem.field == "tenor"]
        assert len(tenor) == 1
        assert "'10y'" in tenor[0].message
        assert "ON, TN, SN or a number and D/W/M/Y, e.g. 3M, 10Y" in tenor[0].message
