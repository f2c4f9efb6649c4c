"""Retrying whole units of work on transient faults.

Safe because mp's writes are idempotent: a batch whose commit outcome is unknown (connection
cut right after COMMIT) is simply sent again, and the second run inserts nothing the first one
stored. The unit of work must therefore be the whole transaction (open a connection, do the
work, commit), never a single statement inside a transaction that a lost connection took with it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from mp_db._error_mapping import classify_error

__all__ = ["DEFAULT_RETRY", "RetryPolicy", "run_with_retry", "run_with_retry_async"]

T = TypeVar("T")
logger = logging.getLogger("mp_db")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Attributes:
        attempts: total tries, the first included.
        base_delay: delay before the second try, in seconds; doubles after each try.
        max_delay: upper bound of one delay.
        jitter: fraction of each delay drawn at random, so writers do not retry in lockstep.
    """

    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0
    jitter: float = 0.25

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after ``failed_attempts`` failures (1-based)."""
        raw = min(self.max_delay, self.base_delay * (2 ** (failed_attempts - 1)))
        spread = raw * self.jitter
        return float(max(0.0, raw - spread + random.random() * 2 * spread))  # noqa: S311 - jitter only


DEFAULT_RETRY = RetryPolicy()


def _next_delay(error: Exception, attempt: int, policy: RetryPolicy) -> float:
    """Seconds to wait before the next attempt, or raise: the error is final."""
    classified = classify_error(error)
    if classified is None or not classified.retryable or attempt == policy.attempts:
        if classified is not None and classified is not error:
            raise classified from error
        raise error
    delay = policy.delay(attempt)
    logger.warning(
        "mp-db: transient fault (%s), retry %d/%d in %.2f s",
        type(classified).__name__,
        attempt,
        policy.attempts - 1,
        delay,
    )
    return delay


def run_with_retry(work: Callable[[], T], *, policy: RetryPolicy = DEFAULT_RETRY) -> T:
    """Call ``work`` until it succeeds, retrying transient faults with backoff.

    Non-transient errors (constraint violations, timeouts, bad input...) propagate at once;
    after the last attempt the transient error propagates, classified.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return work()
        except Exception as error:  # noqa: BLE001 - classified; non-transient ones re-raised
            time.sleep(_next_delay(error, attempt, policy))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


async def run_with_retry_async(
    work: Callable[[], Awaitable[T]], *, policy: RetryPolicy = DEFAULT_RETRY
) -> T:
    """The async twin of :func:`run_with_retry` (``work`` is called anew for each attempt)."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return await work()
        except Exception as error:  # noqa: BLE001 - classified; non-transient ones re-raised
            await asyncio.sleep(_next_delay(error, attempt, policy))
    raise AssertionError("unreachable")  # pragma: no cover
