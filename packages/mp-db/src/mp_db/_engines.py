"""Sync (psycopg 3) and async (asyncpg) engines built from ``MP_PG_*`` with explicit defaults.

Every value that matters is set here rather than left to a driver's default, so a driver upgrade
cannot change behaviour silently:

* ``pool_pre_ping``: a connection that died while idle in the pool is replaced before use.
* pool size, overflow, timeout and recycle come from the settings; an exhausted pool fails after
  ``MP_PG_POOL_TIMEOUT`` seconds instead of hanging.
* every session runs in UTC with ``statement_timeout``, ``lock_timeout`` and
  ``idle_in_transaction_session_timeout`` from the settings, and an ``application_name``.
* ``hide_parameters``: bound values (which may be secrets or bulk data) never appear in errors.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mp_config import PostgresSettings

__all__ = ["create_async_db_engine", "create_sync_engine", "session_parameters"]


def session_parameters(settings: PostgresSettings) -> dict[str, str]:
    """Server settings every mp session runs with."""
    return {
        "timezone": "UTC",
        "statement_timeout": str(settings.statement_timeout_ms),
        "lock_timeout": str(settings.lock_timeout_ms),
        "idle_in_transaction_session_timeout": str(settings.idle_in_transaction_timeout_ms),
    }


def _pool_options(settings: PostgresSettings) -> dict[str, Any]:
    return {
        "pool_pre_ping": True,
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout,
        "pool_recycle": settings.pool_recycle,
        "hide_parameters": True,
    }


def create_sync_engine(settings: PostgresSettings, *, read: bool = False) -> Engine:
    """A psycopg 3 engine; ``read=True`` targets the replica when one is configured."""
    options = " ".join(f"-c {key}={value}" for key, value in session_parameters(settings).items())
    return create_engine(
        settings.sync_url(read=read),
        connect_args={"options": options},
        **_pool_options(settings),
    )


def create_async_db_engine(settings: PostgresSettings, *, read: bool = False) -> AsyncEngine:
    """An asyncpg engine; ``read=True`` targets the replica when one is configured."""
    connect_args = settings.async_connect_args(read=read)
    connect_args["server_settings"] = {
        **connect_args.get("server_settings", {}),
        **session_parameters(settings),
    }
    return create_async_engine(
        settings.async_url(read=read),
        connect_args=connect_args,
        **_pool_options(settings),
    )
