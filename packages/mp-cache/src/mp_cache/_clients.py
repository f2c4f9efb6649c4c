"""redis-py clients built from ``MP_REDIS_*`` with every timeout and retry set explicitly."""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from mp_config import RedisSettings

__all__ = ["client_options", "create_async_client", "create_client"]


def client_options(settings: RedisSettings) -> dict[str, Any]:
    """Keyword arguments shared by the sync and async standalone clients."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "db": settings.db,
        "username": settings.username,
        "password": settings.password.get_secret_value() if settings.password else None,
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.socket_connect_timeout,
        "socket_keepalive": settings.socket_keepalive,
        "health_check_interval": settings.health_check_interval,
        "max_connections": settings.max_connections,
        "decode_responses": False,
    }
    if settings.tls:
        options.update(
            ssl=True,
            ssl_ca_certs=_path(settings.tls_ca_cert),
            ssl_certfile=_path(settings.tls_cert),
            ssl_keyfile=_path(settings.tls_key),
        )
    return options


def _path(value: object) -> str | None:
    return None if value is None else str(value)


def _retry(settings: RedisSettings) -> Retry:
    return Retry(
        ExponentialBackoff(cap=settings.retry_backoff_cap, base=settings.retry_backoff_base),
        settings.retry_attempts,
    )


def create_client(settings: RedisSettings) -> redis.Redis:
    """A sync client for a standalone Redis."""
    return redis.Redis(retry=_retry(settings), **client_options(settings))


def create_async_client(settings: RedisSettings) -> redis.asyncio.Redis:
    """An asyncio client for a standalone Redis."""
    from redis.asyncio.retry import Retry as AsyncRetry

    retry = AsyncRetry(
        ExponentialBackoff(cap=settings.retry_backoff_cap, base=settings.retry_backoff_base),
        settings.retry_attempts,
    )
    return redis.asyncio.Redis(retry=retry, **client_options(settings))
