"""Versioned JSON envelopes: round trips, and every foreign or corrupt payload is a miss."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mp_cache import CodecError, LatestValue
from mp_cache._codec import (
    decode_as_of,
    decode_latest_many,
    decode_value,
    decode_values,
    encode_as_of,
    encode_latest,
    encode_value,
    knowledge_text,
)

KNOWN = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)

pytestmark = pytest.mark.scenario("security")


def test_a_value_round_trips_as_plain_json() -> None:
    """The stored bytes are a JSON array led by the format version and the kind."""
    raw = encode_value({"a": [1, 2.5, None, "x"]})
    assert json.loads(raw) == [1, "value", {"a": [1, 2.5, None, "x"]}]
    assert decode_value(raw) == (True, {"a": [1, 2.5, None, "x"]})


def test_a_latest_value_keeps_its_knowledge_time_in_utc() -> None:
    """The knowledge_time survives the round trip as the same instant, in UTC."""
    eastern = KNOWN.astimezone(timezone(timedelta(hours=-5)))
    [decoded] = decode_latest_many([encode_latest(LatestValue(3.25, eastern))])
    assert decoded == LatestValue(3.25, KNOWN)
    assert decoded.knowledge_time.utcoffset() == timedelta(0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), datetime.now(UTC), object(), {1j}])
def test_values_that_are_not_json_are_refused(bad: object) -> None:
    """NaN, infinities and non-JSON objects raise CodecError instead of being stored."""
    with pytest.raises(CodecError):
        encode_value(bad)


def test_a_naive_knowledge_time_is_refused() -> None:
    """A latest value needs an aware knowledge_time."""
    with pytest.raises(CodecError):
        encode_latest(LatestValue(1, datetime(2024, 3, 1)))


@pytest.mark.parametrize(
    "raw",
    [
        pickle.dumps([1, "value", "boom"]),
        b"\xff\xfe not utf-8",
        b'[2,"value",1]',
        b'[1,"latest","x",1]',
        b'[1,"value"]',
        b'{"v":1,"data":1}',
        b'[1,"value",1',
        b"",
    ],
)
def test_foreign_and_corrupt_payloads_are_misses(raw: bytes) -> None:
    """Pickle, bad UTF-8, another version or kind, a truncated value: a miss, no exception."""
    assert decode_value(raw) == (False, None)


def test_one_corrupt_entry_in_a_batch_costs_only_itself() -> None:
    """A truncated and a foreign payload in a batch are misses; the others decode."""
    good = encode_latest(LatestValue(1, KNOWN))
    truncated = good[:-3]
    foreign = pickle.dumps({"x": 1})
    crafted = b'[1,"latest","2024-03-01T12:30:00.000000+00:00",1],[1,"latest","x",2]'
    decoded = decode_latest_many([good, truncated, None, foreign, good, crafted])
    assert decoded[0] == LatestValue(1, KNOWN)
    assert decoded[1:4] == [None, None, None]
    assert decoded[4] == LatestValue(1, KNOWN)
    assert decoded[5] is None


def test_a_latest_entry_known_after_the_as_of_time_is_a_miss() -> None:
    """With ``not_after`` = T, an entry whose knowledge_time is after T is not decoded."""
    raw = encode_latest(LatestValue(1, KNOWN))
    before = knowledge_text(KNOWN - timedelta(microseconds=1))
    assert decode_latest_many([raw], not_after=before) == [None]
    assert decode_latest_many([raw], not_after=knowledge_text(KNOWN)) == [LatestValue(1, KNOWN)]


def test_a_knowledge_time_in_another_form_is_a_miss() -> None:
    """Only the fixed-width UTC form sorts like time, so any other form is not trusted."""
    assert decode_latest_many([b'[1,"latest","2024-03-01",1]']) == [None]


def test_an_as_of_entry_is_served_only_for_its_own_generation() -> None:
    """The envelope's generation must equal the current token; a missing token matches none."""
    raw = encode_as_of("abc123", {"rows": 3})
    assert decode_as_of(raw, b"abc123") == (True, {"rows": 3})
    assert decode_as_of(raw, b"fffeee") == (False, None)
    assert decode_as_of(raw, None) == (False, None)


def test_a_batch_of_plain_values_survives_corrupt_members() -> None:
    """Truncated, foreign and crafted members of a batch are misses; the rest decode in place."""
    good = encode_value({"a": 1})
    crafted = b'[1,"value",1],[1,"value",2]'
    decoded = decode_values([good, good[:-2], None, pickle.dumps(1), crafted, good])
    assert decoded == [(True, {"a": 1})] + [(False, None)] * 4 + [(True, {"a": 1})]
