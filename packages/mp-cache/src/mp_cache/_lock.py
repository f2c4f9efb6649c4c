"""Leases for ingestion jobs: one owner at a time, for a bounded time, with a fencing token.

A lease is ``SET key <random owner token> NX PX ttl``. Only the holder of the token can release
or extend it (compare-and-delete and compare-and-expire in Lua), so a job whose lease expired
cannot delete the lease of the job that took over. An expired lease is simply gone, so anyone
can take it.

A lease can still expire under a job that stalls (a long GC pause, a frozen VM) while it keeps
writing. Callers whose writes must never interleave pass the **fencing token** to the store they
write to and have it refuse tokens lower than the highest it has seen: each acquisition gets a
larger token than every earlier one, even after the counter key is lost (it is floored at the
server's clock in microseconds).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar

from mp_cache._clients import AsyncClient, SyncClient
from mp_cache._driver import AsyncDriver, SyncDriver
from mp_cache._keys import KeyScheme
from mp_cache._ops import Eval, Sleep, Steps
from mp_cache._redis_errors import required
from mp_cache._scripts import LOCK_ACQUIRE, LOCK_EXTEND, LOCK_RELEASE
from mp_cache.exceptions import CacheError, LockLostError, LockNotAcquiredError
from mp_config import RedisSettings
from mp_config.steps import async_method, sync_method

__all__ = [
    "DEFAULT_LOCK_NAMESPACE",
    "DEFAULT_LOCK_RETRY_SECONDS",
    "DEFAULT_LOCK_TTL_SECONDS",
    "AsyncLocks",
    "Lease",
    "Locks",
]

T = TypeVar("T")
C = TypeVar("C")  # the redis-py client: sync or asyncio

#: Namespace of leases, under ``MP_REDIS_KEY_PREFIX``.
DEFAULT_LOCK_NAMESPACE: Final = "locks"
#: Lease length when none is given; extend it from long jobs.
DEFAULT_LOCK_TTL_SECONDS: Final = 30.0
#: Pause between attempts while waiting for a held lock (with up to 50% jitter).
DEFAULT_LOCK_RETRY_SECONDS: Final = 0.05


@dataclass(frozen=True, slots=True)
class Lease:
    """A held lock.

    Attributes:
        name: the lock's name.
        fencing_token: larger than that of every earlier lease of this lock.
        ttl_seconds: the lease length asked for (extend before it runs out).
        token: the owner's secret; whoever has it can release the lease (kept out of repr).
    """

    name: str
    fencing_token: int
    ttl_seconds: float
    token: str = field(repr=False)


def _ms(seconds: float) -> int:
    if seconds <= 0:
        raise ValueError("a lease needs a positive TTL")
    return max(1, round(seconds * 1000))


class _LockLogic:
    def __init__(self, keys: KeyScheme, retry_seconds: float) -> None:
        self.keys = keys
        self.retry_seconds = retry_seconds

    def try_acquire(self, name: str, ttl_seconds: float) -> Steps[Lease | None]:
        token = os.urandom(16).hex()
        lease_key, fence_key = self.keys.lock(name)
        fence = yield from required(
            Eval(LOCK_ACQUIRE, (lease_key, fence_key), (token, _ms(ttl_seconds))), "acquire lock"
        )
        if not fence:
            return None
        return Lease(name=name, fencing_token=int(fence), ttl_seconds=ttl_seconds, token=token)

    def acquire(
        self, name: str, ttl_seconds: float, timeout: float | None, clock: Callable[[], float]
    ) -> Steps[Lease]:
        started = clock()
        while True:
            lease = yield from self.try_acquire(name, ttl_seconds)
            if lease is not None:
                return lease
            waited = clock() - started
            if timeout is not None and waited >= timeout:
                raise LockNotAcquiredError(name, waited)
            pause = self.retry_seconds * (1 + random.random() / 2)  # noqa: S311 - jitter
            if timeout is not None:
                pause = min(pause, timeout - waited)
            yield Sleep(pause)

    def release(self, lease: Lease) -> Steps[bool]:
        lease_key, _ = self.keys.lock(lease.name)
        deleted = yield from required(
            Eval(LOCK_RELEASE, (lease_key,), (lease.token,)), "release lock"
        )
        return bool(deleted)

    def extend(self, lease: Lease, ttl_seconds: float) -> Steps[bool]:
        lease_key, _ = self.keys.lock(lease.name)
        extended = yield from required(
            Eval(LOCK_EXTEND, (lease_key,), (lease.token, _ms(ttl_seconds))), "extend lock"
        )
        return bool(extended)


class _LocksBase(Generic[C]):
    def __init__(
        self,
        client: C,
        settings: RedisSettings,
        *,
        namespace: str = DEFAULT_LOCK_NAMESPACE,
        ttl_seconds: float = DEFAULT_LOCK_TTL_SECONDS,
        retry_seconds: float = DEFAULT_LOCK_RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client: C = client
        _ms(ttl_seconds)
        self._logic = _LockLogic(KeyScheme(settings.key_prefix, namespace), retry_seconds)
        self._ttl_seconds = ttl_seconds
        self._clock = clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={self._logic.keys.root!r}, ttl={self._ttl_seconds})"

    @property
    def keys(self) -> KeyScheme:
        """The key scheme (prefix and namespace) of these leases."""
        return self._logic.keys

    def _ttl(self, ttl_seconds: float | None) -> float:
        return self._ttl_seconds if ttl_seconds is None else ttl_seconds

    # --- the methods, written once: each returns the steps both classes run -----------------

    def _try_acquire(self, name: str, *, ttl_seconds: float | None = None) -> Steps[Lease | None]:
        """The lease if nobody holds it now, else ``None``; never waits.

        Raises:
            CacheUnavailableError: Redis could not be asked.
        """
        return self._logic.try_acquire(name, self._ttl(ttl_seconds))

    def _acquire(
        self,
        name: str,
        *,
        ttl_seconds: float | None = None,
        timeout: float | None = None,
    ) -> Steps[Lease]:
        """Wait for the lease (forever when ``timeout`` is None).

        Raises:
            LockNotAcquiredError: another owner held it for ``timeout`` seconds.
            CacheUnavailableError: Redis could not be asked.
        """
        return self._logic.acquire(name, self._ttl(ttl_seconds), timeout, self._clock)

    def _release(self, lease: Lease) -> Steps[bool]:
        """Give the lease back; False if it is no longer this owner's (expired, taken over)."""
        return self._logic.release(lease)

    def _extend(self, lease: Lease, *, ttl_seconds: float | None = None) -> Steps[bool]:
        """Restart the lease's TTL; False if it is no longer this owner's."""
        return self._logic.extend(lease, self._ttl(ttl_seconds))


