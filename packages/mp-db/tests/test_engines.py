"""Both engines connect to a real TimescaleDB with mp's session settings."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from mp_config import PostgresSettings
from mp_db import create_async_db_engine, create_sync_engine

SESSION_QUERY = text(
    "SELECT current_setting('TimeZone'), current_setting('statement_timeout'),"
    " current_setting('application_name'), current_setting('lock_timeout')"
)


def test_sync_engine_session_settings(mp_pg_settings: PostgresSettings) -> None:
    """The psycopg engine's sessions run in UTC with the configured timeouts."""
    settings = mp_pg_settings.model_copy(
        update={"statement_timeout_ms": 1234, "application_name": "mp-test"}
    )
    engine = create_sync_engine(settings)
    try:
        with engine.connect() as connection:
            row = connection.execute(SESSION_QUERY).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("UTC", "1234ms", "mp-test", "10s")


def test_async_engine_session_settings(mp_pg_settings: PostgresSettings) -> None:
    """The asyncpg engine's sessions run with the same settings."""
    settings = mp_pg_settings.model_copy(
        update={"statement_timeout_ms": 1234, "application_name": "mp-test"}
    )

    async def read() -> tuple[object, ...]:
        engine = create_async_db_engine(settings)
        try:
            async with engine.connect() as connection:
                return tuple((await connection.execute(SESSION_QUERY)).one())
        finally:
            await engine.dispose()

    assert asyncio.run(read()) == ("UTC", "1234ms", "mp-test", "10s")
