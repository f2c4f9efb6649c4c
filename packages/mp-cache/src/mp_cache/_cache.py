"""The cache: :class:`Cache` (sync) and :class:`AsyncCache`, made from one logic.

Every method is written once, as steps (:mod:`mp_cache._cache_logic`); the two classes only
say how to run them (:mod:`mp_config.steps`).

Reads never raise because of Redis: a fault, a stall, an open circuit breaker, a foreign or
corrupt payload are all misses, and the loader answers. The loader's own exceptions do
propagate: the loader is the source of truth, and its failure is a real one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Generic, TypeVar

from mp_cache._breaker import CircuitBreaker
from mp_cache._cache_logic import CacheLogic, load_many, load_one, load_value
from mp_cache._clients import AsyncClient, SyncClient, max_call_seconds
from mp_cache._codec import LatestValue
from mp_cache._driver import AsyncDriver, SyncDriver
from mp_cache._keys import DEFAULT_NAMESPACE, KeyScheme, SeriesId
from mp_cache._ops import Steps
from mp_config import RedisSettings
from mp_config.steps import async_method, sync_method

__all__ = [
    "DEFAULT_AS_OF_QUERY",
    "DEFAULT_GENERATION_TTL_SECONDS",
    "REDIS_CALLS_PER_READ",
    "AsyncCache",
    "Cache",
]

T = TypeVar("T")
C = TypeVar("C")  # the redis-py client: sync or asyncio

#: How long an unused generation token lives; losing one only turns entries into misses.
DEFAULT_GENERATION_TTL_SECONDS: Final = 7 * 24 * 3600
#: The ``query`` of :meth:`Cache.as_of` when none is given.
DEFAULT_AS_OF_QUERY: Final = "value"
#: Redis calls a read makes at most: read, generation, write.
REDIS_CALLS_PER_READ: Final = 3


def _series_list(series: SeriesId | Iterable[SeriesId]) -> list[SeriesId]:
    # A str is iterable too; one series must not become one series per character.
    if isinstance(series, str | int):
        return [series]
    return list(series)


class _CacheBase(Generic[C]):
    def __init__(
        self,
        client: C,
        settings: RedisSettings,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        ttl_seconds: float | None = None,
        generation_ttl_seconds: float = DEFAULT_GENERATION_TTL_SECONDS,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._client: C = client
        ttl = settings.default_ttl_seconds if ttl_seconds is None else ttl_seconds
        if ttl <= 0 or generation_ttl_seconds <= 0:
            raise ValueError("TTLs must be positive")
        self._logic = CacheLogic(
            keys=KeyScheme(settings.key_prefix, namespace),
            breaker=breaker
            or CircuitBreaker(
                failure_threshold=settings.breaker_failure_threshold,
                reset_seconds=settings.breaker_reset_seconds,
            ),
            ttl_ms=max(1, round(ttl * 1000)),
            generation_ttl_ms=max(1, round(generation_ttl_seconds * 1000)),
        )
        self._max_redis_delay = REDIS_CALLS_PER_READ * max_call_seconds(settings)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={self._logic.keys.root!r}, "
            f"ttl_ms={self._logic.ttl_ms}, breaker={self._logic.breaker.state.value})"
        )

    @property
    def breaker(self) -> CircuitBreaker:
        """The circuit breaker guarding this cache's reads and writes."""
        return self._logic.breaker

    @property
    def ttl_seconds(self) -> float:
        """The default TTL of entries: no entry written without its own TTL outlives it."""
        return self._logic.ttl_ms / 1000

    @property
    def keys(self) -> KeyScheme:
        """The key scheme (prefix and namespace) of this cache."""
        return self._logic.keys

    @property
    def max_redis_delay(self) -> float:
        """Seconds one read can lose to Redis, at most, while the breaker is closed.

        A read whose first call fails goes straight to the loader, so a dead or stalled Redis
        costs one call's timeouts and retries per read; the bound covers the worst case, three
        calls (read, generation, write) when Redis fails between them. With the breaker open,
        reads lose nothing.
        """
        return self._max_redis_delay

    # --- the methods, written once: each returns the steps both classes run -----------------

    def _get(self, key: str, default: Any = None) -> Steps[Any]:
        """The cached value of ``key``, or ``default`` (also when Redis is unavailable)."""
        hit, data = yield from self._logic.get(key)
        return data if hit else default

    def _get_many(self, keys: Sequence[str]) -> Steps[dict[str, Any]]:
        """The cached values among ``keys`` (one MGET); misses are left out."""
        return self._logic.get_many(keys)

    def _set(self, key: str, value: Any, *, ttl_seconds: float | None = None) -> Steps[bool]:
        """Store a JSON value; False when Redis did not store it (down, full).

        Raises:
            CodecError: ``value`` is not JSON (NaN, a datetime, an object).
        """
        return self._logic.set_many({key: value}, ttl_seconds)

    def _set_many(
        self, values: Mapping[str, Any], *, ttl_seconds: float | None = None
    ) -> Steps[bool]:
        """Store several JSON values in one pipeline; False unless all were stored.

        Raises:
            CodecError: a value is not JSON; nothing is sent.
        """
        return self._logic.set_many(values, ttl_seconds)

    def _delete(self, *keys: str) -> Steps[int]:
        """Delete plain values; returns how many existed.

        Raises:
            CacheUnavailableError: Redis could not be reached.
        """
        return self._logic.delete(keys)

    def _invalidate(self, series: SeriesId | Iterable[SeriesId]) -> Steps[int]:
        """Call after an ingest commit: every entry of these series becomes unreachable.

        Returns how many series were invalidated.

        Raises:
            CacheUnavailableError: Redis could not be told. Retry: until then, entries of
                these series may be served until their TTL ends.
        """
        return self._logic.invalidate(_series_list(series))

    # The loader methods differ in their signature (a loader or a coroutine function), so
    # each class states it; their bodies are these steps.

    def _latest_steps(
        self, series: SeriesId, loader: Callable[..., Any], as_of: datetime | None
    ) -> Steps[LatestValue | None]:
        found = yield from self._logic.latest_many([series], load_one(loader, series, as_of), as_of)
        return found.get(series)

    def _as_of_steps(
        self,
        series: SeriesId,
        as_of: datetime,
        loader: Callable[..., Any],
        options: tuple[str, datetime | None, float | None],
    ) -> Steps[Any]:
        query, known_through, ttl_seconds = options
        key = self._logic.keys.as_of(series, as_of, query=query, known_through=known_through)
        load = load_value(loader, series)
        answers = yield from self._logic.as_of_many([(series, key)], load, ttl_seconds)
        return answers[series]


