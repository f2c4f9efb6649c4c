"""Plain values and read-through against a real Redis: JSON only, misses fall to the loader."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
import redis
from helpers import CountingLoader, run, truth

from mp_cache import AsyncCache, Cache, CodecError, create_client_async
from mp_config import RedisSettings


@pytest.fixture
def cache(client: redis.Redis, settings: RedisSettings) -> Cache:
    """A cache on the session's Redis."""
    return Cache(client, settings, namespace="t")


def test_read_through_calls_the_loader_once_then_serves_the_cache(cache: Cache) -> None:
    """The first read loads and stores; the second is a hit and the loader is not called."""
    calls: list[int] = []

    def loader() -> dict[str, Any]:
        calls.append(1)
        return {"rows": [1, 2, 3]}

    assert cache.read_through("k", loader) == {"rows": [1, 2, 3]}
    assert cache.read_through("k", loader) == {"rows": [1, 2, 3]}
    assert calls == [1]


def test_values_are_stored_as_versioned_json(cache: Cache, client: redis.Redis) -> None:
    """What Redis holds is readable JSON with the format version first, not pickle."""
    cache.set("k", {"a": 1})
    raw = client.get(cache.keys.value("k"))
    assert isinstance(raw, bytes)
    assert json.loads(raw) == [1, "value", {"a": 1}]


def test_entries_get_the_ttl_asked_for(cache: Cache, client: redis.Redis) -> None:
    """An explicit TTL is applied in milliseconds; the default comes from the settings."""
    cache.set("short", 1, ttl_seconds=30)
    cache.set("default", 1)
    assert 0 < client.pttl(cache.keys.value("short")) <= 30_000
    assert 30_000 < client.pttl(cache.keys.value("default")) <= 3_600_000


def test_get_many_reads_hits_in_one_batch_and_leaves_out_misses(cache: Cache) -> None:
    """set_many then get_many: stored keys come back, unknown keys are absent."""
    assert cache.set_many({"a": 1, "b": [2], "c": None})
    assert cache.get_many(["a", "b", "c", "zzz", "a"]) == {"a": 1, "b": [2], "c": None}


def test_get_returns_the_default_on_a_miss(cache: Cache) -> None:
    """A miss is the default, not an exception."""
    assert cache.get("missing", default="fallback") == "fallback"


def test_delete_removes_values(cache: Cache) -> None:
    """delete reports how many existed and the keys are gone."""
    cache.set_many({"a": 1, "b": 2})
    assert cache.delete("a", "b", "c") == 2
    assert cache.get_many(["a", "b"]) == {}


def test_a_pickle_under_the_key_is_a_miss_and_is_never_unpickled(
    cache: Cache, client: redis.Redis
) -> None:
    """A foreign payload (a pickle) is ignored: the loader's value is returned and stored."""
    client.set(cache.keys.value("k"), pickle.dumps([1, "value", "from pickle"]))
    assert cache.read_through("k", lambda: "from the loader") == "from the loader"
    assert cache.get("k") == "from the loader"


def test_a_loader_result_that_is_not_json_is_returned_but_not_cached(cache: Cache) -> None:
    """The read path does not fail on a value it cannot store; it just does not store it."""
    value = {1, 2}
    assert cache.read_through("k", lambda: value) is value
    assert cache.get("k", default="absent") == "absent"


def test_set_refuses_values_that_are_not_json(cache: Cache) -> None:
    """set is a write: NaN is refused with CodecError, before anything is sent."""
    with pytest.raises(CodecError):
        cache.set("k", float("nan"))


def test_loader_exceptions_propagate(cache: Cache) -> None:
    """The loader is the truth: its failure is the caller's, not hidden as a miss."""

    def broken() -> int:
        raise LookupError("database down")

    with pytest.raises(LookupError, match="database down"):
        cache.read_through("k", broken)


def test_a_sync_cache_refuses_an_async_loader(cache: Cache) -> None:
    """A coroutine function passed to the sync cache is an error, not a cached coroutine."""

    async def loader() -> int:
        return 1

    untyped: Any = loader
    with pytest.raises(ValueError, match="Async"):
        cache.read_through("k", untyped)


def test_latest_many_loads_only_the_misses_once(cache: Cache) -> None:
    """One batched read: hits from Redis, one loader call for the rest, then all hits."""
    loader = CountingLoader()
    assert cache.latest_many(["CPI"], loader) == {"CPI": truth("CPI")}
    result = cache.latest_many(["CPI", "GDP", 7], loader)
    assert result == {"CPI": truth("CPI"), "GDP": truth("GDP"), 7: truth(7)}
    assert list(result) == ["CPI", "GDP", 7]
    assert cache.latest_many(["GDP", 7, "CPI"], loader) == result
    assert loader.loaded == ["CPI", "GDP", 7]


def test_a_series_without_a_value_is_absent_and_not_cached(cache: Cache) -> None:
    """The loader finding nothing leaves the series out; the next read asks again."""
    calls: list[object] = []

    def loader(missing: list[str | int], as_of: object) -> dict[str | int, Any]:
        calls.append(missing)
        return {}

    assert cache.latest_many(["NEW"], loader) == {}
    assert cache.latest_many(["NEW"], loader) == {}
    assert calls == [["NEW"], ["NEW"]]


def test_the_single_series_form_matches_the_batch(cache: Cache) -> None:
    """latest(series, loader) loads once and then hits."""
    loader = CountingLoader()
    assert cache.latest("CPI", loader.one) == truth("CPI")
    assert cache.latest("CPI", loader.one) == truth("CPI")
    assert loader.loaded == ["CPI"]


def test_the_async_cache_shares_keys_and_rules_with_the_sync_one(
    cache: Cache, settings: RedisSettings
) -> None:
    """What the sync cache stored, the async cache reads (same keys, same envelopes)."""
    loader = CountingLoader()
    cache.latest_many(["CPI"], loader)
    cache.set("plain", {"x": 1})

    async def read() -> tuple[object, object, object]:
        client = create_client_async(settings)
        try:
            async_cache = AsyncCache(client, settings, namespace="t")
            latest = await async_cache.latest_many(["CPI", "GDP"], loader.load_async)

            async def load() -> str:
                return "loaded"

            plain = await async_cache.read_through("plain", load)
            fresh = await async_cache.read_through("fresh", load)
            return latest, plain, fresh
        finally:
            await client.aclose()

    latest, plain, fresh = run(read())
    assert latest == {"CPI": truth("CPI"), "GDP": truth("GDP")}
    assert plain == {"x": 1}
    assert fresh == "loaded"
    assert loader.loaded == ["CPI", "GDP"]
    assert cache.get("fresh") == "loaded"