class Locks(_LocksBase[SyncClient], SyncDriver):
    """Named leases in Redis for sync jobs.

    Args:
        client: from :func:`mp_cache.create_client`.
        settings: ``MP_REDIS_*`` (the key prefix).
        namespace: where leases live under the prefix.
        ttl_seconds: default lease length.
        retry_seconds: pause between attempts while waiting.
        clock: a monotonic clock for timeouts.

    Example:
        >>> with Locks(client, settings).hold("ingest:fred", timeout=5) as lease:  # doctest: +SKIP
        ...     write_batch(fence=lease.fencing_token)
    """

    try_acquire = sync_method(_LocksBase._try_acquire)
    acquire = sync_method(_LocksBase._acquire)
    release = sync_method(_LocksBase._release)
    extend = sync_method(_LocksBase._extend)

    @contextmanager
    def hold(
        self, name: str, *, ttl_seconds: float | None = None, timeout: float | None = None
    ) -> Iterator[Lease]:
        """Hold the lease for a ``with`` block and release it after.

        Raises:
            LockNotAcquiredError: on entry, as :meth:`acquire`.
            LockLostError: on a clean exit, if the lease had expired meanwhile (the block may
                have overlapped with another owner).
        """
        lease = self.acquire(name, ttl_seconds=ttl_seconds, timeout=timeout)
        try:
            yield lease
        except BaseException:
            # The block's own error matters more; an unreleased lease expires by itself.
            with suppress(CacheError):
                self.release(lease)
            raise
        if not self.release(lease):
            raise LockLostError(name, "release")


class AsyncLocks(_LocksBase[AsyncClient], AsyncDriver):
    """The asyncio counterpart of :class:`Locks`: same methods, awaited; ``hold`` is async."""

    try_acquire = async_method(_LocksBase._try_acquire)
    acquire = async_method(_LocksBase._acquire)
    release = async_method(_LocksBase._release)
    extend = async_method(_LocksBase._extend)

    @asynccontextmanager
    async def hold(
        self,
        name: str,
        *,
        ttl_seconds: float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - as in acquire()
    ) -> AsyncIterator[Lease]:
        """See :meth:`Locks.hold`."""
        lease = await self.acquire(name, ttl_seconds=ttl_seconds, timeout=timeout)
        try:
            yield lease
        except BaseException:
            with suppress(CacheError):
                await self.release(lease)
            raise
        if not await self.release(lease):
            raise LockLostError(name, "release")
