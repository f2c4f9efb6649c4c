"""The point-in-time rule: no value from after T, no answer from before the last ingest.

Each test plays the source of truth with a loader and checks that the cache's answer is the one
the loader would give now.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import redis
from helpers import KNOWN_AT, CountingLoader, run, truth

from mp_cache import AsyncCache, Cache, LatestValue, SeriesId, create_client_async
from mp_config import RedisSettings

EARLIER = KNOWN_AT - timedelta(microseconds=1)
T1 = datetime.fromisoformat("2024-01-15T00:00:00+00:00")
T2 = datetime.fromisoformat("2024-02-15T00:00:00+00:00")

pytestmark = pytest.mark.scenario("nothing_lost")


@pytest.fixture
def cache(client: redis.Redis, settings: RedisSettings) -> Cache:
    """A cache on the session's Redis."""
    return Cache(client, settings, namespace="facts")


def test_a_latest_value_is_never_served_for_an_as_of_before_its_knowledge_time(
    cache: Cache,
) -> None:
    """Cached latest has knowledge_time K; a read as of K - 1 us goes to the loader."""
    cache.latest_many(["CPI"], CountingLoader())
    previous_print = LatestValue({"value": 1.0}, KNOWN_AT - timedelta(days=30))
    asked: list[datetime | None] = []

    def as_known_then(series: SeriesId, as_of: datetime | None) -> LatestValue:
        asked.append(as_of)
        return previous_print

    assert cache.latest("CPI", as_known_then, as_of=EARLIER) == previous_print
    assert asked == [EARLIER]


def test_a_latest_value_is_served_for_an_as_of_at_or_after_its_knowledge_time(
    cache: Cache,
) -> None:
    """For T >= K the cached latest value is the answer; the loader is not asked."""
    loader = CountingLoader()
    cache.latest_many(["CPI"], loader)
    for as_of in (KNOWN_AT, KNOWN_AT + timedelta(days=400)):
        assert cache.latest_many(["CPI"], loader, as_of=as_of) == {"CPI": truth("CPI")}
    assert loader.calls == [(["CPI"], None)]


def test_an_earlier_as_of_answer_is_cached_under_its_own_time(cache: Cache) -> None:
    """The loader's answer for T < K is kept as an as-of entry for T, and the latest stays."""
    loader = CountingLoader()
    cache.latest_many(["CPI"], loader)
    cache.latest_many(["CPI"], loader, as_of=EARLIER)
    cache.latest_many(["CPI"], loader, as_of=EARLIER)
    assert cache.latest_many(["CPI"], loader) == {"CPI": truth("CPI")}
    assert loader.calls == [(["CPI"], None), (["CPI"], EARLIER)]


def test_invalidation_makes_the_latest_value_unreachable(cache: Cache) -> None:
    """After ingest calls invalidate, the next read returns the new truth."""
    cache.latest_many(["CPI", "GDP"], CountingLoader(version=1))
    assert cache.invalidate("CPI") == 1
    after = CountingLoader(version=2)
    result = cache.latest_many(["CPI", "GDP"], after)
    assert result == {"CPI": truth("CPI", 2), "GDP": truth("GDP", 1)}
    assert after.loaded == ["CPI"]


def test_invalidation_makes_every_as_of_answer_of_the_series_unreachable(cache: Cache) -> None:
    """A backfill can change any as-of answer of a series: all of them become misses."""
    for as_of in (T1, T2):
        cache.as_of("CPI", as_of, lambda: "before backfill")
    cache.as_of("GDP", T1, lambda: "untouched")
    cache.invalidate(["CPI"])
    assert cache.as_of("CPI", T1, lambda: "after backfill") == "after backfill"
    assert cache.as_of("CPI", T2, lambda: "after backfill") == "after backfill"
    assert cache.as_of("GDP", T1, lambda: "reloaded?") == "untouched"


def test_a_latest_value_loaded_before_an_ingest_is_not_stored_after_it(cache: Cache) -> None:
    """An ingest that commits and invalidates while the loader runs wins the race."""
    state = {"version": 1}

    def loader(missing: list[SeriesId], as_of: datetime | None) -> dict[SeriesId, LatestValue]:
        loaded = {item: truth(item, state["version"]) for item in missing}
        state["version"] = 2  # the ingest commits after our query read the old rows...
        cache.invalidate(missing)  # ...and then invalidates
        return loaded

    assert cache.latest_many(["CPI"], loader) == {"CPI": truth("CPI", 1)}
    assert cache.latest_many(["CPI"], CountingLoader(version=2)) == {"CPI": truth("CPI", 2)}


def test_an_as_of_answer_loaded_before_an_ingest_is_not_served_after_it(cache: Cache) -> None:
    """The same race for as-of entries: the entry carries the old generation and is ignored."""

    def loader() -> str:
        cache.invalidate("CPI")
        return "stale"

    assert cache.as_of("CPI", T1, loader) == "stale"
    assert cache.as_of("CPI", T1, lambda: "fresh") == "fresh"
    assert cache.as_of("CPI", T1, lambda: "not called") == "fresh"


def test_a_lost_generation_never_revives_an_old_answer(cache: Cache, client: redis.Redis) -> None:
    """Deleting the generation (eviction, expiry) turns the series' as-of entries into misses."""
    cache.as_of("CPI", T1, lambda: "old")
    client.delete(cache.keys.generation("CPI"))
    assert cache.as_of("CPI", T1, lambda: "new") == "new"


def test_question_and_cutoff_are_part_of_an_as_of_entry(cache: Cache) -> None:
    """Different queries and ingestion cutoffs never share an entry."""
    cache.as_of("CPI", T1, lambda: "window", query="window:2023")
    cache.as_of("CPI", T1, lambda: "cutoff 1", known_through=T1)
    assert cache.as_of("CPI", T1, lambda: "history", query="history") == "history"
    assert cache.as_of("CPI", T1, lambda: "cutoff 2", known_through=T2) == "cutoff 2"
    assert cache.as_of("CPI", T1, lambda: "x", query="window:2023") == "window"
    assert cache.as_of("CPI", T1, lambda: "x", known_through=T1) == "cutoff 1"


def test_nothing_known_as_of_t_is_an_answer_that_is_cached(cache: Cache) -> None:
    """A None answer for T is stored: the next read does not ask the loader."""
    calls: list[int] = []

    def loader() -> None:
        calls.append(1)

    assert cache.as_of("NEW", T1, loader) is None
    assert cache.as_of("NEW", T1, loader) is None
    assert calls == [1]


def test_the_async_cache_invalidates_what_the_sync_cache_stored(
    cache: Cache, settings: RedisSettings
) -> None:
    """An async ingest's invalidate reaches entries a sync reader stored, and vice versa."""
    cache.latest_many(["CPI"], CountingLoader(version=1))
    cache.as_of("CPI", T1, lambda: "old")

    async def ingest_then_read() -> tuple[object, object]:
        client = create_client_async(settings)
        try:
            async_cache = AsyncCache(client, settings, namespace="facts")
            await async_cache.invalidate(["CPI"])
            loader = CountingLoader(version=2)
            latest = await async_cache.latest_many(["CPI"], loader.load_async)

            async def fresh() -> str:
                return "new"

            return latest, await async_cache.as_of("CPI", T1, fresh)
        finally:
            await client.aclose()

    latest, answer = run(ingest_then_read())
    assert latest == {"CPI": truth("CPI", 2)}
    assert answer == "new"
    assert cache.latest("CPI", CountingLoader(version=3).one) == truth("CPI", 2)
