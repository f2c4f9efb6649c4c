"""mp-cache's sans-I/O logic driven by a scripted transport, without a Redis server.

The cache, limiter and lock are steps that yield requests (:mod:`mp_cache._ops`); here a
test answers them, including with redis-py errors, as httpx's MockTransport does. The
real-server tests check the same operations against Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from mp_cache import CacheUnavailableError, CircuitBreaker, KeyScheme
from mp_cache._cache_logic import CacheLogic
from mp_cache._limiter import _LimiterLogic
from mp_cache._ops import Command, Eval, Op
from mp_config import RateLimit
from mp_config.steps import run


def _answering(reply: Callable[[Op], Any]) -> tuple[list[Op], Callable[[Op], Any]]:
    seen: list[Op] = []

    def execute(op: Op) -> Any:
        seen.append(op)
        return reply(op)

    return seen, execute


def _down(op: Op) -> Any:
    raise RedisConnectionError("connection refused")


def _logic(breaker: CircuitBreaker) -> CacheLogic:
    return CacheLogic(
        keys=KeyScheme("mp", "facts"), breaker=breaker, ttl_ms=1000, generation_ttl_ms=1000
    )


def test_cache_read_fault_is_a_miss() -> None:
    """A Redis fault on a cache read becomes a miss and counts against the breaker."""
    breaker = CircuitBreaker(failure_threshold=1, reset_seconds=60)
    seen, execute = _answering(_down)
    assert run(_logic(breaker).get("k"), execute) == (False, None)
    assert isinstance(seen[0], Command)
    assert breaker.state.value == "open"


def test_open_breaker_asks_redis_nothing() -> None:
    """With the breaker open a read is a miss without a request."""
    breaker = CircuitBreaker(failure_threshold=1, reset_seconds=60)
    breaker.record_failure()
    seen, execute = _answering(_down)
    assert run(_logic(breaker).get("k"), execute) == (False, None)
    assert seen == []


def test_limiter_decision_from_the_script_reply() -> None:
    """acquire() runs the token-bucket script once and reads its reply as a Decision."""
    logic = _LimiterLogic(KeyScheme("mp", "ratelimit"), {"fred": RateLimit(10, 1.0)})
    seen, execute = _answering(lambda op: [1, 0, 9])
    decision = run(logic.acquire("fred", 1), execute)
    assert (decision.allowed, decision.wait_seconds, decision.remaining) == (True, 0.0, 9.0)
    (op,) = seen
    assert isinstance(op, Eval)
    assert op.keys == (KeyScheme("mp", "ratelimit").rate_limit("fred"),)


def test_limiter_fault_is_cache_unavailable() -> None:
    """A Redis fault on a limiter call is raised as CacheUnavailableError, never a grant."""
    logic = _LimiterLogic(KeyScheme("mp", "ratelimit"), {"fred": RateLimit(10, 1.0)})
    with pytest.raises(CacheUnavailableError, match="rate limit"):
        run(logic.acquire("fred", 1), _down)


def test_invalidate_pipeline_error_in_place_is_a_fault() -> None:
    """An error returned in a pipeline's place fails invalidation as CacheUnavailableError."""
    logic = _logic(CircuitBreaker(failure_threshold=5, reset_seconds=60))
    _, execute = _answering(lambda op: [RedisConnectionError("OOM")])
    with pytest.raises(CacheUnavailableError, match="invalidate"):
        run(logic.invalidate([1]), execute)
