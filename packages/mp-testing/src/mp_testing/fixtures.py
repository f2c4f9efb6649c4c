"""pytest fixtures: a real, migrated TimescaleDB and a real Redis for any repository's tests.

Session fixtures find a server once (see ``MP_TESTING_BACKEND``); each test then gets its own
database, cloned from a template migrated once per session (0.1-0.3 s a clone, against about a
second to migrate a fresh database), or its own Redis key prefix. Override :func:`mp_migrate`
to migrate the template differently (for example to add a downstream project's own migrations
after mp's).
"""

from __future__ import annotations

import itertools
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from mp_config import PostgresSettings, RedisSettings, reset_settings
from mp_testing._postgres_server import PostgresServer, provide_postgres, read_license
from mp_testing._redis_server import RedisHandle, delete_prefix, provide_redis
from mp_testing._settings import TestingSettings
from mp_testing._throwaway import ThrowawayPostgres, start_throwaway_postgres
from mp_testing.exceptions import MpTestingError
from mp_testing.native import RedisClusterProcesses, free_cluster_port

__all__ = [
    "LICENSE_MARKER",
    "TestDatabase",
    "mp_database",
    "mp_empty_database",
    "mp_migrate",
    "mp_pg_settings",
    "mp_postgres_server",
    "mp_redis",
    "mp_redis_cluster",
    "mp_redis_server",
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


def _unavailable(testing: TestingSettings, error: Exception) -> NoReturn:
    reason = str(error)
    if testing.require_services:
        pytest.fail(f"MP_TESTING_REQUIRE_SERVICES is set and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mp_testing_settings() -> TestingSettings:
    """The fixtures' own settings (``MP_TESTING_*``)."""
    return TestingSettings.load()


@pytest.fixture(scope="session")
def mp_postgres_server(mp_testing_settings: TestingSettings) -> Iterator[PostgresServer]:
    """A PostgreSQL server with TimescaleDB for the session; skipped (or failed) if none."""
    try:
        server = provide_postgres(mp_testing_settings)
    except MpTestingError as error:
        _unavailable(mp_testing_settings, error)
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
    """A database migrated once per session, cloned for every test by :func:`mp_database`."""
    name = _database_name("tpl")
    mp_postgres_server.create_database(name, is_template=True)
    try:
        mp_migrate(mp_postgres_server.settings_for(name))
        read_license(mp_postgres_server, name)
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


@pytest.fixture(scope="session")
def mp_redis_server(mp_testing_settings: TestingSettings) -> Iterator[RedisHandle]:
    """A Redis for the session; skipped (or failed) if none can be had."""
    try:
        handle = provide_redis(mp_testing_settings)
    except MpTestingError as error:
        _unavailable(mp_testing_settings, error)
    try:
        yield handle
    finally:
        handle.close()


@pytest.fixture
def mp_redis(mp_redis_server: RedisHandle) -> Iterator[RedisSettings]:
    """Redis settings with a key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"mp-test:{secrets.token_hex(4)}:"
    settings = mp_redis_server.settings.model_copy(update={"key_prefix": prefix})
    try:
        yield settings
    finally:
        if mp_redis_server.owned and mp_redis_server.server is not None:
            mp_redis_server.command("FLUSHALL")
        else:
            delete_prefix(mp_redis_server, prefix)


@pytest.fixture(scope="session")
def mp_redis_cluster(mp_testing_settings: TestingSettings) -> Iterator[RedisSettings]:
    """A real 3-master Redis Cluster on loopback ports, run by this session."""
    root = Path(tempfile.mkdtemp(prefix="mp-testing-cluster-"))
    password = secrets.token_urlsafe(12)
    try:
        processes = RedisClusterProcesses(
            root, [free_cluster_port() for _ in range(3)], password=password
        )
        processes.start()
    except MpTestingError as error:
        _unavailable(mp_testing_settings, error)
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
    mp_migrate: Callable[[PostgresSettings], None], mp_testing_settings: TestingSettings
) -> Iterator[ThrowawayPostgres]:
    """A native PostgreSQL cluster of this test's own, migrated, that it may stop, crash or
    restart; destroyed afterwards (about 3 s to start)."""
    try:
        server = start_throwaway_postgres(mp_migrate)
    except MpTestingError as error:
        _unavailable(mp_testing_settings, error)
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
