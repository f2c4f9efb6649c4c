"""A health report: versions, TimescaleDB license, schema revision, durability settings."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mp_db._error_mapping import translate_errors
from mp_schema import heads

__all__ = ["HealthReport", "check_health", "check_health_async", "durability_warnings"]

_SERVER = text(
    "SELECT current_setting('server_version'),"
    " (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),"
    " current_setting('timescaledb.license', true),"
    " pg_is_in_recovery(),"
    " current_setting('transaction_read_only'),"
    " current_setting('fsync'), current_setting('synchronous_commit'),"
    " current_setting('full_page_writes'),"
    " to_regclass('public.alembic_version') IS NOT NULL"
)
_REVISION = text("SELECT version_num FROM public.alembic_version")


def durability_warnings(settings: dict[str, str]) -> list[str]:
    """Settings that make an acknowledged commit losable, with why each matters."""
    warnings = []
    if settings.get("fsync") == "off":
        warnings.append("fsync is off: an OS crash or power loss can corrupt the database")
    if settings.get("synchronous_commit") == "off":
        warnings.append(
            "synchronous_commit is off: a crash loses the last commits that were "
            "already acknowledged"
        )
    if settings.get("full_page_writes") == "off":
        warnings.append("full_page_writes is off: a crash during a write can leave torn pages")
    return warnings


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What :func:`check_health` found.

    Attributes:
        ok: the server answered, has TimescaleDB and the schema is at the packaged head.
        server_version: PostgreSQL's version.
        timescaledb_version: the installed extension's version, or None.
        timescaledb_license: ``apache`` or ``timescale`` (None without the extension).
        schema_revision: the database's Alembic revision, or None if never migrated.
        expected_revision: the head revision of the installed mp-schema.
        in_recovery: True on a standby.
        read_only: True when transactions default to read-only.
        durability_warnings: unsafe settings (fsync, synchronous_commit, full_page_writes).
        latency_ms: round-trip time of the checks.
    """

    ok: bool
    server_version: str
    timescaledb_version: str | None
    timescaledb_license: str | None
    schema_revision: str | None
    expected_revision: str
    in_recovery: bool
    read_only: bool
    durability_warnings: tuple[str, ...]
    latency_ms: float


def _report(server: Any, revision: str | None, started: float) -> HealthReport:
    (version, tsdb, license_name, recovery, read_only, fsync, synchronous, full_pages, _) = server
    expected = heads()[0]
    warnings = durability_warnings(
        {"fsync": fsync, "synchronous_commit": synchronous, "full_page_writes": full_pages}
    )
    return HealthReport(
        ok=tsdb is not None and revision == expected,
        server_version=str(version),
        timescaledb_version=tsdb,
        timescaledb_license=license_name or None,
        schema_revision=revision,
        expected_revision=expected,
        in_recovery=bool(recovery),
        read_only=read_only == "on",
        durability_warnings=tuple(warnings),
        latency_ms=(time.perf_counter() - started) * 1000,
    )


def check_health(bind: Engine | Connection) -> HealthReport:
    """Ask the server about itself; raises a classified error when it cannot be reached."""
    started = time.perf_counter()
    with translate_errors():
        if isinstance(bind, Engine):
            with bind.connect() as connection:
                return check_health(connection)
        server = bind.execute(_SERVER).one()
        revision = bind.execute(_REVISION).scalar() if server[-1] else None
    return _report(server, revision, started)


async def check_health_async(bind: AsyncEngine | AsyncConnection) -> HealthReport:
    """The async twin of :func:`check_health`."""
    started = time.perf_counter()
    with translate_errors():
        if isinstance(bind, AsyncEngine):
            async with bind.connect() as connection:
                return await check_health_async(connection)
        server = (await bind.execute(_SERVER)).one()
        revision = (await bind.execute(_REVISION)).scalar() if server[-1] else None
    return _report(server, revision, started)
