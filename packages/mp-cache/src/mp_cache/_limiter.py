"""A token-bucket rate limiter shared by every connector process, sync and async.

Each data source has one bucket in Redis holding ``requests`` tokens that refill at
``requests / period_seconds`` per second (``MP_REDIS_RATE_LIMITS=fred=120/60,ecb=10/1``). A Lua
script refills and takes atomically, using the server's clock, so any number of callers on any
number of hosts never get more than ``requests + rate * elapsed`` tokens between them. The bucket
is one key with a hash tag, so the script runs unchanged on Redis Cluster.

Unlike the cache, the limiter does not pretend when Redis fails: it raises
:class:`~mp_cache.CacheUnavailableError`, because granting blindly could break a vendor's terms
and refusing silently would stall ingest without saying why. The connector decides.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from mp_cache._clients import AsyncClient, SyncClient
from mp_cache._driver import AsyncDriver, SyncDriver
from mp_cache._keys import KeyScheme
from mp_cache._ops import Eval, Pipeline, Sleep, Steps
from mp_cache._redis_errors import required
from mp_cache._scripts import TOKEN_BUCKET
from mp_cache.exceptions import (
    CacheConfigError,
    RateLimitNotConfiguredError,
    RateLimitTimeoutError,
)
from mp_config import RateLimit, RedisSettings
from mp_config.steps import async_method, sync_method

__all__ = [
    "DEFAULT_LIMITER_NAMESPACE",
    "FALLBACK_SOURCE",
    "AsyncRateLimiter",
    "Decision",
    "RateLimiter",
]

T = TypeVar("T")
C = TypeVar("C")  # the redis-py client: sync or asyncio

#: Namespace of the buckets, under ``MP_REDIS_KEY_PREFIX``.
DEFAULT_LIMITER_NAMESPACE: Final = "ratelimit"
#: The entry of ``MP_REDIS_RATE_LIMITS`` used for sources without one of their own.
FALLBACK_SOURCE: Final = "*"
# Waiters wake up to 10% (at most 50 ms) late, so those woken by one refill do not collide.
_JITTER_SHARE: Final = 0.1
_JITTER_CAP_SECONDS: Final = 0.05


@dataclass(frozen=True, slots=True)
class Decision:
    """The limiter's answer.

    Attributes:
        allowed: the tokens were granted.
        wait_seconds: when refused, how long until enough tokens are back (0 when allowed).
        remaining: tokens left in the bucket after this call.
    """

    allowed: bool
    wait_seconds: float
    remaining: float


class _LimiterLogic:
    def __init__(self, keys: KeyScheme, limits: Mapping[str, RateLimit]) -> None:
        self.keys = keys
        self.limits = dict(limits)

    def limit_for(self, source: str) -> RateLimit:
        limit = self.limits.get(source) or self.limits.get(FALLBACK_SOURCE)
        if limit is None:
            raise RateLimitNotConfiguredError(source)
        return limit

    def _eval(self, source: str, tokens: float) -> Eval:
        limit = self.limit_for(source)
        if not 0 < tokens <= limit.requests:
            raise CacheConfigError(
                "tokens", f"must be > 0 and <= the bucket size {limit.requests:g} of {source!r}"
            )
        arguments = (repr(float(limit.requests)), repr(limit.per_second), repr(float(tokens)))
        return Eval(TOKEN_BUCKET, (self.keys.rate_limit(source),), arguments)

    @staticmethod
    def _decision(reply: Any) -> Decision:
        allowed, wait, remaining = reply
        return Decision(bool(int(allowed)), float(wait), float(remaining))

    def acquire(self, source: str, tokens: float) -> Steps[Decision]:
        reply = yield from required(self._eval(source, tokens), "rate limit")
        return self._decision(reply)

    def acquire_many(self, requests: Sequence[tuple[str, float]]) -> Steps[list[Decision]]:
        ops = [self._eval(source, tokens) for source, tokens in requests]
        if not ops:
            return []
        replies: list[Any] = yield from required(Pipeline(ops), "rate limit")
        return [self._decision(reply) for reply in replies]

    def wait(
        self, source: str, tokens: float, timeout: float | None, clock: Callable[[], float]
    ) -> Steps[Decision]:
        started = clock()
        while True:
            decision = yield from self.acquire(source, tokens)
            if decision.allowed:
                return decision
            waited = clock() - started
            # Give up at once when the bucket says the wait would pass the timeout: other
            # callers can only make it longer.
            if timeout is not None and waited + decision.wait_seconds > timeout:
                raise RateLimitTimeoutError(source, waited, decision.wait_seconds)
            jitter = min(decision.wait_seconds * _JITTER_SHARE, _JITTER_CAP_SECONDS)
            yield Sleep(decision.wait_seconds + random.uniform(0, jitter))  # noqa: S311 - jitter


class _LimiterBase(Generic[C]):
    def __init__(
        self,
        client: C,
        settings: RedisSettings,
        *,
        namespace: str = DEFAULT_LIMITER_NAMESPACE,
        limits: Mapping[str, RateLimit] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client: C = client
        self._logic = _LimiterLogic(
            KeyScheme(settings.key_prefix, namespace),
            settings.rate_limits if limits is None else limits,
        )
        self._clock = clock

    def __repr__(self) -> str:
        sources = sorted(self._logic.limits)
        return f"{type(self).__name__}(root={self._logic.keys.root!r}, sources={sources})"

    @property
    def keys(self) -> KeyScheme:
        """The key scheme (prefix and namespace) of the buckets."""
        return self._logic.keys

    def limit_for(self, source: str) -> RateLimit:
        """The limit that applies to ``source`` (its own, else the ``*`` entry).

        Raises:
            RateLimitNotConfiguredError: neither exists.
        """
        return self._logic.limit_for(source)

    def _acquire(self, source: str, tokens: float = 1) -> Steps[Decision]:
        """Take ``tokens`` now if the bucket has them; never waits.

        Raises:
            RateLimitNotConfiguredError: no limit applies to ``source``.
            CacheConfigError: ``tokens`` is not positive or exceeds the bucket.
            CacheUnavailableError: Redis could not be asked.
        """
        return self._logic.acquire(source, tokens)

    def _acquire_many(self, requests: Sequence[tuple[str, float]]) -> Steps[list[Decision]]:
        """Several ``(source, tokens)`` checks in one pipeline (one round trip)."""
        return self._logic.acquire_many(requests)

    def _wait_until_allowed(
        self,
        source: str,
        tokens: float = 1,
        *,
        timeout: float | None = None,
    ) -> Steps[Decision]:
        """Wait until ``tokens`` are granted.

        Raises:
            RateLimitTimeoutError: the bucket's own estimate says they cannot be had within
                ``timeout`` seconds (raised as soon as that is known, not at the deadline).
            CacheUnavailableError: Redis could not be asked.
        """
        return self._logic.wait(source, tokens, timeout, self._clock)


class RateLimiter(_LimiterBase[SyncClient], SyncDriver):
    """Per-source token buckets in Redis, for sync connectors.

    Args:
        client: from :func:`mp_cache.create_client`.
        settings: ``MP_REDIS_*`` (prefix and ``rate_limits``).
        namespace: where the buckets live under the prefix.
        limits: limits to use instead of ``settings.rate_limits``.
        clock: a monotonic clock for ``wait_until_allowed``'s timeout.
    """

    acquire = sync_method(_LimiterBase._acquire)
    acquire_many = sync_method(_LimiterBase._acquire_many)
    wait_until_allowed = sync_method(_LimiterBase._wait_until_allowed)


class AsyncRateLimiter(_LimiterBase[AsyncClient], AsyncDriver):
    """The asyncio counterpart of :class:`RateLimiter`: same methods, awaited."""

    acquire = async_method(_LimiterBase._acquire)
    acquire_many = async_method(_LimiterBase._acquire_many)
    wait_until_allowed = async_method(_LimiterBase._wait_until_allowed)
