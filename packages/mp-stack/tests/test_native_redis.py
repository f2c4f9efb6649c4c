"""Native redis-servers and a real 3-master Redis Cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from mp_stack.native import (
    RedisClusterProcesses,
    RedisServer,
    RespError,
    free_cluster_port,
    free_port,
    redis_command,
)


def test_password_with_spaces_and_quotes(tmp_path: Path) -> None:
    """A password that needs quoting in redis.conf works, and the server refuses others."""
    password = 'a b"c\\d'
    server = RedisServer(tmp_path / "r", free_port(), password=password)
    try:
        server.start()
        assert server.ping()
        with pytest.raises(RespError, match="NOAUTH"):
            redis_command(server.host, server.port, "GET", "x")
        assert (server.config_file.stat().st_mode & 0o777) == 0o600
    finally:
        server.destroy()


@pytest.mark.scenario("faults_survived")
def test_stop_is_idempotent_and_kill_crashes(tmp_path: Path) -> None:
    """stop twice is fine; kill makes the server unreachable at once."""
    server = RedisServer(tmp_path / "r", free_port())
    try:
        server.start()
        server.kill()
        assert not server.ping()
        server.start()
        assert server.ping()
        server.stop()
        server.stop()
        assert not server.is_running()
    finally:
        server.destroy()


def test_cluster_forms_with_all_slots(tmp_path: Path) -> None:
    """Three masters form a cluster covering all 16384 slots; start is idempotent."""
    processes = RedisClusterProcesses(
        tmp_path / "cluster", [free_cluster_port() for _ in range(3)], password="pw"
    )
    try:
        processes.start()
        processes.start()
        info = str(processes.servers[0].command("CLUSTER", "INFO"))
        assert "cluster_state:ok" in info
        assert "cluster_slots_assigned:16384" in info
        assert "cluster_size:3" in info
    finally:
        processes.destroy()


def test_cluster_needs_three_masters(tmp_path: Path) -> None:
    """Fewer than three ports is refused before anything starts."""
    with pytest.raises(ValueError, match="at least 3"):
        RedisClusterProcesses(tmp_path, [free_cluster_port(), free_cluster_port()])
