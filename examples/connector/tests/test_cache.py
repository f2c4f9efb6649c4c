"""With Redis: ingest under a lease, cache invalidation after commit, cached as-of reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from fred_example import INGEST_LEASE, Connector, read_vintages
from mp_cache import Locks, create_client
from mp_config import RedisSettings
from mp_db import Database


@pytest.fixture
def cached(database: Database, mp_redis: RedisSettings) -> Iterator[Connector]:
    """A connector with Redis (a key prefix of this test's own, from mp-testing)."""
    with Connector(database, redis=mp_redis) as connector:
        yield connector


def test_cached_answers_equal_the_database(cached: Connector, connector: Connector) -> None:
    """Asked twice through the cache and once without it, the answer is the same."""
    cached.sync()
    moment = datetime(2024, 3, 12, 13, tzinfo=UTC)
    first = cached.latest_print("CPIAUCSL", as_of=moment)
    second = cached.latest_print("CPIAUCSL", as_of=moment)
    assert first == second == connector.latest_print("CPIAUCSL", as_of=moment)
    assert first is not None
    assert first.period == date(2024, 2, 1)


def test_an_ingest_invalidates_cached_answers(cached: Connector) -> None:
    """A cached as-of answer is not served after an ingest that changes it."""
    vintages = read_vintages()
    cached.sync([vintage for vintage in vintages if vintage.released <= date(2024, 8, 31)])
    moment = datetime(2024, 12, 31, tzinfo=UTC)
    stale = cached.latest_print("PAYEMS", as_of=moment)
    assert stale is not None
    assert (stale.period, stale.value, stale.revision) == (date(2024, 6, 1), 158755.0, 1)
    cached.sync(vintages)  # adds June's second revision, published 2024-09-06
    fresh = cached.latest_print("PAYEMS", as_of=moment)
    assert fresh is not None
    assert (fresh.period, fresh.value, fresh.revision) == (date(2024, 6, 1), 158744.0, 2)


def test_the_ingest_lease_is_released(cached: Connector, mp_redis: RedisSettings) -> None:
    """After a sync, the lease is free for the next run."""
    cached.sync()
    client = create_client(mp_redis)
    try:
        locks = Locks(client, mp_redis)
        lease = locks.try_acquire(INGEST_LEASE)
        assert lease is not None
        assert locks.release(lease)
    finally:
        client.close()
