"""Ingest invalidates mp's cache after its own commit, so no caller can forget to.

When ``MP_REDIS_CACHE_ENABLED`` is true, every ingest that opens and commits its own
transaction replaces the cache generation of each series it stored rows for (namespace
``MP_REDIS_CACHE_NAMESPACE``) right after the commit and before returning. If Redis cannot be
told, the ingest still returns (its rows are committed; failing it would only invite a retry
that stores nothing): the miss is logged, and :class:`~mp_db.CachedReader` bounds how long an
entry can outlive the commit (it checks ``mp.ingest_log``). An ingest that joins a caller's
open transaction cannot see the commit and does not invalidate; the same check covers it.

mp-cache is optional (``mp-db[cache]``): it is imported only when the cache is enabled, and
its absence then is a configuration error, never a silent skip.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mp_config import RedisSettings, get_settings
from mp_db.exceptions import ConfigurationError

if TYPE_CHECKING:
    from mp_cache import Cache

__all__ = ["Invalidation", "invalidation"]

_log = logging.getLogger("mp_db")

#: One sync cache per distinct settings: its client pools connections across ingests.
_SYNC_CACHES: dict[str, Cache] = {}


@dataclass(frozen=True)
class Invalidation:
    """The cache an ingest invalidates after its commit (from ``MP_REDIS_*``)."""

    settings: RedisSettings

    def invalidate(self, series_ids: list[int]) -> None:
        """Invalidate ``series_ids`` with a pooled sync client; log, never raise, on failure."""
        from mp_cache import CacheUnavailableError

        try:
            _sync_cache(self.settings).invalidate(series_ids)
        except CacheUnavailableError as error:
            _missed(series_ids, error)

    async def invalidate_async(self, series_ids: list[int]) -> None:
        """:meth:`invalidate` on asyncio: a client of this event loop, closed afterwards."""
        from mp_cache import AsyncCache, CacheUnavailableError, create_client_async

        client: Any = create_client_async(self.settings)
        try:
            cache = AsyncCache(client, self.settings, namespace=self.settings.cache_namespace)
            await cache.invalidate(series_ids)
        except CacheUnavailableError as error:
            _missed(series_ids, error)
        finally:
            await client.aclose()


def _sync_cache(settings: RedisSettings) -> Cache:
    """The pooled sync cache of these settings (made once; a bad setting raises here)."""
    from mp_cache import Cache, create_client

    key = settings.model_dump_json()
    cache = _SYNC_CACHES.get(key)
    if cache is None:
        cache = Cache(create_client(settings), settings, namespace=settings.cache_namespace)
        _SYNC_CACHES[key] = cache
    return cache


def _missed(series_ids: list[int], error: Exception) -> None:
    _log.warning(
        "mp-db: the cache invalidation of series %s after their commit did not reach Redis "
        "(%s); CachedReader serves their entries for at most "
        "MP_REDIS_CACHE_MAX_STALENESS_SECONDS more",
        series_ids,
        error,
    )


def invalidation() -> Invalidation | None:
    """The cache ingest must invalidate after committing, or None when the cache is off.

    Raises:
        ConfigurationError: the cache is enabled but mp-cache is not installed.
        CacheConfigError: mp-cache refuses the ``MP_REDIS_*`` settings.
    """
    # Read once per process (mp-config's cache; reset_settings() re-reads): loading the env
    # file costs milliseconds, more than a small ingest.
    settings = get_settings(RedisSettings)
    if not settings.cache_enabled:
        return None
    try:
        import mp_cache  # noqa: F401 - only checks that the extra is installed
    except ImportError as error:
        raise ConfigurationError(
            "MP_REDIS_CACHE_ENABLED is true but mp-cache is not installed, so ingest could not "
            "invalidate the cache after its commit: pip install 'mp-db[cache]' (or set "
            "MP_REDIS_CACHE_ENABLED=false)"
        ) from error
    # Builds the client now, so settings mp-cache refuses fail the ingest before it writes.
    _sync_cache(settings)
    return Invalidation(settings)
