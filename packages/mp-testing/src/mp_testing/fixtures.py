"""pytest fixtures: a real, migrated TimescaleDB and a real Redis for any repository's tests.

Session fixtures find a server once (see ``--mp-testing-backend``); each test then gets its own
database, cloned from a template migrated once per session (0.1-0.3 s a clone, against about a
second to migrate a fresh database), or its own Redis key prefix.

The fixtures a downstream repository overrides in its ``conftest.py``, each small on purpose:

* :func:`mp_migrate`: how the template is migrated (add the project's own migrations after
  mp's).
* :func:`mp_source_spec`: the source :func:`mp_source` registers.
* :func:`mp_redis_prefix`: the key prefix :func:`mp_redis` gives a test.
* :func:`mp_testing_settings`: the fixtures' settings, for a value no option covers.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from mp_config import PostgresSettings, RedisSettings, reset_settings
from mp_testing._native import native_unavailable_as_skip
from mp_testing._options import OPTIONS, resolve_options
from mp_testing._postgres_server import PostgresServer, provide_postgres, read_license
from mp_testing._redis_server import RedisHandle, delete_prefix, provide_redis
from mp_testing._settings import TestingSettings, configured_by
from mp_testing._throwaway import ThrowawayPostgres, start_throwaway_postgres
from mp_testing.exceptions import MpTestingError

__all__ = [
    "BACKEND_OPTION",
    "LICENSE_MARKER",
    "TestDatabase",
    "chosen_backend",
    "mp_database",
    "mp_db_client",
    "mp_empty_database",
    "mp_migrate",
    "mp_pg_settings",
    "mp_postgres_server",
    "mp_redis",
    "mp_redis_cluster",
    "mp_redis_prefix",
    "mp_redis_server",
    "mp_source",
    "mp_source_spec",
    "mp_template_database",
    "mp_testing_settings",
    "mp_throwaway_postgres",
    "mp_timescaledb_license",
    "temporary_database",
]

#: Tests marked with this need TimescaleDB's community (TSL) features.
LICENSE_MARKER = "timescale_license"

_SESSION_TOKEN = secrets.token_hex(3)
_COUNTER = itertools.count(1)


def _database_name(kind: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "w")
    return f"mp_{kind}_{_SESSION_TOKEN}_{worker}_{next(_COUNTER)}"


@dataclass(frozen=True)
class TestDatabase:
    """One database created for one test.

    Attributes:
        name: the database's name.
        settings: ``MP_PG_*`` settings aimed at it (credentials may create databases and roles).
        server: the server it lives on.
    """

    __test__ = False  # not a test class, despite the name

    name: str
    settings: PostgresSettings
    server: PostgresServer

    def connect(self) -> Any:
        """An autocommit psycopg connection to this database."""
        return self.server.connect(self.name)


def _unavailable(
    testing: TestingSettings,
    error: Exception,
    config: pytest.Config,
    prefix: str | None = None,
) -> NoReturn:
    reason = str(error)
    configured = prefix is not None and configured_by(prefix) is not None
    # A configured server that does not answer is a failure, never a skip.
    fail = testing.require_services or (configured and testing.backend in ("auto", "settings"))
    if testing.require_services:
        # Name where the requirement came from (flag, environment, ini or .env), as the
        # header does: the reader looks for it there.
        source = resolve_options(config).sources["require_services"]
        reason = f"services are required (from {source}) and {reason}"
    try:
        if fail:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    except (pytest.fail.Exception, pytest.skip.Exception) as outcome:
        raise outcome from None  # the reason says it all; no "during handling" repeat


#: The ini option (and, as ``--mp-testing-backend``, the flag) that chooses the backend in a
#: repository's pytest configuration; ``MP_TESTING_BACKEND`` in the environment wins over it.
BACKEND_OPTION = OPTIONS[0].ini


def chosen_backend(config: pytest.Config) -> tuple[str, str]:
    """The backend this run uses and what chose it (option, environment, ini or default)."""
    resolved = resolve_options(config)
    return resolved.settings.backend, resolved.sources["backend"]


@pytest.fixture(scope="session")
def mp_testing_settings(request: pytest.FixtureRequest) -> TestingSettings:
    """The fixtures' own settings: each ``--mp-testing-*`` flag, else ``MP_TESTING_*``, else
    the ``mp_testing_*`` ini option, else ``.env`` and the default (as the header printed).

    Override it to compute a setting no option covers; every other fixture reads this one.
    """
    return resolve_options(request.config).settings


@pytest.fixture(scope="session")
def mp_postgres_server(
    mp_testing_settings: TestingSettings, request: pytest.FixtureRequest
) -> Iterator[PostgresServer]:
    """A PostgreSQL server with TimescaleDB for the session; skipped (or failed) if none."""
    try:
        server = provide_postgres(mp_testing_settings)
    except MpTestingError as error:
        _unavailable(mp_testing_settings, error, request.config, "MP_PG_")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def mp_timescaledb_license(mp_postgres_server: PostgresServer, mp_template_database: str) -> str:
    """``apache`` or ``timescale``: which TimescaleDB features the server has.

    Read from the migrated template (the setting exists only where the extension is loaded).
    """
    assert mp_template_database
    return mp_postgres_server.license


@pytest.fixture(scope="session")
def mp_migrate() -> Callable[[PostgresSettings], None]:
    """How the template database is brought to the schema: mp-schema's upgrade to head.

    Override this fixture in a ``conftest.py`` to run other migrations as well.
    """

    def migrate(settings: PostgresSettings) -> None:
        from mp_schema import upgrade

        upgrade(settings, "head")

    return migrate


@pytest.fixture(scope="session")
def mp_template_database(
    mp_postgres_server: PostgresServer,
    mp_migrate: Callable[[PostgresSettings], None],
    mp_testing_settings: TestingSettings,
) -> Iterator[str]:
    """A database migrated once per session, cloned for every test by :func:`mp_database`.

    Its background jobs (compression policies, TimescaleDB's own jobs) are unscheduled, so no
    clone runs any.
    """
    name = _database_name("tpl")
    mp_postgres_server.create_database(name, is_template=True)
    try:
        mp_migrate(mp_postgres_server.settings_for(name))
        read_license(mp_postgres_server, name)
        # Clones inherit unscheduled jobs: no test database runs background jobs.
        mp_postgres_server.pause_jobs(name)
        mp_postgres_server.freeze_template(name)
        yield name
    finally:
        if not mp_testing_settings.keep_databases:
            mp_postgres_server.drop_database(name)


@contextmanager
def temporary_database(
    server: PostgresServer, *, template: str | None = None, keep: bool = False
) -> Iterator[TestDatabase]:
    """A database that exists for the ``with`` block (cloned from ``template`` if given)."""
    name = _database_name("t" if template else "e")
    server.create_database(name, template=template)
    try:
        yield TestDatabase(name, server.settings_for(name), server)
    finally:
        if not keep:
            server.drop_database(name)


@pytest.fixture
def mp_database(
    mp_postgres_server: PostgresServer,
    mp_template_database: str,
    mp_testing_settings: TestingSettings,
) -> Iterator[TestDatabase]:
    """A fresh, migrated database for this test alone, dropped afterwards."""
    with temporary_database(
        mp_postgres_server, template=mp_template_database, keep=mp_testing_settings.keep_databases
    ) as database:
        yield database


@pytest.fixture
def mp_empty_database(
    mp_postgres_server: PostgresServer, mp_testing_settings: TestingSettings
) -> Iterator[TestDatabase]:
    """A fresh database with nothing in it (not even the timescaledb extension)."""
    with temporary_database(
        mp_postgres_server, keep=mp_testing_settings.keep_databases
    ) as database:
        yield database


@pytest.fixture
def mp_pg_settings(mp_database: TestDatabase) -> PostgresSettings:
    """``MP_PG_*`` settings aimed at this test's fresh, migrated database."""
    return mp_database.settings


@pytest.fixture
def mp_db_client(mp_pg_settings: PostgresSettings) -> Iterator[Any]:
    """An ``mp_db.Database`` on this test's fresh, migrated database, closed afterwards
    (needs mp-db installed)."""
    Database = _mp_db().Database  # noqa: N806 - a class
    database = Database(mp_pg_settings)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def mp_source_spec() -> Any:
    """The source :func:`mp_source` registers; override it in a connector's ``conftest.py``."""
    return _mp_db().SourceSpec(
        code="test_source", name="Test source", source_type="vendor", vintage_capability="full"
    )


@pytest.fixture
def mp_source(mp_db_client: Any, mp_source_spec: Any) -> int:
    """The id of :func:`mp_source_spec`, registered in this test's database."""
    [source_id] = mp_db_client.catalog.ensure_sources([mp_source_spec])
    return int(source_id)


def _mp_db() -> Any:
    # mp-db depends on mp-testing for its own tests; importing it lazily keeps the dependency
    # one-way (only these fixtures need it).
    try:
        import mp_db
    except ImportError:  # pragma: no cover - mp-db is installed wherever these run
        pytest.fail("mp_db_client and mp_source need mp-db: pip install mp-db", pytrace=False)
    return mp_db


@pytest.fixture(scope="session")
def mp_redis_server(
    mp_testing_settings: TestingSettings, request: pytest.FixtureRequest
) -> Iterator[RedisHandle]:
    """A Redis for the session; skipped (or failed) if none can be had."""
    try:
        handle = provide_redis(mp_testing_settings)
    except MpTestingError as error:
        _unavailable(mp_testing_settings, error, request.config, "MP_REDIS_")
    try:
        yield handle
    finally:
        handle.close()


@pytest.fixture
def mp_redis_prefix() -> str:
    """The key prefix :func:`mp_redis` gives this test (``mp-test:<random>:``).

    Override it to put a project's namespace in the keys; it must stay unique to the test,
    since every key under it is deleted afterwards.
    """
    return f"mp-test:{secrets.token_hex(4)}:"


@pytest.fixture
def mp_redis(mp_redis_server: RedisHandle, mp_redis_prefix: str) -> Iterator[RedisSettings]:
    """Redis settings with a key prefix of this test's own; its keys are deleted afterwards."""
    settings = mp_redis_server.settings.model_copy(update={"key_prefix": mp_redis_prefix})
    try:
        yield settings
    finally:
        if mp_redis_server.owned and mp_redis_server.server is not None:
            with mp_redis_server.client() as client:
                client.flushall()
        else:
            delete_prefix(mp_redis_server, mp_redis_prefix)


@pytest.fixture(scope="session")
def mp_redis_cluster(
    mp_testing_settings: TestingSettings, request: pytest.FixtureRequest
) -> Iterator[RedisSettings]:
    """A real 3-master Redis Cluster on loopback ports, run by this session."""
    root = Path(tempfile.mkdtemp(prefix="mp-testing-cluster-"))
    password = secrets.token_urlsafe(12)
    try:
        with native_unavailable_as_skip("mp_redis_cluster"):
            from mp_stack.native import RedisClusterProcesses, free_cluster_port

            processes = RedisClusterProcesses(
                root, [free_cluster_port() for _ in range(3)], password=password
            )
            processes.start()
    except MpTestingError as error:
        shutil.rmtree(root, ignore_errors=True)
        _unavailable(mp_testing_settings, error, request.config)
    try:
        yield RedisSettings.load(
            env_file=None,
            mode="cluster",
            cluster_nodes=",".join(f"{host}:{port}" for host, port in processes.nodes),
            host=processes.nodes[0][0],
            port=processes.nodes[0][1],
            password=password,
        )
    finally:
        processes.destroy()


@pytest.fixture
def mp_throwaway_postgres(
    mp_migrate: Callable[[PostgresSettings], None],
    mp_testing_settings: TestingSettings,
    request: pytest.FixtureRequest,
) -> Iterator[ThrowawayPostgres]:
    """A native PostgreSQL cluster of this test's own, migrated, that it may stop, crash or
    restart; destroyed afterwards (about 3 s to start)."""
    try:
        with native_unavailable_as_skip("mp_throwaway_postgres"):
            server = start_throwaway_postgres(mp_migrate)
    except MpTestingError as error:
        _unavailable(mp_testing_settings, error, request.config)
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(autouse=True)
def _mp_reset_settings() -> Iterator[None]:
    """Each test starts and ends with mp-config's settings cache empty."""
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(autouse=True)
def _mp_license_gate(request: pytest.FixtureRequest) -> None:
    """Skip tests marked ``timescale_license`` when the server is an Apache-2 build."""
    if request.node.get_closest_marker(LICENSE_MARKER) is None:
        return
    license_name = request.getfixturevalue("mp_timescaledb_license")
    if license_name != "timescale":
        pytest.skip(
            f"needs TimescaleDB's community (TSL) features; this server's license is "
            f"{license_name!r}"
        )
