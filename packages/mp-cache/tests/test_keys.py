"""The key scheme: escaped parts, canonical times, one cluster slot per series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from redis.crc import key_slot

from mp_cache import CacheConfigError, KeyScheme

AS_OF = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)


def test_keys_live_under_the_prefix_and_namespace() -> None:
    """Every kind of key starts with ``<prefix><namespace>:``."""
    keys = KeyScheme("mp:", "facts")
    built = [
        keys.value("fx"),
        keys.latest("CPI"),
        keys.generation("CPI"),
        keys.as_of("CPI", AS_OF, query="history"),
        keys.rate_limit("fred"),
        *keys.lock("ingest"),
    ]
    assert all(key.startswith("mp:facts:") for key in built)


def test_a_separator_inside_a_part_cannot_make_two_keys_collide() -> None:
    """``a:b`` + ``c`` and ``a`` + ``b:c`` are different as-of keys (':' is escaped)."""
    keys = KeyScheme("mp:", "facts")
    first = keys.as_of("a:b", AS_OF, query="c")
    second = keys.as_of("a", AS_OF, query="b:c")
    assert first != second
    assert "a%3Ab" in first


def test_braces_in_a_series_cannot_move_the_hash_tag() -> None:
    """A series named ``x}{y`` is escaped, so its keys still share one slot."""
    keys = KeyScheme("mp:", "facts")
    latest, generation = keys.latest("x}{y"), keys.generation("x}{y")
    assert "{x%7D%7By}" in latest
    assert key_slot(latest.encode()) == key_slot(generation.encode())


def test_all_keys_of_a_series_share_one_cluster_slot() -> None:
    """Generation, latest and as-of keys of a series hash to the same slot (scripts need it)."""
    keys = KeyScheme("mp:", "facts")
    slots = {
        key_slot(key.encode())
        for key in (
            keys.generation(42),
            keys.latest(42),
            keys.as_of(42, AS_OF, query="history", known_through=AS_OF),
        )
    }
    assert len(slots) == 1


def test_a_lock_and_its_fence_share_one_slot() -> None:
    """The lease and fencing counter of one lock land in one slot."""
    lease, fence = KeyScheme("mp:", "locks").lock("ingest:fred")
    assert key_slot(lease.encode()) == key_slot(fence.encode())


def test_one_instant_in_two_time_zones_makes_one_key() -> None:
    """12:30Z and 07:30-05:00 are the same as-of key."""
    keys = KeyScheme("mp:", "facts")
    eastern = AS_OF.astimezone(timezone(timedelta(hours=-5)))
    assert keys.as_of("CPI", AS_OF, query="q") == keys.as_of("CPI", eastern, query="q")


def test_the_cutoff_is_part_of_an_as_of_key() -> None:
    """Different ingestion cutoffs (known_through) are different entries."""
    keys = KeyScheme("mp:", "facts")
    assert keys.as_of("CPI", AS_OF, query="q", known_through=AS_OF) != keys.as_of(
        "CPI", AS_OF, query="q", known_through=AS_OF + timedelta(seconds=1)
    )


def test_a_naive_as_of_time_is_refused() -> None:
    """A naive datetime names a different instant on each host: refused, naming the field."""
    with pytest.raises(CacheConfigError) as caught:
        KeyScheme("mp:", "facts").as_of("CPI", datetime(2024, 3, 1), query="q")
    assert caught.value.field == "as_of"


@pytest.mark.parametrize("bad", ["", "has space", "x{y}", "é"])
def test_a_namespace_outside_the_plain_alphabet_is_refused(bad: str) -> None:
    """Namespaces use letters, digits and ``_ . -`` only."""
    with pytest.raises(CacheConfigError):
        KeyScheme("mp:", bad)


@pytest.mark.parametrize("bad", ["", True, 1.5, None])
def test_a_part_that_is_empty_or_not_text_or_int_is_refused(bad: object) -> None:
    """Series ids are text or integers, never empty, never floats or booleans."""
    with pytest.raises(CacheConfigError):
        KeyScheme("mp:", "facts").latest(bad)  # type: ignore[arg-type]


def test_remembered_keys_never_stand_in_for_a_refused_series() -> None:
    """Series 1's key is remembered, yet ``True`` (equal to 1 in Python) is still refused."""
    keys = KeyScheme("mp:", "facts")
    assert keys.latest(1) == "mp:facts:latest:{1}"
    assert keys.latest(1) == keys.latest("1")
    with pytest.raises(CacheConfigError):
        keys.latest(True)
