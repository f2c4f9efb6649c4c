"""Redis for mp: clients, a point-in-time-safe cache, a rate limiter and leases.

Redis is a cache here, never the source of truth: losing or stalling it may change latency,
never results. Cache reads fall through to a loader on any Redis fault; cached answers carry
the knowledge_time and generation that keep a stale or future value from being served.

Example:
    >>> from mp_config import RedisSettings
    >>> from mp_cache import Cache, create_client
    >>> settings = RedisSettings.load()  # doctest: +SKIP
    >>> cache = Cache(create_client(settings), settings, namespace="facts")  # doctest: +SKIP
"""

from mp_cache._acl import ACL_COMMANDS, acl_rules
from mp_cache._breaker import BreakerState, CircuitBreaker
from mp_cache._cache import (
    DEFAULT_AS_OF_QUERY,
    DEFAULT_GENERATION_TTL_SECONDS,
    AsyncCache,
    Cache,
)
from mp_cache._clients import (
    DEFAULT_KEEPALIVE_COUNT,
    DEFAULT_KEEPALIVE_IDLE_SECONDS,
    DEFAULT_KEEPALIVE_INTERVAL_SECONDS,
    DEFAULT_PROTOCOL,
    AsyncClient,
    SyncClient,
    client_options,
    create_async_client,
    create_client,
    create_client_async,
    max_call_seconds,
)
from mp_cache._codec import FORMAT_VERSION, LatestValue
from mp_cache._health import Health, async_health, health, health_async
from mp_cache._keys import DEFAULT_NAMESPACE, KeyScheme, SeriesId
from mp_cache._limiter import (
    DEFAULT_LIMITER_NAMESPACE,
    FALLBACK_SOURCE,
    AsyncRateLimiter,
    Decision,
    RateLimiter,
)
from mp_cache._lock import (
    DEFAULT_LOCK_NAMESPACE,
    DEFAULT_LOCK_RETRY_SECONDS,
    DEFAULT_LOCK_TTL_SECONDS,
    AsyncLocks,
    Lease,
    Locks,
)
from mp_cache._version import __version__
from mp_cache.exceptions import (
    CacheConfigError,
    CacheError,
    CacheUnavailableError,
    CodecError,
    LockError,
    LockLostError,
    LockNotAcquiredError,
    RateLimitNotConfiguredError,
    RateLimitTimeoutError,
)

__all__ = [
    "ACL_COMMANDS",
    "DEFAULT_AS_OF_QUERY",
    "DEFAULT_GENERATION_TTL_SECONDS",
    "DEFAULT_KEEPALIVE_COUNT",
    "DEFAULT_KEEPALIVE_IDLE_SECONDS",
    "DEFAULT_KEEPALIVE_INTERVAL_SECONDS",
    "DEFAULT_LIMITER_NAMESPACE",
    "DEFAULT_LOCK_NAMESPACE",
    "DEFAULT_LOCK_RETRY_SECONDS",
    "DEFAULT_LOCK_TTL_SECONDS",
    "DEFAULT_NAMESPACE",
    "DEFAULT_PROTOCOL",
    "FALLBACK_SOURCE",
    "FORMAT_VERSION",
    "AsyncCache",
    "AsyncClient",
    "AsyncLocks",
    "AsyncRateLimiter",
    "BreakerState",
    "Cache",
    "CacheConfigError",
    "CacheError",
    "CacheUnavailableError",
    "CircuitBreaker",
    "CodecError",
    "Decision",
    "Health",
    "KeyScheme",
    "LatestValue",
    "Lease",
    "LockError",
    "LockLostError",
    "LockNotAcquiredError",
    "Locks",
    "RateLimitNotConfiguredError",
    "RateLimitTimeoutError",
    "RateLimiter",
    "SeriesId",
    "SyncClient",
    "__version__",
    "acl_rules",
    "async_health",
    "client_options",
    "create_async_client",
    "create_client",
    "create_client_async",
    "health",
    "health_async",
    "max_call_seconds",
]
