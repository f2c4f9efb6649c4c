"""Leases: one owner, only the owner releases or extends, expiry hands over, fences grow."""

from __future__ import annotations

import dataclasses
import time

import pytest
import redis
from helpers import run, settings_for

from mp_cache import (
    AsyncLocks,
    Lease,
    LockLostError,
    LockNotAcquiredError,
    Locks,
    create_client,
    create_client_async,
)
from mp_config import RedisSettings
from mp_stack.native import RedisServer


@pytest.fixture
def locks(client: redis.Redis, settings: RedisSettings) -> Locks:
    """Leases on the session's Redis."""
    return Locks(client, settings, retry_seconds=0.01)


def impostor(lease: Lease) -> Lease:
    """The same lock name with someone else's owner token."""
    return dataclasses.replace(lease, token="not-the-owner")


def take_over_after_expiry(locks: Locks) -> Lease | None:
    """Wait past a 0.1 s lease, then take the lock as another owner."""
    time.sleep(0.15)
    return locks.try_acquire("job", ttl_seconds=5)


def test_a_held_lock_cannot_be_taken(locks: Locks) -> None:
    """While one owner holds it, try_acquire gets None; after release it can be taken."""
    lease = locks.try_acquire("ingest:fred")
    assert lease is not None
    assert locks.try_acquire("ingest:fred") is None
    assert locks.release(lease)
    assert locks.try_acquire("ingest:fred") is not None


def test_a_non_owner_cannot_release_or_extend(locks: Locks, client: redis.Redis) -> None:
    """A wrong owner token releases nothing and extends nothing; the owner's lease stays."""
    lease = locks.acquire("job", ttl_seconds=5)
    assert not locks.release(impostor(lease))
    assert not locks.extend(impostor(lease), ttl_seconds=60)
    key, _ = locks.keys.lock("job")
    assert 0 < client.pttl(key) <= 5000
    assert locks.try_acquire("job") is None
    assert locks.release(lease)


def test_the_owner_can_extend(locks: Locks, client: redis.Redis) -> None:
    """extend() restarts the TTL of the owner's lease."""
    lease = locks.acquire("job", ttl_seconds=1)
    assert locks.extend(lease, ttl_seconds=60)
    key, _ = locks.keys.lock("job")
    assert client.pttl(key) > 1000


def test_an_expired_lease_is_taken_over_and_the_old_owner_is_locked_out(locks: Locks) -> None:
    """After the TTL another owner gets the lock; the first can neither release nor extend."""
    first = locks.acquire("job", ttl_seconds=0.1)
    time.sleep(0.15)
    second = locks.acquire("job", ttl_seconds=5, timeout=1)
    assert second.fencing_token > first.fencing_token
    assert not locks.release(first)
    assert not locks.extend(first)
    assert locks.try_acquire("job") is None
    assert locks.release(second)


def test_waiting_for_a_held_lock_times_out(locks: Locks) -> None:
    """acquire with a timeout raises LockNotAcquiredError naming the lock."""
    locks.acquire("job", ttl_seconds=5)
    with pytest.raises(LockNotAcquiredError) as caught:
        locks.acquire("job", timeout=0.1)
    assert caught.value.name == "job"


def test_fencing_tokens_grow_with_every_acquisition(locks: Locks, client: redis.Redis) -> None:
    """Each lease's fencing token is larger than the one before, even if the counter is lost."""
    tokens = []
    for _ in range(3):
        lease = locks.acquire("job")
        tokens.append(lease.fencing_token)
        locks.release(lease)
    _, fence_key = locks.keys.lock("job")
    client.delete(fence_key)
    tokens.append(locks.acquire("job").fencing_token)
    assert tokens == sorted(set(tokens))


def test_hold_releases_at_the_end_of_the_block(locks: Locks) -> None:
    """The context manager gives a lease and gives it back, also when the block raises."""
    with locks.hold("job") as lease:
        assert locks.try_acquire("job") is None
        assert lease.name == "job"
    again = locks.try_acquire("job")
    assert again is not None
    locks.release(again)
    with pytest.raises(KeyError), locks.hold("job"):
        raise KeyError("the job failed")
    assert locks.try_acquire("job") is not None


def test_hold_reports_a_lease_lost_during_the_block(locks: Locks) -> None:
    """If the lease expired and was taken over inside the block, leaving it raises."""
    taken_over: list[Lease | None] = []
    with pytest.raises(LockLostError) as caught, locks.hold("job", ttl_seconds=0.1):
        taken_over.append(take_over_after_expiry(locks))
    assert caught.value.operation == "release"
    assert taken_over[0] is not None


def test_the_owner_token_is_not_in_the_repr(locks: Locks) -> None:
    """Whoever has the token can release the lease: it stays out of logs."""
    lease = locks.acquire("job")
    assert lease.token not in repr(lease)


def test_async_leases_follow_the_same_rules(settings: RedisSettings) -> None:
    """The asyncio twin: held lock refused, non-owner refused, hold releases."""

    async def scenario() -> list[object]:
        client = create_client_async(settings)
        locks = AsyncLocks(client, settings, retry_seconds=0.01)
        try:
            async with locks.hold("job", timeout=1) as lease:
                held = await locks.try_acquire("job")
                stranger = await locks.release(impostor(lease))
            after = await locks.try_acquire("job")
            return [held, stranger, after is not None]
        finally:
            await client.aclose()

    assert run(scenario()) == [None, False, True]


def test_leases_work_on_a_cluster(cluster_settings: RedisSettings) -> None:
    """Lease and fence share a slot, so the scripts run on Redis Cluster."""
    client = create_client(cluster_settings)
    locks = Locks(client, cluster_settings)
    try:
        leases = [locks.acquire(f"job-{index}") for index in range(6)]
        assert all(locks.try_acquire(lease.name) is None for lease in leases)
        assert all(locks.release(lease) for lease in leases)
    finally:
        client.close()


def test_fencing_survives_a_flush(fault_server: RedisServer) -> None:
    """FLUSHALL loses the counter; the next fence is still larger (floored at server time)."""
    settings = settings_for(fault_server)
    locks = Locks(create_client(settings), settings)
    before = locks.acquire("job")
    fault_server.command("FLUSHALL")
    assert locks.acquire("job").fencing_token > before.fencing_token
