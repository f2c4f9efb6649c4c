"""The circuit breaker's state machine, driven by a hand-moved clock."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ResponseError

from mp_cache import BreakerState, CircuitBreaker
from mp_cache._breaker import is_redis_fault, is_write_refusal


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, reset_seconds=5.0, clock=clock)


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """The state, read through a call (mypy would narrow a property read across calls)."""
    return breaker.state


def test_it_opens_after_the_threshold_of_consecutive_failures() -> None:
    """Two failures keep it closed; the third opens it and calls are refused."""
    breaker = make(Clock())
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()
    breaker.record_failure()
    assert state_of(breaker) is BreakerState.OPEN
    assert not breaker.allow()


def test_a_success_resets_the_count() -> None:
    """Failures must be consecutive: a success in between starts the count again."""
    breaker = make(Clock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failures == 1


def test_after_the_reset_time_one_probe_is_let_through() -> None:
    """Open -> half-open admits exactly one caller; the others wait for its outcome."""
    clock = Clock()
    breaker = make(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 5.0
    assert breaker.allow()
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()


def test_a_successful_probe_closes_and_a_failed_one_reopens() -> None:
    """Half-open goes to closed on success and back to open (clock restarted) on failure."""
    clock = Clock()
    breaker = make(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 5.0
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()
    breaker.record_success()
    assert state_of(breaker) is BreakerState.CLOSED
    assert breaker.allow()


def test_a_probe_that_never_reports_does_not_wedge_the_breaker() -> None:
    """If the probing caller was cancelled, another probe is allowed a reset period later."""
    clock = Clock()
    breaker = make(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 5.0
    assert breaker.allow()
    clock.now += 5.0
    assert breaker.allow()


def test_bad_configuration_is_refused() -> None:
    """A zero threshold or reset time makes no sense and raises."""
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=0, reset_seconds=1)


def test_memory_refusals_are_not_counted_as_faults_of_reads() -> None:
    """OOM refuses writes only; connection errors are faults; a script bug is neither."""
    assert is_write_refusal(OutOfMemoryError("OOM command not allowed"))
    assert is_write_refusal(ResponseError("OOM command not allowed when used memory"))
    assert not is_write_refusal(RedisConnectionError("refused"))
    assert is_redis_fault(RedisConnectionError("refused"))
    assert not is_redis_fault(ValueError("a bug"))
