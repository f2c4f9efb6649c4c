"""The cache on a real 3-master Redis Cluster: batches span slots, scripts stay in one slot."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import redis.cluster
from helpers import CountingLoader, run, truth
from redis.crc import key_slot

from mp_cache import AsyncCache, Cache, SeriesId, create_client, create_client_async
from mp_config import RedisSettings

SERIES: list[SeriesId] = [f"S{index}" for index in range(40)]
T1 = datetime.fromisoformat("2024-01-15T00:00:00+00:00")


@pytest.fixture
def cluster_cache(cluster_settings: RedisSettings) -> Iterator[Cache]:
    """A cache on the session's cluster."""
    client = create_client(cluster_settings)
    assert isinstance(client, redis.cluster.RedisCluster)
    try:
        yield Cache(client, cluster_settings, namespace="facts")
    finally:
        client.close()


def test_the_series_really_span_the_masters(cluster_cache: Cache) -> None:
    """The test's 40 series land on all three masters (else the other tests prove little)."""
    slots = {key_slot(cluster_cache.keys.latest(item).encode()) for item in SERIES}
    assert min(slots) < 5461
    assert max(slots) > 10922


def test_batched_latest_reads_across_slots(cluster_cache: Cache) -> None:
    """Half cached, half not: one loader call for the misses, then everything hits."""
    loader = CountingLoader()
    cluster_cache.latest_many(SERIES[::2], loader)
    result = cluster_cache.latest_many(SERIES, loader)
    assert result == {item: truth(item) for item in SERIES}
    assert loader.loaded == SERIES[::2] + SERIES[1::2]
    assert cluster_cache.latest_many(SERIES, loader) == result
    assert len(loader.calls) == 2


def test_invalidation_and_as_of_reads_on_a_cluster(cluster_cache: Cache) -> None:
    """Generation scripts run per slot: invalidated series reload, the others hit."""
    for item in SERIES[:6]:
        cluster_cache.as_of(item, T1, lambda: "old")
    cluster_cache.invalidate(SERIES[:3])
    answers = [cluster_cache.as_of(item, T1, lambda: "new") for item in SERIES[:6]]
    assert answers == ["new"] * 3 + ["old"] * 3


def test_plain_values_in_batches_on_a_cluster(cluster_cache: Cache) -> None:
    """set_many pipelines and get_many MGETs split by slot."""
    values = {f"k{index}": index for index in range(30)}
    assert cluster_cache.set_many(values)
    assert cluster_cache.get_many(list(values)) == values
    assert cluster_cache.delete(*values) == 30


def test_the_async_cache_on_a_cluster(cluster_settings: RedisSettings) -> None:
    """The asyncio cluster client gives the same answers."""

    async def scenario() -> dict[SeriesId, object]:
        client = create_client_async(cluster_settings)
        cache = AsyncCache(client, cluster_settings, namespace="facts")
        loader = CountingLoader()
        try:
            await cache.latest_many(SERIES, loader.load_async)
            await cache.invalidate(SERIES[:5])
            result = await cache.latest_many(SERIES, loader.load_async)
            assert loader.loaded == SERIES + SERIES[:5]
            return dict(result)
        finally:
            await client.aclose()

    assert run(scenario()) == {item: truth(item) for item in SERIES}
