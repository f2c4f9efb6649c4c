"""Clients reach a real Redis (standalone, cluster, sentinel) with every value set explicitly."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from helpers import eventually, run
from redis.crc import key_slot

from mp_cache import (
    DEFAULT_KEEPALIVE_IDLE_SECONDS,
    DEFAULT_PROTOCOL,
    CacheConfigError,
    client_options,
    create_client,
    create_client_async,
    max_call_seconds,
)
from mp_config import RedisSettings
from mp_stack.native import RedisServer, free_port


def test_sync_client_round_trip(settings: RedisSettings) -> None:
    """SET then GET through the sync client returns the value."""
    client = create_client(settings)
    try:
        key = f"{settings.key_prefix}greeting"
        client.set(key, b"hello")
        assert client.get(key) == b"hello"
    finally:
        client.close()


def test_async_client_round_trip(settings: RedisSettings) -> None:
    """SET then GET through the asyncio client returns the value."""

    async def round_trip() -> object:
        client = create_client_async(settings)
        try:
            key = f"{settings.key_prefix}greeting"
            await client.set(key, b"hello")
            return await client.get(key)
        finally:
            await client.aclose()

    assert run(round_trip()) == b"hello"


def test_every_timeout_keepalive_and_protocol_value_is_explicit(settings: RedisSettings) -> None:
    """The pool's connection options carry the settings' values, not redis-py's defaults."""
    tuned = settings.model_copy(
        update={"socket_timeout": 0.75, "socket_connect_timeout": 0.6, "health_check_interval": 7}
    )
    client = create_client(tuned)
    assert isinstance(client, redis.Redis)
    try:
        options = client.connection_pool.connection_kwargs
        assert options["socket_timeout"] == 0.75
        assert options["socket_connect_timeout"] == 0.6
        assert options["health_check_interval"] == 7
        assert options["protocol"] == DEFAULT_PROTOCOL == 2
        assert options["socket_keepalive"] is True
        assert options["socket_keepalive_options"][socket.TCP_KEEPIDLE] == (
            DEFAULT_KEEPALIVE_IDLE_SECONDS
        )
        assert client.connection_pool.max_connections == tuned.max_connections
        assert options["retry"].get_retries() == tuned.retry_attempts
    finally:
        client.close()


def test_tls_settings_become_verified_tls_options(tmp_path: Path) -> None:
    """MP_REDIS_TLS gives ssl=True with certificate and host name checks and the given files."""
    ca = tmp_path / "ca.pem"
    settings = RedisSettings.load(env_file=None, tls=True, tls_ca_cert=ca, username="mp")
    options = client_options(settings)
    assert options["ssl"] is True
    assert options["ssl_cert_reqs"] == "required"
    assert options["ssl_check_hostname"] is True
    assert options["ssl_ca_certs"] == str(ca)
    assert options["username"] == "mp"


def test_the_password_never_appears_in_a_client_repr(settings: RedisSettings) -> None:
    """redis-py's repr of our client shows host and port, never the password."""
    assert settings.password is not None
    client = create_client(settings)
    try:
        assert settings.password.get_secret_value() not in repr(client)
    finally:
        client.close()


def test_max_call_seconds_adds_timeouts_and_capped_backoff() -> None:
    """(attempts + 1) x (connect + read timeout) + each backoff wait, capped."""
    settings = RedisSettings.load(
        env_file=None,
        socket_timeout=0.5,
        socket_connect_timeout=0.25,
        retry_attempts=2,
        retry_backoff_base=0.1,
        retry_backoff_cap=0.3,
    )
    assert max_call_seconds(settings) == pytest.approx(3 * 0.75 + 0.2 + 0.3)


def test_a_cluster_client_reaches_every_master(cluster_settings: RedisSettings) -> None:
    """Keys in many slots are written and read back through the cluster client."""
    client = create_client(cluster_settings)
    assert isinstance(client, redis.cluster.RedisCluster)
    try:
        keys = [f"{cluster_settings.key_prefix}k{index}" for index in range(30)]
        for key in keys:
            client.set(key, key.encode())
        assert client.mget_nonatomic(keys) == [key.encode() for key in keys]
        assert len({key_slot(key.encode()) for key in keys}) > 3
        assert len(client.nodes_manager.nodes_cache) == 3
    finally:
        client.close()


def test_an_async_cluster_client_round_trips(cluster_settings: RedisSettings) -> None:
    """The asyncio cluster client reads back what it wrote."""

    async def round_trip() -> object:
        client = create_client_async(cluster_settings)
        assert isinstance(client, redis.asyncio.cluster.RedisCluster)
        try:
            await client.set(f"{cluster_settings.key_prefix}a", b"1")
            return await client.get(f"{cluster_settings.key_prefix}a")
        finally:
            await client.aclose()

    assert run(round_trip()) == b"1"


def test_a_cluster_with_a_database_number_is_refused(cluster_settings: RedisSettings) -> None:
    """Redis Cluster has only database 0; asking for another fails before connecting."""
    with pytest.raises(CacheConfigError):
        create_client(cluster_settings.model_copy(update={"db": 3}))


@pytest.fixture
def sentinel(fault_server: RedisServer, tmp_path: Path) -> Iterator[int]:
    """A real redis-sentinel watching ``fault_server`` as ``mymaster``; yields its port."""
    binary = shutil.which("redis-server")
    assert binary is not None
    port = free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor mymaster 127.0.0.1 {fault_server.port} 1\n"
        f'sentinel auth-pass mymaster "{fault_server.password}"\n'
    )
    process = subprocess.Popen(
        [binary, str(config), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        probe = redis.Redis(port=port, socket_timeout=0.5, protocol=2)
        if not eventually(lambda: _answers(probe)):
            pytest.skip("redis-sentinel did not start")
        probe.close()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_a_sentinel_client_finds_and_uses_the_master(
    sentinel: int, fault_server: RedisServer
) -> None:
    """mode=sentinel asks the sentinel for mymaster, then talks to that master."""
    settings = RedisSettings.load(
        env_file=None,
        mode="sentinel",
        sentinel_nodes=f"127.0.0.1:{sentinel}",
        password=fault_server.password,
    )
    client = create_client(settings)
    try:
        client.set("via-sentinel", secrets.token_hex(4).encode())
        assert fault_server.command("EXISTS", "via-sentinel") == 1
    finally:
        client.close()
