"""Native PostgreSQL clusters: created, started, stopped, crashed and restarted for real."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from mp_stack.exceptions import NativeServiceError
from mp_stack.native import PostgresCluster, free_port


@pytest.fixture
def cluster_root(traversable_dir: Path) -> Path:
    """A folder the server's OS user can enter (see conftest.traversable_dir)."""
    return traversable_dir


@pytest.fixture
def cluster(cluster_root: Path) -> Iterator[PostgresCluster]:
    """A throwaway cluster, destroyed after the test."""
    instance = PostgresCluster(cluster_root / "pg", free_port(), durable=False)
    try:
        yield instance
    finally:
        instance.destroy()


def test_start_gives_timescaledb_and_utc(cluster: PostgresCluster) -> None:
    """A started cluster preloads timescaledb and runs in UTC."""
    cluster.start()
    with cluster.connect_admin() as connection:
        row = connection.execute(
            "SELECT current_setting('shared_preload_libraries'), current_setting('TimeZone')"
        ).fetchone()
        connection.execute("CREATE EXTENSION timescaledb")
        license_row = connection.execute("SHOW timescaledb.license").fetchone()
    assert row is not None
    assert "timescaledb" in str(row[0])
    assert row[1] == "UTC"
    assert license_row is not None
    assert license_row[0] in {"apache", "timescale"}


def test_start_is_idempotent(cluster: PostgresCluster) -> None:
    """Starting a running cluster is a no-op, not an error."""
    cluster.start()
    cluster.start()
    assert cluster.is_running()


def test_login_role_and_database_over_tcp(cluster: PostgresCluster) -> None:
    """ensure_login_role/ensure_database create what a TCP client with a password can use."""
    cluster.start()
    cluster.ensure_login_role("mp_owner", "p@ss w:rd/%")
    cluster.ensure_login_role("mp_owner", "second-password")  # updates, does not fail
    cluster.ensure_database("mp_data", "mp_owner")
    cluster.ensure_database("mp_data", "mp_owner")
    with psycopg.connect(
        host="127.0.0.1",
        port=cluster.port,
        user="mp_owner",
        password="second-password",
        dbname="mp_data",
    ) as connection:
        assert connection.execute("SELECT current_user").fetchone() == ("mp_owner",)


def test_tcp_needs_a_password(cluster: PostgresCluster) -> None:
    """Over TCP, trust is not granted: a wrong password is refused."""
    cluster.start()
    cluster.ensure_login_role("mp_owner", "right")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host="127.0.0.1",
            port=cluster.port,
            user="mp_owner",
            password="wrong",
            dbname="postgres",
        )


@pytest.mark.scenario("nothing_lost")
def test_immediate_stop_then_restart_keeps_committed_data(cluster: PostgresCluster) -> None:
    """An immediate stop is a crash; after restart (recovery) committed rows are there."""
    cluster.start()
    with cluster.connect_admin() as connection:
        connection.execute("CREATE TABLE survivors (id int)")
        connection.execute("INSERT INTO survivors SELECT generate_series(1, 100)")
    cluster.stop("immediate")
    assert not cluster.is_running()
    cluster.start()
    with cluster.connect_admin() as connection:
        assert connection.execute("SELECT count(*) FROM survivors").fetchone() == (100,)


def test_port_taken_by_another_program_is_reported(cluster_root: Path) -> None:
    """A port already in use gives an error naming the port and the setting to change."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        instance = PostgresCluster(cluster_root / "busy", port, durable=False)
        try:
            with pytest.raises(NativeServiceError, match=f"port {port}") as caught:
                instance.start()
            assert "MP_PG_PORT" in str(caught.value)
        finally:
            instance.destroy()


def test_durable_and_throwaway_settings_differ(cluster_root: Path) -> None:
    """The native stack keeps fsync on; throwaway test clusters turn it off."""
    durable = PostgresCluster(cluster_root / "durable", free_port(), durable=True)
    try:
        durable.init()
        assert "fsync = on" in (durable.data_dir / "mp.conf").read_text()
    finally:
        durable.destroy()
    fast = PostgresCluster(cluster_root / "fast", free_port(), durable=False)
    try:
        fast.init()
        assert "fsync = off" in (fast.data_dir / "mp.conf").read_text()
    finally:
        fast.destroy()


def test_deep_folder_gets_a_short_socket_path(cluster_root: Path) -> None:
    """A cluster folder too deep for a Unix socket path still starts (socket moves to /tmp)."""
    deep = cluster_root / ("d" * 60) / ("e" * 60)
    instance = PostgresCluster(deep / "pg", free_port(), durable=False)
    try:
        assert not str(instance.socket_dir).startswith(str(deep))
        instance.start()
        with instance.connect_admin() as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
    finally:
        instance.destroy()
    assert not instance.socket_dir.exists()


def test_a_server_that_dies_at_start_fails_at_once(traversable_dir: Path) -> None:
    """A bad setting kills the postmaster: start reports that (with the log), rather than
    waiting out its timeout."""
    cluster = PostgresCluster(
        traversable_dir / "pg", free_port(), durable=False, settings={"shared_buffers": "lots"}
    )
    try:
        with pytest.raises(NativeServiceError) as caught:
            cluster.start(timeout=600)
    finally:
        cluster.destroy()
    assert "exited before accepting connections" in str(caught.value)
    assert "shared_buffers" in str(caught.value)