class Cache(_CacheBase[SyncClient], SyncDriver):
    """A point-in-time-safe cache over a sync redis-py client.

    Args:
        client: from :func:`mp_cache.create_client`.
        settings: the same ``MP_REDIS_*`` settings (prefix, default TTL, breaker).
        namespace: keeps independent users of one Redis apart; ingest invalidates the
            namespace its readers use.
        ttl_seconds: default TTL of entries (``MP_REDIS_DEFAULT_TTL_SECONDS`` when None).
        generation_ttl_seconds: lifetime of an unused generation token.
        breaker: a breaker to share between caches (one is made from the settings otherwise).

    Example:
        >>> cache = Cache(create_client(settings), settings, namespace="facts")  # doctest: +SKIP
        >>> cache.latest_many(["CPI", "GDP"], load_latest)  # doctest: +SKIP
    """

    get = sync_method(_CacheBase._get)
    get_many = sync_method(_CacheBase._get_many)
    set = sync_method(_CacheBase._set)
    set_many = sync_method(_CacheBase._set_many)

    def read_through(
        self, key: str, loader: Callable[[], T], *, ttl_seconds: float | None = None
    ) -> T:
        """The cached value of ``key``, else ``loader()``'s result, stored for next time."""
        result: T = self._drive(self._logic.read_through(key, loader, ttl_seconds))
        return result

    delete = sync_method(_CacheBase._delete)
    invalidate = sync_method(_CacheBase._invalidate)

    def latest(
        self,
        series: SeriesId,
        loader: Callable[[SeriesId, datetime | None], LatestValue | None],
        *,
        as_of: datetime | None = None,
    ) -> LatestValue | None:
        """A series' latest value, as known now or as of ``as_of``.

        ``loader(series, as_of)`` answers misses (``None``: the series has no value yet).
        A cached latest value is used for ``as_of`` only if its knowledge_time <= ``as_of``.
        """
        return self._drive(self._latest_steps(series, loader, as_of))

    def latest_many(
        self,
        series: Iterable[SeriesId],
        loader: Callable[[list[SeriesId], datetime | None], Mapping[SeriesId, LatestValue]],
        *,
        as_of: datetime | None = None,
    ) -> dict[SeriesId, LatestValue]:
        """Latest values of many series: one MGET, then one ``loader(missing, as_of)`` call.

        Series without a value are left out of the result.
        """
        return self._drive(self._logic.latest_many(series, load_many(loader, as_of), as_of))

    def as_of(
        self,
        series: SeriesId,
        as_of: datetime,
        loader: Callable[[], T],
        *,
        query: str = DEFAULT_AS_OF_QUERY,
        known_through: datetime | None = None,
        ttl_seconds: float | None = None,
    ) -> T:
        """An answer about ``series`` as known at ``as_of``, cached until ingest changes it.

        Args:
            series: the series the answer is about (its generation guards the entry).
            as_of: the knowledge time of the question.
            loader: computes the answer (any JSON value; ``None`` is cached too).
            query: names the question ("window:2020-01-01:2021-01-01", "history", ...).
            known_through: the ingestion cutoff the loader applies, if any.
            ttl_seconds: this entry's TTL.
        """
        options = (query, known_through, ttl_seconds)
        result: T = self._drive(self._as_of_steps(series, as_of, loader, options))
        return result


