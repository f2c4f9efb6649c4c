"""redis-py clients built from ``MP_REDIS_*`` with every timeout, retry and keepalive set.

redis-py 8 changed its defaults (RESP3 instead of RESP2, 10 retries instead of none, TCP
keepalive on with its own idle/interval/count, 5 s timeouts). A library upgrade must not change
how long a cache read can stall, so every one of those values is passed explicitly here, from the
settings or from a ``DEFAULT_*`` constant of this module.
"""

from __future__ import annotations

import socket
import warnings
from typing import Any, TypeAlias

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.cluster
import redis.retry
import redis.sentinel
from redis.backoff import AbstractBackoff, ExponentialWithJitterBackoff

from mp_cache.exceptions import CacheConfigError
from mp_config import RedisSettings

__all__ = [
    "DEFAULT_KEEPALIVE_COUNT",
    "DEFAULT_KEEPALIVE_IDLE_SECONDS",
    "DEFAULT_KEEPALIVE_INTERVAL_SECONDS",
    "DEFAULT_PROTOCOL",
    "AsyncClient",
    "SyncClient",
    "backoff",
    "client_options",
    "create_async_client",
    "create_client",
    "create_client_async",
    "keepalive_options",
    "max_call_seconds",
]

#: RESP2: the protocol every Redis, proxy and managed service speaks; redis-py 8 defaults to 3.
DEFAULT_PROTOCOL = 2
#: Seconds of silence before the first TCP keepalive probe (half-open connections end sooner).
DEFAULT_KEEPALIVE_IDLE_SECONDS = 30
#: Seconds between keepalive probes.
DEFAULT_KEEPALIVE_INTERVAL_SECONDS = 5
#: Unanswered probes before the kernel drops the connection.
DEFAULT_KEEPALIVE_COUNT = 3

#: A sync client for any topology (a sentinel gives a plain ``Redis`` bound to the master).
SyncClient: TypeAlias = "redis.Redis | redis.cluster.RedisCluster"
#: An asyncio client for any topology.
AsyncClient: TypeAlias = "redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster"


# redis-py leaves these constructors unannotated; Any keeps strict mypy's untyped-call check quiet.
_SYNC_NODE: Any = redis.cluster.ClusterNode
_SYNC_SENTINEL: Any = redis.sentinel.Sentinel
_ASYNC_SENTINEL: Any = redis.asyncio.sentinel.Sentinel


def keepalive_options() -> dict[int, int]:
    """TCP keepalive options for this platform (those it lacks are left out)."""
    wanted = {
        "TCP_KEEPIDLE": DEFAULT_KEEPALIVE_IDLE_SECONDS,
        "TCP_KEEPINTVL": DEFAULT_KEEPALIVE_INTERVAL_SECONDS,
        "TCP_KEEPCNT": DEFAULT_KEEPALIVE_COUNT,
    }
    return {getattr(socket, name): value for name, value in wanted.items() if hasattr(socket, name)}


def backoff(settings: RedisSettings) -> AbstractBackoff:
    """Exponential backoff with jitter between ``retry_backoff_base`` and ``retry_backoff_cap``.

    Jitter keeps many clients that lost the same server from reconnecting in lock step.
    """
    return ExponentialWithJitterBackoff(
        cap=settings.retry_backoff_cap, base=settings.retry_backoff_base
    )


def max_call_seconds(settings: RedisSettings) -> float:
    """The longest one command can take before its error reaches mp-cache.

    Each of ``retry_attempts + 1`` attempts may spend a connect timeout and a socket timeout,
    and the waits between them are at most ``min(cap, base * 2**n)`` each.
    """
    attempts = settings.retry_attempts
    per_attempt = settings.socket_connect_timeout + settings.socket_timeout
    waits = 0.0
    for failure in range(1, attempts + 1):
        waits += min(settings.retry_backoff_cap, settings.retry_backoff_base * 2.0**failure)
    return (attempts + 1) * per_attempt + waits


def _secret(settings: RedisSettings) -> str | None:
    return settings.password.get_secret_value() if settings.password is not None else None


def _path(value: object) -> str | None:
    return None if value is None else str(value)


