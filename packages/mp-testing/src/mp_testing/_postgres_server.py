"""Finding a PostgreSQL server with TimescaleDB for a test session, and making databases in it.

Three backends, tried in this order by ``auto``:

* ``settings``: the server named by ``MP_PG_*`` (the running stack, or any server) when it
  answers and the role may create databases. Only databases named ``mp_t_*`` are created there,
  and each is dropped after its test.
* ``container``: a testcontainers TimescaleDB, when a Docker engine answers.
* ``native``: a throwaway cluster in a temporary folder on a free port, run by this process
  with mp-stack's supervisor (the ``native`` extra).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mp_config import ConfigError, PostgresSettings, docker_engine_available
from mp_testing._backends import USED, first_working, run_closers
from mp_testing._native import native_unavailable_as_skip
from mp_testing._settings import TestingSettings, configured_by
from mp_testing.exceptions import ServiceUnavailableError

if TYPE_CHECKING:
    from mp_stack.native import PostgresCluster

__all__ = ["PostgresServer", "pause_background_jobs", "provide_postgres", "read_license"]

_OWNER = "mp_test_owner"

# Every scheduled job the connected role may change (a superuser: all of them). alter_job is a
# TSL function; an Apache build has no policies, only TimescaleDB's telemetry job, which mp's
# clusters turn off with timescaledb.telemetry_level.
_PAUSE_JOBS = """
SELECT count(*)
FROM timescaledb_information.jobs j
CROSS JOIN LATERAL alter_job(j.job_id, scheduled => false) AS altered
WHERE j.scheduled AND pg_has_role(current_user, j.owner, 'USAGE')
  AND coalesce(current_setting('timescaledb.license', true), '') = 'timescale'