class AsyncCache(_CacheBase[AsyncClient], AsyncDriver):
    """The asyncio counterpart of :class:`Cache`: same rules, same keys; loaders are coroutines.

    A task cancelled during a Redis command is cancelled for good: redis-py drops the
    connection it was using, so its late reply can never be read by another command.
    """

    get = async_method(_CacheBase._get)
    get_many = async_method(_CacheBase._get_many)
    set = async_method(_CacheBase._set)
    set_many = async_method(_CacheBase._set_many)

    async def read_through(
        self, key: str, loader: Callable[[], Awaitable[T]], *, ttl_seconds: float | None = None
    ) -> T:
        """See :meth:`Cache.read_through`; ``loader`` is awaited."""
        result: T = await self._drive(self._logic.read_through(key, loader, ttl_seconds))
        return result

    delete = async_method(_CacheBase._delete)
    invalidate = async_method(_CacheBase._invalidate)

    async def latest(
        self,
        series: SeriesId,
        loader: Callable[[SeriesId, datetime | None], Awaitable[LatestValue | None]],
        *,
        as_of: datetime | None = None,
    ) -> LatestValue | None:
        """See :meth:`Cache.latest`."""
        return await self._drive(self._latest_steps(series, loader, as_of))

    async def latest_many(
        self,
        series: Iterable[SeriesId],
        loader: Callable[
            [list[SeriesId], datetime | None], Awaitable[Mapping[SeriesId, LatestValue]]
        ],
        *,
        as_of: datetime | None = None,
    ) -> dict[SeriesId, LatestValue]:
        """See :meth:`Cache.latest_many`."""
        return await self._drive(self._logic.latest_many(series, load_many(loader, as_of), as_of))

    async def as_of(
        self,
        series: SeriesId,
        as_of: datetime,
        loader: Callable[[], Awaitable[T]],
        *,
        query: str = DEFAULT_AS_OF_QUERY,
        known_through: datetime | None = None,
        ttl_seconds: float | None = None,
    ) -> T:
        """See :meth:`Cache.as_of`."""
        options = (query, known_through, ttl_seconds)
        result: T = await self._drive(self._as_of_steps(series, as_of, loader, options))
        return result
