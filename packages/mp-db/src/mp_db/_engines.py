"""Sync (psycopg 3) and async (asyncpg) engines built from ``MP_PG_*`` with explicit defaults.

Every value that matters is set here rather than left to a driver's default, so a driver upgrade
cannot change behaviour silently:

* pre-ping: a connection that died while idle in the pool is replaced before use. psycopg
  uses SQLAlchemy's ``pool_pre_ping``; on asyncpg that ping is three round trips (BEGIN, an
  empty statement, ROLLBACK), measured 0.63-0.76 ms of a 0.09 ms checkout, so the asyncpg
  engine pings with one statement at checkout instead (:func:`_ping`), and a connection that
  fails it is replaced the same way.
* pool size, overflow, timeout and recycle come from the settings; an exhausted pool fails after
  ``MP_PG_POOL_TIMEOUT`` seconds instead of hanging.
* every session runs in UTC with ``statement_timeout``, ``lock_timeout`` and
  ``idle_in_transaction_session_timeout`` from the settings, and an ``application_name``.
* every session plans with ``constraint_exclusion = off``: TimescaleDB expands a hypertable
  into only the chunks whose time range matches the query, so PostgreSQL proving each
  remaining chunk's CHECK constraints against the WHERE clause once more excludes nothing; it
  cost 1.1-1.4 ms of planning per read over 31 chunks (as-of of one series over 30 years:
  4.8 against 3.4 ms planning; latest print of 20 series 3.0 against 1.8 ms), the same plans.
  Constraint exclusion only ever skips relations, so turning it off cannot change an answer;
  ``tests/test_query_plans.py`` checks that reads still scan only their window's chunks.
* ``hide_parameters``: bound values (which may be secrets or bulk data) never appear in errors.
* a client-side deadline per statement (psycopg: a watchdog; asyncpg: ``command_timeout``),
  ``statement_timeout`` plus a margin, so a half-open connection cannot hang a caller.
"""

from __future__ import annotations

import warnings
from typing import Any

from sqlalchemy import Engine, create_engine, event, util
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mp_config import PostgresSettings
from mp_db._watchdog import client_deadline_seconds, install_watchdog

__all__ = [
    "KEEPALIVE_COUNT",
    "KEEPALIVE_IDLE_SECONDS",
    "KEEPALIVE_INTERVAL_SECONDS",
    "create_async_db_engine",
    "create_db_engine",
    "create_db_engine_async",
    "create_sync_engine",
    "session_parameters",
]

#: TCP keepalive on psycopg connections: probe after 30 s idle, every 10 s, give up after 3.
KEEPALIVE_IDLE_SECONDS = 30
KEEPALIVE_INTERVAL_SECONDS = 10
KEEPALIVE_COUNT = 3


def session_parameters(settings: PostgresSettings) -> dict[str, str]:
    """Server settings every mp session runs with."""
    return {
        "timezone": "UTC",
        "statement_timeout": str(settings.statement_timeout_ms),
        "lock_timeout": str(settings.lock_timeout_ms),
        "idle_in_transaction_session_timeout": str(settings.idle_in_transaction_timeout_ms),
        "constraint_exclusion": "off",
    }


def session_options(settings: PostgresSettings) -> str:
    """:func:`session_parameters` as libpq's ``options`` (``-c name=value`` each)."""
    return " ".join(f"-c {key}={value}" for key, value in session_parameters(settings).items())


def _pool_options(settings: PostgresSettings) -> dict[str, Any]:
    return {
        "pool_pre_ping": True,
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout,
        "pool_recycle": settings.pool_recycle,
        "hide_parameters": True,
    }


def create_db_engine(settings: PostgresSettings, *, read: bool = False) -> Engine:
    """A psycopg 3 engine; ``read=True`` targets the replica when one is configured.

    TCP keepalives detect a dead peer on idle connections; a watchdog gives each statement a
    client-side deadline (``statement_timeout`` plus a margin) so a half-open connection ends
    in a ConnectionLostError instead of a wait without end.
    """
    engine = create_engine(
        settings.sync_url(read=read),
        connect_args={
            "options": session_options(settings),
            "keepalives": 1,
            "keepalives_idle": KEEPALIVE_IDLE_SECONDS,
            "keepalives_interval": KEEPALIVE_INTERVAL_SECONDS,
            "keepalives_count": KEEPALIVE_COUNT,
        },
        **_pool_options(settings),
    )
    deadline = client_deadline_seconds(settings.statement_timeout_ms, settings.connect_timeout)
    if deadline is not None:
        install_watchdog(engine, deadline)
    return engine


def create_db_engine_async(settings: PostgresSettings, *, read: bool = False) -> AsyncEngine:
    """An asyncpg engine; ``read=True`` targets the replica when one is configured."""
    connect_args = settings.async_connect_args(read=read)
    deadline = client_deadline_seconds(settings.statement_timeout_ms, settings.connect_timeout)
    # asyncpg has no TCP keepalive options: its command_timeout is what ends a half-open
    # connection.
    connect_args["command_timeout"] = deadline
    connect_args["server_settings"] = {
        **connect_args.get("server_settings", {}),
        **session_parameters(settings),
    }
    engine = create_async_engine(
        settings.async_url(read=read),
        connect_args=connect_args,
        **{**_pool_options(settings), "pool_pre_ping": False},
    )
    event.listen(engine.sync_engine.pool, "checkout", _ping)
    return engine


# SQLAlchemy 2.1 names it await_, 2.0 await_only.
_await: Any = getattr(util, "await_", None) or util.await_only


def _ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """One statement on an asyncpg connection being taken from the pool; a failure makes
    the pool replace the connection (and retry the checkout) rather than hand it out."""
    try:
        _await(dbapi_connection.driver_connection.execute("SELECT 1"))
    except Exception as error:
        raise DisconnectionError(f"pooled connection failed its ping: {error}") from error


# The names before mp's one async convention (``name`` / ``name_async``): they still work, and
# say they are deprecated.


def create_sync_engine(settings: PostgresSettings, *, read: bool = False) -> Engine:
    """Deprecated name of :func:`create_db_engine`."""
    warnings.warn("create_sync_engine is deprecated: use create_db_engine", DeprecationWarning, 2)
    return create_db_engine(settings, read=read)


def create_async_db_engine(settings: PostgresSettings, *, read: bool = False) -> AsyncEngine:
    """Deprecated name of :func:`create_db_engine_async`."""
    warnings.warn(
        "create_async_db_engine is deprecated: use create_db_engine_async", DeprecationWarning, 2
    )
    return create_db_engine_async(settings, read=read)