"""


def pause_background_jobs(connection: Any) -> int:
    """Unschedule the background jobs of the database ``connection`` is on; return how many.

    Test databases never run background jobs: a compression policy compressing chunks while a
    test writes them makes results depend on timing (and, before mp's lock order, deadlocked
    ingest). Clones of a template inherit its unscheduled jobs. A test that wants a policy to
    run schedules it itself (``mp_schema.enable_compression``) or runs it with ``run_job``.
    """
    installed = connection.execute(
        "SELECT to_regclass('timescaledb_information.jobs') IS NOT NULL"
    ).fetchone()
    if not installed or not installed[0]:
        return 0  # no TimescaleDB in this database (a migrate that did not create it): no jobs
    row = connection.execute(_PAUSE_JOBS).fetchone()
    return int(row[0]) if row else 0


@dataclass
class PostgresServer:
    """A server the session may create and drop databases in.

    Attributes:
        backend: ``settings``, ``container`` or ``native``.
        settings: credentials of a role allowed to create databases; ``database`` is the
            maintenance database to connect to for CREATE/DROP DATABASE.
        license: ``timescaledb.license`` (``apache`` or ``timescale``), once read from a
            database that has the extension (see :func:`read_license`).
        timescaledb_version: the version ``CREATE EXTENSION`` would install.
        server_version: PostgreSQL's ``server_version``.
        cluster: the native cluster, when this process runs it (fault tests may restart it).
    """

    backend: str
    settings: PostgresSettings
    license: str = "unknown"
    timescaledb_version: str = "unknown"
    server_version: str = "unknown"
    cluster: PostgresCluster | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def connect(self, database: str | None = None) -> Any:
        """An autocommit psycopg connection to ``database`` (the maintenance one by default)."""
        import psycopg

        return psycopg.connect(**self.settings.psycopg_kwargs(database=database), autocommit=True)

    def settings_for(self, database: str) -> PostgresSettings:
        """The same credentials aimed at ``database``."""
        return self.settings.model_copy(update={"database": database})

    def create_database(
        self, name: str, *, template: str | None = None, is_template: bool = False
    ) -> None:
        """CREATE DATABASE ``name``, optionally cloned from ``template``.

        A database meant to be cloned is created with ``is_template=True`` and, once
        migrated, closed with :meth:`freeze_template`. TimescaleDB runs a background scheduler
        in each database that has the extension; a scheduler connected to the source makes a
        clone wait five seconds and fail. Measured on TimescaleDB 2.19: with the template flag
        alone the scheduler still reconnects at every clone (8 of 8 clones failed); with
        connections also disallowed, 8 of 8 clones succeeded in 0.04-0.3 s.
        """
        from psycopg import sql

        parts: list[sql.Composable] = [sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))]
        if template is not None:
            parts.append(sql.SQL("TEMPLATE {}").format(sql.Identifier(template)))
        if is_template:
            parts.append(sql.SQL("IS_TEMPLATE true"))
        with self.connect() as connection:
            connection.execute(sql.SQL(" ").join(parts))

    def pause_jobs(self, name: str) -> int:
        """Unschedule the background jobs of database ``name`` (see
        :func:`pause_background_jobs`), as a superuser when this process runs the cluster (so
        TimescaleDB's own jobs are paused too), else as the server's role (its own jobs)."""
        connect = self.cluster.connect_admin if self.cluster is not None else self.connect
        with connect(name) as connection:
            return pause_background_jobs(connection)

    def freeze_template(self, name: str) -> None:
        """Disallow connections to a migrated template, so nothing can hold it during clones."""
        from psycopg import sql

        with self.connect() as connection:
            connection.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                    sql.Identifier(name)
                )
            )

    def drop_database(self, name: str) -> None:
        """DROP DATABASE ``name`` if it exists, ending any session still connected to it.

        TimescaleDB's background scheduler may be connected to a test database as a superuser,
        which ``WITH (FORCE)`` cannot end for a role that is not one. Connections are closed to
        new sessions first; TimescaleDB stops its scheduler when the drop is attempted, so a
        refused drop is retried for a few seconds.
        """
        from psycopg import errors, sql

        identifier = sql.Identifier(name)
        with self.connect() as connection:
            exists = connection.execute(
                "SELECT datistemplate FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists is None:
                return
            if exists[0]:
                connection.execute(
                    sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(identifier)
                )
            connection.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(identifier)
            )
            for attempt in range(50):
                try:
                    connection.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier)
                    )
                    return
                except (errors.InsufficientPrivilege, errors.ObjectInUse):
                    if attempt == 49:
                        raise
                    time.sleep(0.1)

    def close(self) -> None:
        """Stop whatever this server object started."""
        run_closers(self._closers)


def _describe(server: PostgresServer) -> PostgresServer:
    with server.connect() as connection:
        row = connection.execute(
            "SELECT current_setting('server_version'),"
            " coalesce(current_setting('timescaledb.max_background_workers', true), ''),"
            " (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb')"
        ).fetchone()
    version, preload, tsdb = row
    if tsdb is None:
        server.close()
        raise ServiceUnavailableError(
            f"the {server.backend} PostgreSQL at {server.settings.display_url()} has no "
            "TimescaleDB extension available"
        )
    if not preload:
        server.close()
        raise ServiceUnavailableError(
            f"the {server.backend} PostgreSQL at {server.settings.display_url()} does not preload "
            "timescaledb (shared_preload_libraries)"
        )
    server.server_version, server.timescaledb_version = str(version), str(tsdb)
    return server


def read_license(server: PostgresServer, database: str) -> str:
    """``timescaledb.license`` as seen in ``database`` (which must have the extension).

    The setting only exists in a database where the extension is loaded, so it is read from the
    migrated template rather than from the maintenance database.
    """
    with server.connect(database) as connection:
        connection.execute("SELECT count(*) FROM timescaledb_information.hypertables")
        row = connection.execute(
            "SELECT coalesce(current_setting('timescaledb.license', true), 'unknown')"
        ).fetchone()
    server.license = str(row[0]) if row else "unknown"
    return server.license


def _from_settings() -> PostgresServer:
    import psycopg

    try:
        base = PostgresSettings.load()
    except ConfigError as error:
        raise ServiceUnavailableError(f"MP_PG_* settings are invalid: {error}") from error
    quick = base.model_copy(update={"connect_timeout": 2.0})
    try:
        with psycopg.connect(**quick.psycopg_kwargs(), autocommit=True) as connection:
            row = connection.execute(
                "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
    except psycopg.Error as error:
        raise ServiceUnavailableError(
            f"no answer from {base.display_url()}: {str(error).strip().splitlines()[0]}"
        ) from error
    if not row or not row[0]:
        raise ServiceUnavailableError(
            f"{base.user} may not create databases on {base.display_url()} (CREATEDB needed)"
        )
    return _describe(PostgresServer(backend="settings", settings=base))


def _from_container(testing: TestingSettings) -> PostgresServer:  # pragma: no cover - Docker only
    if not docker_engine_available():
        raise ServiceUnavailableError("no Docker engine answers")
    try:
        from testcontainers.postgres import PostgresContainer
    except ImportError as error:
        raise ServiceUnavailableError(
            "testcontainers is not installed: pip install 'mp-testing[containers]'"
        ) from error
    password = secrets.token_urlsafe(16)
    container = PostgresContainer(
        testing.postgres_image, username="postgres", password=password, dbname="postgres"
    )
    container.start()
    settings = PostgresSettings.load(
        env_file=None,
        host=container.get_container_host_ip(),
        port=int(container.get_exposed_port(5432)),
        user="postgres",
        password=password,
        database="postgres",
        allow_insecure_transport=True,
    )
    server = PostgresServer(backend="container", settings=settings)
    server._closers.append(container.stop)
    return _describe(server)


def _native() -> PostgresServer:
    with native_unavailable_as_skip("a native PostgreSQL"):
        return _start_native()


def _start_native() -> PostgresServer:
    from mp_stack.native import PostgresCluster, free_port, service_os_user

    user = service_os_user()
    root = Path(tempfile.mkdtemp(prefix="mp-testing-pg-"))
    # The cluster's OS user must be able to enter the folder mkdtemp made private.
    root.chmod(0o711)
    cluster = PostgresCluster(root / "cluster", free_port(), durable=False, os_user=user)
    server = PostgresServer(backend="native", settings=PostgresSettings.load(env_file=None))
    # Closers run newest first: the cluster, then the folder mkdtemp made around it.
    server._closers.append(lambda: shutil.rmtree(root, ignore_errors=True))
    server._closers.append(cluster.destroy)
    try:
        cluster.start()
        password = secrets.token_urlsafe(16)
        cluster.ensure_login_role(_OWNER, password)
        server.settings = PostgresSettings.load(
            env_file=None,
            host=cluster.host,
            port=cluster.port,
            user=_OWNER,
            password=password,
            database="postgres",
        )
        server.cluster = cluster
        return _describe(server)
    except Exception:
        server.close()
        raise


def provide_postgres(testing: TestingSettings) -> PostgresServer:
    """Return a server for the session from the first backend that works.

    Raises:
        ServiceUnavailableError: no backend worked; the message lists why each one failed.
    """
    server = first_working(
        testing.backend,
        {
            "settings": _from_settings,
            "container": lambda: _from_container(testing),
            "native": _native,
        },
        "PostgreSQL with TimescaleDB",
        configured=configured_by("MP_PG_"),
    )
    USED["PostgreSQL"] = (
        f"{server.backend} at {server.settings.display_url()} (PostgreSQL "
        f"{server.server_version}, TimescaleDB {server.timescaledb_version})"
    )
    return server
