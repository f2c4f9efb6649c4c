"""The token bucket: atomic under concurrent callers, standalone and cluster, sync and async.

The concurrency tests count grants against the bound the limiter promises: over any stretch of
``elapsed`` seconds, at most ``requests + rate * elapsed`` tokens. The bucket's clock is the
server's, which can only see less time pass than the test around it, so the test's elapsed time
gives a bound that is never too tight.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import redis
from helpers import run, settings_for, shut_down

from mp_cache import (
    AsyncRateLimiter,
    CacheConfigError,
    CacheUnavailableError,
    RateLimiter,
    RateLimitNotConfiguredError,
    RateLimitTimeoutError,
    SyncClient,
    create_client,
    create_client_async,
)
from mp_config import RateLimit, RedisSettings
from mp_stack.native import RedisServer

BURSTY = RateLimit(requests=10, period_seconds=0.5)  # 10 at once, then 20 per second


def hammer(limiter: RateLimiter, source: str, threads: int, calls: int) -> tuple[int, int, float]:
    """``threads`` threads call acquire ``calls`` times each; (granted, refused, elapsed)."""
    granted = refused = 0
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)

    def worker() -> None:
        nonlocal granted, refused
        start.wait()
        mine = [limiter.acquire(source).allowed for _ in range(calls)]
        with lock:
            granted += sum(mine)
            refused += len(mine) - sum(mine)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for worker_thread in workers:
        worker_thread.start()
    began = time.monotonic()
    start.wait()
    for worker_thread in workers:
        worker_thread.join()
    return granted, refused, time.monotonic() - began


def bound(limit: RateLimit, elapsed: float) -> float:
    return limit.requests + limit.per_second * elapsed


def test_the_burst_is_granted_then_the_rest_refused_with_a_wait(
    client: redis.Redis, settings: RedisSettings
) -> None:
    """5 tokens per 100 s: five grants, then a refusal saying how long until the next."""
    limiter = RateLimiter(client, settings, limits={"slow": RateLimit(5, 100)})
    decisions = [limiter.acquire("slow") for _ in range(6)]
    assert [decision.allowed for decision in decisions] == [True] * 5 + [False]
    assert 0 < decisions[-1].wait_seconds <= 20
    assert decisions[-1].remaining < 1


def test_limits_come_from_the_settings_with_a_fallback(settings: RedisSettings) -> None:
    """MP_REDIS_RATE_LIMITS gives per-source limits; ``*`` applies to the other sources."""
    configured = settings.model_copy(
        update={"rate_limits": {"fred": RateLimit(120, 60), "*": RateLimit(1, 1)}}
    )
    limiter = RateLimiter(create_client(configured), configured)
    assert limiter.limit_for("fred") == RateLimit(120, 60)
    assert limiter.limit_for("ecb") == RateLimit(1, 1)


def test_a_source_without_a_limit_is_refused_by_name(
    client: redis.Redis, settings: RedisSettings
) -> None:
    """No limit and no fallback: a configuration error naming the source and the variable."""
    limiter = RateLimiter(client, settings, limits={})
    with pytest.raises(RateLimitNotConfiguredError) as caught:
        limiter.acquire("fred")
    assert caught.value.source == "fred"
    assert "MP_REDIS_RATE_LIMITS" in str(caught.value)


def test_asking_for_more_than_the_bucket_holds_is_refused(
    client: redis.Redis, settings: RedisSettings
) -> None:
    """Tokens above the bucket size could never be granted: an error, not an endless wait."""
    limiter = RateLimiter(client, settings, limits={"s": RateLimit(5, 1)})
    with pytest.raises(CacheConfigError):
        limiter.acquire("s", tokens=6)


def test_threads_never_get_more_than_the_rate(client: redis.Redis, settings: RedisSettings) -> None:
    """6 threads x 150 calls on one bucket: grants stay within requests + rate x elapsed."""
    limiter = RateLimiter(client, settings, limits={"src": BURSTY})
    granted, refused, elapsed = hammer(limiter, "src", threads=6, calls=150)
    assert granted + refused == 900
    assert BURSTY.requests <= granted <= bound(BURSTY, elapsed)
    assert refused > 0


def test_asyncio_tasks_never_get_more_than_the_rate(settings: RedisSettings) -> None:
    """20 tasks x 40 calls through the async limiter obey the same bound."""

    async def scenario() -> tuple[int, float]:
        client = create_client_async(settings)
        limiter = AsyncRateLimiter(client, settings, limits={"src": BURSTY})

        async def worker() -> int:
            return sum([(await limiter.acquire("src")).allowed for _ in range(40)])

        try:
            began = time.monotonic()
            counts = await asyncio.gather(*[worker() for _ in range(20)])
            return sum(counts), time.monotonic() - began
        finally:
            await client.aclose()

    granted, elapsed = run(scenario())
    assert BURSTY.requests <= granted <= bound(BURSTY, elapsed)
    assert granted < 800


def test_a_cluster_limiter_never_grants_more_than_the_rate(
    cluster_settings: RedisSettings,
) -> None:
    """On the 3-master cluster, buckets of several sources (several slots) each hold the bound."""
    client = create_client(cluster_settings)
    sources = ["fred", "ecb", "boj", "cftc"]
    limiter = RateLimiter(client, cluster_settings, limits=dict.fromkeys(sources, BURSTY))
    try:
        for source in sources:
            granted, refused, elapsed = hammer(limiter, source, threads=4, calls=60)
            assert BURSTY.requests <= granted <= bound(BURSTY, elapsed)
            assert refused > 0
    finally:
        client.close()


def test_pipelined_checks_are_counted_like_single_ones(
    client: redis.Redis, settings: RedisSettings
) -> None:
    """acquire_many in one round trip: exactly the bucket size is granted from a fresh bucket."""
    limiter = RateLimiter(client, settings, limits={"slow": RateLimit(5, 100)})
    decisions = limiter.acquire_many([("slow", 1)] * 8)
    assert [decision.allowed for decision in decisions] == [True] * 5 + [False] * 3


def test_waiters_are_all_served_and_none_early(
    client: redis.Redis, settings: RedisSettings
) -> None:
    """8 threads x 3 waits at 20/s with a burst of 2: all 24 granted, which takes at least
    (24 - 2) / 20 seconds, since tokens come no faster than the rate."""
    limit = RateLimit(2, 0.1)
    limiter = RateLimiter(client, settings, limits={"w": limit})
    results: list[bool] = []

    def worker() -> None:
        for _ in range(3):
            results.append(limiter.wait_until_allowed("w", timeout=30).allowed)

    began = time.monotonic()
    workers = [threading.Thread(target=worker) for _ in range(8)]
    for worker_thread in workers:
        worker_thread.start()
    for worker_thread in workers:
        worker_thread.join()
    elapsed = time.monotonic() - began
    assert results == [True] * 24
    assert elapsed >= (24 - limit.requests) / limit.per_second


def test_waiting_gives_up_at_once_when_the_timeout_cannot_be_met(
    client: redis.Redis, settings: RedisSettings
) -> None:
    """One token per minute, already taken: a 1 s wait fails with the estimate, not a hang."""
    limiter = RateLimiter(client, settings, limits={"slow": RateLimit(1, 60)})
    limiter.acquire("slow")
    with pytest.raises(RateLimitTimeoutError) as caught:
        limiter.wait_until_allowed("slow", timeout=1)
    assert caught.value.source == "slow"
    assert caught.value.retry_after_seconds > 1
    assert caught.value.waited_seconds < 1


def test_async_waiting_is_granted_after_a_refill(settings: RedisSettings) -> None:
    """The async helper sleeps (without blocking the loop) until the bucket refills."""

    async def scenario() -> list[bool]:
        client = create_client_async(settings)
        limiter = AsyncRateLimiter(client, settings, limits={"w": RateLimit(1, 0.2)})
        try:
            first = await limiter.acquire("w")
            second = await limiter.wait_until_allowed("w", timeout=5)
            return [first.allowed, second.allowed]
        finally:
            await client.aclose()

    assert run(scenario()) == [True, True]


def test_a_flushed_script_cache_is_reloaded(fault_server: RedisServer) -> None:
    """SCRIPT FLUSH (or a restart) empties the server's scripts: EVALSHA falls back to EVAL."""
    settings = settings_for(fault_server)
    limiter = RateLimiter(create_client(settings), settings, limits={"s": RateLimit(5, 100)})
    assert limiter.acquire("s").allowed
    fault_server.command("SCRIPT", "FLUSH")
    assert limiter.acquire("s").allowed
    assert [decision.allowed for decision in limiter.acquire_many([("s", 1)] * 4)] == [
        True,
        True,
        True,
        False,
    ]


def test_an_unreachable_redis_is_an_error_not_a_grant(fault_server: RedisServer) -> None:
    """The limiter cannot pretend: Redis down raises CacheUnavailableError without secrets."""
    settings = settings_for(fault_server)
    client: SyncClient = create_client(settings)
    limiter = RateLimiter(client, settings, limits={"s": RateLimit(5, 1)})
    shut_down(fault_server)
    with pytest.raises(CacheUnavailableError) as caught:
        limiter.acquire("s")
    assert caught.value.operation == "rate limit"
    assert fault_server.password is not None
    assert fault_server.password not in str(caught.value)
