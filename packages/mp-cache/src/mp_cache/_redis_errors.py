"""The one place a Redis fault on a required call becomes :class:`~mp_cache.CacheUnavailableError`.

The cache's reads and writes absorb faults (a miss, a skipped write: see
:mod:`mp_cache._cache_logic`); the limiter, the lock and invalidation cannot, because their
callers must know the answer was not had. They yield their request through :func:`required`,
which maps a fault, whether raised by the call or returned in a pipeline's place, naming the
operation. Anything that is not a Redis fault (a loader's error, a bug) propagates unchanged.
"""

from __future__ import annotations

from typing import Any

from mp_cache._breaker import is_redis_fault
from mp_cache._ops import Op, Pipeline, Steps
from mp_cache.exceptions import unavailable_from

__all__ = ["required"]


def required(op: Op, operation: str) -> Steps[Any]:
    """Yield ``op`` and return its reply; a Redis fault raises ``CacheUnavailableError``.

    For a :class:`~mp_cache._ops.Pipeline`, an error object in a command's place counts as a
    fault of the whole call.
    """
    try:
        reply = yield op
    except Exception as error:
        if is_redis_fault(error):
            raise unavailable_from(operation, error) from error
        raise
    if isinstance(op, Pipeline):
        for item in reply:
            if isinstance(item, Exception):
                raise unavailable_from(operation, item) from item
    return reply