def client_options(settings: RedisSettings) -> dict[str, Any]:
    """Connection keyword arguments shared by every client of every topology.

    Everything that bounds a stall is explicit: socket and connect timeouts, keepalive and its
    probes, the health check interval, the pool size and the protocol. Retries are not in here
    because each client class takes them in its own form (see :func:`create_client`).
    """
    options: dict[str, Any] = {
        "username": settings.username,
        "password": _secret(settings),
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.socket_connect_timeout,
        "socket_keepalive": settings.socket_keepalive,
        "socket_keepalive_options": keepalive_options() if settings.socket_keepalive else None,
        "health_check_interval": settings.health_check_interval,
        "max_connections": settings.max_connections,
        "protocol": DEFAULT_PROTOCOL,
        "decode_responses": False,
    }
    if settings.tls:
        options.update(
            ssl=True,
            ssl_cert_reqs="required",
            ssl_check_hostname=True,
            ssl_ca_certs=_path(settings.tls_ca_cert),
            ssl_certfile=_path(settings.tls_cert),
            ssl_keyfile=_path(settings.tls_key),
        )
    return options


def _standalone_options(settings: RedisSettings) -> dict[str, Any]:
    return {"host": settings.host, "port": settings.port, "db": settings.db}


def _check_cluster(settings: RedisSettings) -> None:
    if settings.db != 0:
        raise CacheConfigError("MP_REDIS_DB", "Redis Cluster has only database 0")


def _sentinel_kwargs(settings: RedisSettings) -> dict[str, Any]:
    # Sentinels get the same timeouts but no credentials: MP_REDIS_PASSWORD is the data
    # servers' password, and a sentinel without requirepass rejects an AUTH.
    options = client_options(settings)
    return {key: value for key, value in options.items() if key.startswith("socket_")} | {
        "protocol": DEFAULT_PROTOCOL
    }


def create_client(settings: RedisSettings) -> SyncClient:
    """A sync client for the topology ``settings.mode`` names.

    Standalone and sentinel give a ``redis.Redis`` (for sentinel, bound to the current master and
    following failovers); cluster gives a ``redis.cluster.RedisCluster`` seeded from
    ``cluster_nodes``. Each has ``retry_attempts`` retries with jittered exponential backoff.

    Raises:
        CacheConfigError: the settings cannot describe this topology (a db other than 0 in a
            cluster).
    """
    retry = redis.retry.Retry(backoff(settings), settings.retry_attempts)
    options = client_options(settings)
    if settings.mode == "cluster":
        _check_cluster(settings)
        nodes = [_SYNC_NODE(host, port) for host, port in settings.nodes()]
        return redis.cluster.RedisCluster(
            startup_nodes=nodes, retry=retry, require_full_coverage=True, **options
        )
    if settings.mode == "sentinel":
        sentinel = _SYNC_SENTINEL(
            settings.nodes(), sentinel_kwargs=_sentinel_kwargs(settings), db=settings.db, **options
        )
        client: redis.Redis = sentinel.master_for(settings.sentinel_master, retry=retry)
        return client
    return redis.Redis(retry=retry, **_standalone_options(settings), **options)


def create_client_async(settings: RedisSettings) -> AsyncClient:
    """An asyncio client for the topology ``settings.mode`` names (see :func:`create_client`).

    Raises:
        CacheConfigError: the settings cannot describe this topology.
    """
    retry = redis.asyncio.retry.Retry(backoff(settings), settings.retry_attempts)
    options = client_options(settings)
    if settings.mode == "cluster":
        _check_cluster(settings)
        nodes = [redis.asyncio.cluster.ClusterNode(host, port) for host, port in settings.nodes()]
        return redis.asyncio.cluster.RedisCluster(
            startup_nodes=nodes, retry=retry, require_full_coverage=True, **options
        )
    if settings.mode == "sentinel":
        sentinel = _ASYNC_SENTINEL(
            settings.nodes(), sentinel_kwargs=_sentinel_kwargs(settings), db=settings.db, **options
        )
        client: redis.asyncio.Redis = sentinel.master_for(settings.sentinel_master, retry=retry)
        return client
    return redis.asyncio.Redis(retry=retry, **_standalone_options(settings), **options)


def create_async_client(settings: RedisSettings) -> AsyncClient:
    """Deprecated name of :func:`create_client_async` (from before mp's one async
    convention, ``name`` / ``name_async``)."""
    warnings.warn(
        "create_async_client is deprecated: use create_client_async", DeprecationWarning, 2
    )
    return create_client_async(settings)
