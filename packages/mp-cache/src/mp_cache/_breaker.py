"""A circuit breaker for the cache's read path, and the classification of Redis errors.

States::

    CLOSED --(failure_threshold failures in a row)--> OPEN
    OPEN --(reset_seconds passed; one caller is let through as a probe)--> HALF_OPEN
    HALF_OPEN --(probe succeeds)--> CLOSED
    HALF_OPEN --(probe fails)--> OPEN (the reset clock starts again)

While OPEN the cache does not touch Redis at all, so a dead or stalled server costs the caller
nothing beyond the loader. Before the breaker opens, each failing read costs at most the client's
timeouts and retries (see :meth:`mp_cache.Cache.max_redis_delay`). The state machine is pure
and shared by the sync and async caches; a lock makes it safe across threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import Enum

from redis.exceptions import (
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
)

__all__ = ["BreakerState", "CircuitBreaker", "is_redis_fault", "is_write_refusal"]

_log = logging.getLogger("mp_cache")


class BreakerState(Enum):
    """Where a :class:`CircuitBreaker` is."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


def is_write_refusal(error: BaseException) -> bool:
    """True for errors that refuse a write but leave reads working (OOM, read-only replica).

    They are not counted as failures: a full Redis still serves what it holds.
    """
    if isinstance(error, OutOfMemoryError | ReadOnlyError):
        return True
    message = str(error)
    return isinstance(error, ResponseError) and message.startswith(("OOM ", "READONLY "))


def is_redis_fault(error: BaseException) -> bool:
    """True for errors that mean "Redis cannot serve us now" (the read path absorbs them).

    Connection, timeout, authentication, permission and most cluster errors are redis-py
    ``RedisError`` subclasses; ``RedisClusterException`` (no slot coverage, topology lost) is not,
    and an ``OSError`` can escape from a socket set-up.
    """
    return isinstance(error, RedisError | RedisClusterException | OSError)


class CircuitBreaker:
    """Stops calling Redis after repeated failures, then probes it again.

    Args:
        failure_threshold: consecutive failures that open the breaker
            (``MP_REDIS_BREAKER_FAILURE_THRESHOLD``).
        reset_seconds: how long it stays open before one probe (``MP_REDIS_BREAKER_RESET_SECONDS``).
        clock: a monotonic clock, replaceable in tests of the state machine.
    """

    def __init__(
        self,
        *,
        failure_threshold: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_seconds <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_seconds > 0")
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_started = 0.0

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(state={self._state.value}, failures={self._failures}, "
            f"failure_threshold={self.failure_threshold}, reset_seconds={self.reset_seconds})"
        )

    @property
    def state(self) -> BreakerState:
        """The current state (an OPEN breaker whose reset time passed still reads OPEN)."""
        return self._state

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far."""
        return self._failures

    def allow(self) -> bool:
        """May the caller use Redis now? Half-open admits one probe at a time."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            now = self._clock()
            if self._state is BreakerState.OPEN:
                if now - self._opened_at < self.reset_seconds:
                    return False
                self._state = BreakerState.HALF_OPEN
                self._probe_started = now
                return True
            # A probe that never reported (its caller was cancelled) must not wedge the breaker.
            if now - self._probe_started >= self.reset_seconds:
                self._probe_started = now
                return True
            return False

    def record_success(self) -> None:
        """A Redis call worked: close the breaker."""
        with self._lock:
            if self._state is not BreakerState.CLOSED:
                _log.warning("mp-cache: Redis answers again; circuit breaker closed")
            self._state = BreakerState.CLOSED
            self._failures = 0

    def record_failure(self) -> None:
        """A Redis call failed: count it, and open the breaker at the threshold."""
        with self._lock:
            self._failures += 1
            if self._state is BreakerState.HALF_OPEN or (
                self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold
            ):
                if self._state is BreakerState.CLOSED:
                    _log.warning(
                        "mp-cache: %d Redis failures in a row; circuit breaker open for %.1f s, "
                        "reads go to the loader",
                        self._failures,
                        self.reset_seconds,
                    )
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()

    def reset(self) -> None:
        """Back to CLOSED with no failures counted."""
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
