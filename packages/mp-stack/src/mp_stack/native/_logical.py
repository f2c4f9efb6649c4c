"""Logical export and import of an mp database: moving data between servers and editions.

A physical backup (pgBackRest) restores only onto the same PostgreSQL major version and the
same TimescaleDB build. To move mp's data elsewhere (an Apache-2 server to a community one, a
newer PostgreSQL, another machine) it travels as a logical dump, with TimescaleDB's documented
procedure around the restore: ``timescaledb_pre_restore()`` stops TimescaleDB's background
workers and catalog triggers so the dumped catalog rows load as they are, and
``timescaledb_post_restore()`` turns them back on. Hypertables keep their dimensions, chunk
intervals and chunks, because TimescaleDB's own catalog is part of the dump.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mp_stack.exceptions import NativeServiceError
from mp_stack.native._system import PostgresBinaries, find_postgres, run_as

if TYPE_CHECKING:
    from mp_config import PostgresSettings

__all__ = ["DumpSummary", "export_database", "import_database"]


@dataclass(frozen=True, slots=True)
class DumpSummary:
    """What an export wrote or an import loaded.

    Attributes:
        path: the dump file (pg_dump's custom format).
        bytes: its size.
        timescaledb_version: the extension's version in the database it came from or went to.
    """

    path: Path
    bytes: int
    timescaledb_version: str


def _environment(settings: PostgresSettings) -> dict[str, str]:
    # libpq reads the password from the environment: it never appears in a process listing.
    environment = dict(os.environ)
    if settings.password is not None:
        environment["PGPASSWORD"] = settings.password.get_secret_value()
    environment["PGSSLMODE"] = settings.effective_sslmode()
    if settings.sslrootcert is not None:
        environment["PGSSLROOTCERT"] = str(settings.sslrootcert)
    return environment


def _connection_arguments(settings: PostgresSettings, database: str | None = None) -> list[str]:
    kwargs = settings.psycopg_kwargs()
    return [
        f"--host={kwargs['host']}",
        f"--port={kwargs['port']}",
        f"--username={settings.user}",
        f"--dbname={database or settings.database}",
    ]


def _extension_version(settings: PostgresSettings) -> str | None:
    import psycopg

    with psycopg.connect(**settings.psycopg_kwargs(), autocommit=True) as connection:
        row = connection.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
    return None if row is None else str(row[0])


def export_database(
    settings: PostgresSettings, path: Path, *, binaries: PostgresBinaries | None = None
) -> DumpSummary:
    """Dump the database of ``settings`` to ``path`` (custom format, compressed).

    Raises:
        NativeServiceError: pg_dump failed (its message says why), or the database has no
            TimescaleDB.
    """
    version = _extension_version(settings)
    if version is None:
        raise NativeServiceError(
            "export the database", f"{settings.database} has no TimescaleDB extension"
        )
    programs = binaries or find_postgres()
    path.parent.mkdir(parents=True, exist_ok=True)
    run_as(
        [
            programs.program("pg_dump"),
            *_connection_arguments(settings),
            "--format=custom",
            f"--file={path}",
        ],
        None,
        step="pg_dump",
        env=_environment(settings),
        timeout=3600,
    )
    return DumpSummary(path, path.stat().st_size, version)


def import_database(
    settings: PostgresSettings,
    path: Path,
    *,
    superuser: PostgresSettings | None = None,
    binaries: PostgresBinaries | None = None,
) -> DumpSummary:
    """Load the dump at ``path`` into the (empty) database of ``settings``.

    Creates mp's group roles when missing (roles are not part of a database's dump), creates
    the TimescaleDB extension, runs ``timescaledb_pre_restore()``, ``pg_restore`` (the first
    error stops it) and ``timescaledb_post_restore()``, then ANALYZE so the planner knows the
    data. Every object keeps the owner it had in the dump, so the owner role of the source
    (``MP_PG_USER`` there) must exist on the target: normally it is the same ``mp`` role.

    Args:
        superuser: a superuser's settings for the same database: the pre- and post-restore
            steps set a superuser-only parameter, and chunks are created in TimescaleDB's
            internal schema, which only a superuser may write to (default: ``settings``).

    Raises:
        NativeServiceError: the database already holds mp's schema, or a step failed.
    """
    import psycopg
    from psycopg import sql

    admin = (superuser or settings).psycopg_kwargs(database=settings.database)
    with psycopg.connect(**admin, autocommit=True) as connection:
        if connection.execute("SELECT to_regnamespace('mp') IS NOT NULL").fetchone() == (True,):
            raise NativeServiceError(
                "import the database",
                f"{settings.database} already has schema mp: import into an empty database",
                hint="create a new database for the import, or drop this one knowingly",
            )
        for role in (settings.ingest_role, settings.research_role):
            exists = connection.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
            ).fetchone()
            if exists is None:
                connection.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        connection.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        connection.execute("SELECT timescaledb_pre_restore()")
    programs = binaries or find_postgres()
    try:
        restorer = superuser or settings
        run_as(
            [
                programs.program("pg_restore"),
                *_connection_arguments(restorer, settings.database),
                "--no-comments",
                "--exit-on-error",
                str(path),
            ],
            None,
            step="pg_restore",
            env=_environment(restorer),
            timeout=3600,
        )
    finally:
        # Whatever happened, TimescaleDB must not stay in restoring mode.
        with psycopg.connect(**admin, autocommit=True) as connection:
            connection.execute("SELECT timescaledb_post_restore()")
    with psycopg.connect(**settings.psycopg_kwargs(), autocommit=True) as connection:
        connection.execute("ANALYZE")
    version = _extension_version(settings) or "unknown"
    return DumpSummary(path, path.stat().st_size, version)
