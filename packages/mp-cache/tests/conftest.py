"""Fixtures: the shared Redis and cluster from mp-testing, and throwaway servers to break.

Fault tests never touch the session's server: each gets a redis-server of its own on a free
loopback port (``fault_server``) that it may kill, stop, stall, flush or starve of memory.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.cluster
from helpers import private_prefix, settings_for

from mp_cache import create_client
from mp_config import RedisSettings
from mp_stack.native import RedisServer, free_port


@pytest.fixture
def settings(mp_redis: RedisSettings) -> RedisSettings:
    """The session's Redis, under a key prefix of this test's own."""
    return mp_redis


@pytest.fixture
def client(settings: RedisSettings) -> Iterator[redis.Redis]:
    """A sync client of the session's Redis."""
    made = create_client(settings)
    assert isinstance(made, redis.Redis)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def cluster_settings(mp_redis_cluster: RedisSettings) -> Iterator[RedisSettings]:
    """The session's 3-master cluster, under a private prefix whose keys are deleted after."""
    settings = mp_redis_cluster.model_copy(update={"key_prefix": private_prefix()})
    yield settings
    cleaner = create_client(settings)
    assert isinstance(cleaner, redis.cluster.RedisCluster)
    try:
        for key in cleaner.scan_iter(match=f"{settings.key_prefix}*"):
            cleaner.delete(key)
    finally:
        cleaner.close()


def _server(root: Path, maxmemory: str | None = None) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(root, free_port(), password=secrets.token_urlsafe(12), maxmemory=maxmemory)
    server.start()
    try:
        yield server
    finally:
        # SIGKILL, not destroy(): a daemonized server's zombie can linger for seconds under
        # some init processes, and destroy() waits for the pid to vanish.
        server.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fault_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (DEBUG allowed), destroyed afterwards."""
    yield from _server(tmp_path / "redis")


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server with maxmemory 2mb and noeviction, for out-of-memory faults."""
    yield from _server(tmp_path / "redis", maxmemory="2mb")


@pytest.fixture
def fault_settings(fault_server: RedisServer) -> RedisSettings:
    """Settings for ``fault_server``: short timeouts, no retries, a quick breaker."""
    return settings_for(fault_server)
