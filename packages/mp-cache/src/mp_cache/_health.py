"""A health check that answers instead of raising: is Redis there, how fast, which version."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import redis.asyncio.cluster
import redis.cluster

from mp_cache._breaker import is_redis_fault
from mp_cache._clients import AsyncClient, SyncClient
from mp_cache._driver import run_async, run_sync
from mp_cache._ops import Command, Steps

__all__ = ["Health", "async_health", "health", "health_async"]


@dataclass(frozen=True, slots=True)
class Health:
    """What a health check found.

    Attributes:
        ok: Redis answered PING.
        mode: ``standalone`` or ``cluster`` (a sentinel-managed client is standalone).
        latency_seconds: the PING round trip, when it answered.
        server_version: ``redis_version`` from INFO (the lowest, for a cluster).
        error: why it is not ok (the driver error's class and message; never a password).
    """

    ok: bool
    mode: str
    latency_seconds: float | None = None
    server_version: str | None = None
    error: str | None = None


def _version(info: Any) -> str | None:
    if isinstance(info, dict) and "redis_version" in info:
        return str(info["redis_version"])
    if isinstance(info, dict):
        # A cluster answers per node: {"127.0.0.1:7000": {...}, ...}.
        versions = [_version(value) for value in info.values() if isinstance(value, dict)]
        found = sorted(version for version in versions if version is not None)
        return found[0] if found else None
    return None


def _steps(mode: str) -> Steps[Health]:
    started = time.perf_counter()
    try:
        yield Command(("PING",))
        latency = time.perf_counter() - started
        info = yield Command(("INFO", "server"))
    except Exception as error:
        if not is_redis_fault(error):
            raise
        return Health(ok=False, mode=mode, error=f"{type(error).__name__}: {error}")
    return Health(ok=True, mode=mode, latency_seconds=latency, server_version=_version(info))


def health(client: SyncClient) -> Health:
    """PING and INFO through a sync client; never raises for a Redis fault."""
    mode = "cluster" if isinstance(client, redis.cluster.RedisCluster) else "standalone"
    return run_sync(client, _steps(mode))


async def health_async(client: AsyncClient) -> Health:
    """PING and INFO through an asyncio client; never raises for a Redis fault."""
    mode = "cluster" if isinstance(client, redis.asyncio.cluster.RedisCluster) else "standalone"
    return await run_async(client, _steps(mode))


async def async_health(client: AsyncClient) -> Health:
    """Deprecated name of :func:`health_async` (from before mp's one async convention,
    ``name`` / ``name_async``)."""
    warnings.warn("async_health is deprecated: use health_async", DeprecationWarning, 2)
    return await health_async(client)
