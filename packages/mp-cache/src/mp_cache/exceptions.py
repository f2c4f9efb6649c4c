"""Errors raised by mp-cache.

The hierarchy::

    CacheError (Exception)
    ├── CacheUnavailableError        Redis could not be reached or refused the command
    ├── CacheConfigError (ValueError)  an argument or setting mp-cache cannot use
    │   └── RateLimitNotConfiguredError  no MP_REDIS_RATE_LIMITS entry for a source
    ├── CodecError (ValueError)      a value cannot be stored as versioned JSON
    ├── RateLimitTimeoutError        ``wait_until_allowed`` ran out of time
    └── LockError                    a lease could not be taken, kept or given back
        ├── LockNotAcquiredError     another owner held the lock until the timeout
        └── LockLostError            release or extend by a caller that no longer owns it

The cache's read path never raises any of these: a Redis fault there becomes a miss and the
loader answers. They come from the paths where pretending would be wrong: writing, invalidating,
rate limiting and locking. redis-py's own errors are mapped here, in one place
(:func:`unavailable_from`), and never carry a password (mp-cache only ever names the operation and
a masked address).
"""

from __future__ import annotations

__all__ = [
    "CacheConfigError",
    "CacheError",
    "CacheUnavailableError",
    "CodecError",
    "LockError",
    "LockLostError",
    "LockNotAcquiredError",
    "RateLimitNotConfiguredError",
    "RateLimitTimeoutError",
    "unavailable_from",
]


class CacheError(Exception):
    """Root of every mp-cache error."""


class CacheUnavailableError(CacheError):
    """Redis did not answer, or refused the command (connection, timeout, auth, memory).

    Attributes:
        operation: what mp-cache was doing ("invalidate", "rate limit", "acquire lock", ...).
        reason: the driver's error class and message (never a password).
    """

    def __init__(self, operation: str, reason: str) -> None:
        self.operation = operation
        self.reason = reason
        super().__init__(
            f"{operation} failed: Redis is unavailable ({reason}); "
            "check MP_REDIS_* and that the server is up, then retry"
        )


class CacheConfigError(CacheError, ValueError):
    """An argument or a setting that mp-cache cannot use.

    Attributes:
        field: the argument or ``MP_REDIS_*`` setting at fault.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class RateLimitNotConfiguredError(CacheConfigError):
    """No rate limit is configured for a data source (and no ``*`` fallback either).

    Attributes:
        source: the data source asked for.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__(
            "MP_REDIS_RATE_LIMITS",
            f"no rate limit for source {source!r}; add {source}=REQUESTS/SECONDS "
            "(or *=REQUESTS/SECONDS as a fallback)",
        )


class CodecError(CacheError, ValueError):
    """A value cannot be stored as versioned JSON (not JSON-able, NaN, a naive datetime).

    Attributes:
        reason: what is wrong with the value.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"cannot cache this value: {reason}")


class RateLimitTimeoutError(CacheError):
    """``wait_until_allowed`` could not get tokens before its timeout.

    Attributes:
        source: the rate-limited data source.
        waited_seconds: how long the caller waited.
        retry_after_seconds: the limiter's last estimate of the wait still needed.
    """

    def __init__(self, source: str, waited_seconds: float, retry_after_seconds: float) -> None:
        self.source = source
        self.waited_seconds = waited_seconds
        self.retry_after_seconds = retry_after_seconds
        super().__init__(
            f"rate limit for {source!r}: no token after {waited_seconds:.3f} s "
            f"(next in about {retry_after_seconds:.3f} s); raise the timeout or the limit"
        )


class LockError(CacheError):
    """A lease could not be taken, kept or given back.

    Attributes:
        name: the lock's name.
    """

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"lock {name!r}: {message}")


class LockNotAcquiredError(LockError):
    """Another owner held the lock for the whole timeout.

    Attributes:
        waited_seconds: how long the caller waited.
    """

    def __init__(self, name: str, waited_seconds: float) -> None:
        self.waited_seconds = waited_seconds
        super().__init__(name, f"held by another owner; gave up after {waited_seconds:.3f} s")


class LockLostError(LockError):
    """The caller no longer owns the lease: it expired, and may have been taken over.

    Attributes:
        operation: ``release`` or ``extend``.
    """

    def __init__(self, name: str, operation: str) -> None:
        self.operation = operation
        super().__init__(
            name,
            f"cannot {operation}: this owner's lease expired or was taken over; work done "
            "under it may have overlapped with another owner (use the fencing token)",
        )


def unavailable_from(operation: str, error: BaseException) -> CacheUnavailableError:
    """Map a redis-py (or socket) error to :class:`CacheUnavailableError`.

    redis-py error messages name the host and port at most, never the password, so the
    class name and message are kept for the operator.
    """
    return CacheUnavailableError(operation, f"{type(error).__name__}: {error}")
