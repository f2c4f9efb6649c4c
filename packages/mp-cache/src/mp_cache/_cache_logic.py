"""What the cache does, written once for :class:`~mp_cache.Cache` and :class:`~mp_cache.AsyncCache`.

The point-in-time rule (also in the README):

1. **Latest values** are stored with the ``knowledge_time`` they are valid from. A read as of T
   is served from a latest entry only if that knowledge_time <= T; otherwise it is answered as
   an as-of read (rule 2). So a value that became public after T is never returned for T.
2. **As-of answers** are keyed by everything they are a function of except the stored rows:
   the series, the question, T, and the ingestion cutoff when the loader applies one. The
   stored rows are represented by the series' **generation**: a random token that ingest
   replaces (:meth:`invalidate`) after every commit that touched the series. Each as-of entry
   records the generation that was current *before* its loader ran, and it is served only if
   that generation is still current, read in the same round trip. A backfill that adds a row
   with knowledge_time <= T therefore makes every older answer for that series unreachable.
3. **Invalidation** replaces the generation and deletes the latest entry atomically. A latest
   entry is written only if the generation is unchanged since before its loader ran
   (compare-and-set), so a value loaded before an ingest committed cannot be stored after the
   invalidation that follows it.
4. A **missing generation** (never created, expired, evicted, flushed) matches no entry, and
   tokens are random, never counters, so a lost or reset generation can never make an old
   entry current again.

What remains outside the rule: an invalidation that Redis never receives. :meth:`invalidate`
raises :class:`~mp_cache.CacheUnavailableError` then, and the ingest must retry it; until it
does, entries of that series can be served until their TTL ends.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from mp_cache._breaker import CircuitBreaker, is_redis_fault, is_write_refusal
from mp_cache._codec import (
    LatestValue,
    decode_as_of,
    decode_latest_many,
    decode_value,
    decode_values,
    encode_as_of,
    encode_latest,
    encode_value,
    knowledge_text,
)
from mp_cache._keys import KeyScheme, SeriesId
from mp_cache._ops import Call, Command, Eval, Mget, Op, Pipeline, Steps
from mp_cache._redis_errors import required
from mp_cache._scripts import GENERATION, INVALIDATE, SET_IF_GENERATION
from mp_cache.exceptions import CodecError

__all__ = ["LATEST_QUERY", "CacheLogic", "Load", "load_many", "load_one", "load_value", "new_token"]

_log = logging.getLogger("mp_cache")

#: The ``query`` part of as-of entries that hold a latest value as of T.
LATEST_QUERY = "latest"

#: Loads the answers for the series that missed; returns what it found.
Load = Callable[[list[SeriesId]], Steps[Mapping[SeriesId, Any]]]


def new_token() -> str:
    """A fresh generation token: 64 random bits, never reused, never ordered."""
    return os.urandom(8).hex()


def _unique(series: Iterable[SeriesId]) -> list[SeriesId]:
    return list(dict.fromkeys(series))


def load_many(loader: Callable[..., Any], as_of: datetime | None) -> Load:
    """Adapt ``loader(missing, as_of) -> {series: LatestValue}`` (sync or async)."""

    def load(missing: list[SeriesId]) -> Steps[Mapping[SeriesId, Any]]:
        loaded: Mapping[SeriesId, Any] = yield Call(loader, (missing, as_of))
        return loaded

    return load


def load_one(loader: Callable[..., Any], series: SeriesId, as_of: datetime | None) -> Load:
    """Adapt ``loader(series, as_of) -> LatestValue | None`` (sync or async)."""

    def load(missing: list[SeriesId]) -> Steps[Mapping[SeriesId, Any]]:
        value = yield Call(loader, (series, as_of))
        return {} if value is None else {series: value}

    return load


def load_value(loader: Callable[..., Any], series: SeriesId) -> Load:
    """Adapt ``loader() -> answer`` for one as-of read (``None`` is an answer too)."""

    def load(missing: list[SeriesId]) -> Steps[Mapping[SeriesId, Any]]:
        value = yield Call(loader)
        return {series: value}

    return load


class CacheLogic:
    """The cache's steps; see the module docstring for the point-in-time rule.

    Args:
        keys: the key scheme (prefix and namespace).
        breaker: guards the read and write paths (never :meth:`invalidate`).
        ttl_ms: default TTL of entries.
        generation_ttl_ms: TTL of generation tokens, refreshed whenever one is used.
    """

    def __init__(
        self, *, keys: KeyScheme, breaker: CircuitBreaker, ttl_ms: int, generation_ttl_ms: int
    ) -> None:
        self.keys = keys
        self.breaker = breaker
        self.ttl_ms = ttl_ms
        self.generation_ttl_ms = generation_ttl_ms

    # --- guarded Redis calls: a fault is a miss (or a skipped write), never an exception ------

    def _read(self, op: Op) -> Steps[tuple[bool, Any]]:
        if not self.breaker.allow():
            return False, None
        try:
            reply = yield op
        except Exception as error:
            if not is_redis_fault(error):
                raise
            _log.debug("mp-cache read failed, using the loader: %r", error)
            self.breaker.record_failure()
            return False, None
        self.breaker.record_success()
        return True, reply

    def _write(self, op: Op) -> Steps[tuple[bool, Any]]:
        if not self.breaker.allow():
            return False, None
        try:
            reply = yield op
        except Exception as error:
            if not is_redis_fault(error):
                raise
            if is_write_refusal(error):
                _log.debug("mp-cache write refused (%r); the entry is not cached", error)
            else:
                _log.debug("mp-cache write failed: %r", error)
                self.breaker.record_failure()
            return False, None
        self.breaker.record_success()
        return True, reply

    def _ttl(self, ttl_seconds: float | None) -> int:
        return self.ttl_ms if ttl_seconds is None else max(1, round(ttl_seconds * 1000))

    # --- plain values -------------------------------------------------------------------------

    def get(self, key: str) -> Steps[tuple[bool, Any]]:
        """``(hit, data)`` for one plain value."""
        ok, raw = yield from self._read(Command(("GET", self.keys.value(key))))
        return decode_value(raw) if ok else (False, None)

    def get_many(self, keys: Sequence[str]) -> Steps[dict[str, Any]]:
        """The hits among ``keys``; misses, faults and foreign payloads are left out."""
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        ok, raws = yield from self._read(Mget([self.keys.value(key) for key in unique]))
        if not ok:
            return {}
        return {
            key: data for key, (hit, data) in zip(unique, decode_values(raws), strict=True) if hit
        }

    def set_many(self, values: Mapping[str, Any], ttl_seconds: float | None) -> Steps[bool]:
        """Store plain values (one pipeline); True if every one was stored.

        Raises:
            CodecError: a value is not JSON (checked before anything is sent).
        """
        ttl = self._ttl(ttl_seconds)
        ops = [
            Command(("SET", self.keys.value(key), encode_value(value), "PX", ttl))
            for key, value in values.items()
        ]
        if not ops:
            return True
        ok, replies = yield from self._write(Pipeline(ops))
        return ok and not any(isinstance(reply, Exception) for reply in replies)

    def delete(self, keys: Sequence[str]) -> Steps[int]:
        """Delete plain values; how many existed.

        Raises:
            CacheUnavailableError: Redis could not be reached.
        """
        ops: list[Command | Eval] = [
            Command(("DEL", self.keys.value(key))) for key in dict.fromkeys(keys)
        ]
        if not ops:
            return 0
        replies = yield from required(Pipeline(ops), "delete")
        return sum(reply for reply in replies if isinstance(reply, int))

    def read_through(
        self, key: str, loader: Callable[[], Any], ttl_seconds: float | None
    ) -> Steps[Any]:
        """The cached value, or the loader's (stored for next time)."""
        hit, data = yield from self.get(key)
        if hit:
            return data
        value = yield Call(loader)
        try:
            payload = encode_value(value)
        except CodecError as error:
            _log.warning("mp-cache: loader result for %r not cached: %s", key, error)
            return value
        yield from self._write(
            Command(("SET", self.keys.value(key), payload, "PX", self._ttl(ttl_seconds)))
        )
        return value

    # --- point in time ------------------------------------------------------------------------

    def latest_many(
        self, series: Iterable[SeriesId], load: Load, as_of: datetime | None
    ) -> Steps[dict[SeriesId, LatestValue]]:
        """Latest values (as of ``as_of`` when given); rule 1 of the module docstring."""
        wanted = _unique(series)
        not_after = None if as_of is None else knowledge_text(as_of)
        found: dict[SeriesId, LatestValue] = {}
        ok, raws = yield from self._read(Mget([self.keys.latest(item) for item in wanted]))
        if ok:
            for item, value in zip(
                wanted, decode_latest_many(raws, not_after=not_after), strict=True
            ):
                if value is not None:
                    found[item] = value
        if len(found) == len(wanted):
            return found
        missing = [item for item in wanted if item not in found]
        if not ok:
            # Redis just failed us: answer from the loader and spend no more time on Redis.
            loaded = yield from load(missing)
            values = {item: value for item, value in loaded.items() if value is not None}
        elif as_of is None:
            values = yield from self._load_latest_now(missing, load)
        else:
            values = yield from self._load_latest_as_of(missing, load, as_of)
        found.update(values)
        return {item: found[item] for item in wanted if item in found}

    def _generations(self, series: list[SeriesId]) -> Steps[dict[SeriesId, bytes]]:
        ops = [
            Eval(GENERATION, (self.keys.generation(item),), (new_token(), self.generation_ttl_ms))
            for item in series
        ]
        ok, replies = yield from self._write(Pipeline(ops))
        if not ok:
            return {}
        return {
            item: reply
            for item, reply in zip(series, replies, strict=True)
            if isinstance(reply, bytes)
        }

    def _load_latest_now(
        self, missing: list[SeriesId], load: Load
    ) -> Steps[dict[SeriesId, LatestValue]]:
        generations = yield from self._generations(missing)
        loaded = yield from load(missing)
        values = {item: value for item, value in loaded.items() if value is not None}
        ops: list[Command | Eval] = []
        for item, value in values.items():
            generation = generations.get(item)
            if generation is None:
                continue
            try:
                payload = encode_latest(value)
            except CodecError as error:
                _log.warning("mp-cache: latest value of %r not cached: %s", item, error)
                continue
            keys = (self.keys.generation(item), self.keys.latest(item))
            ops.append(Eval(SET_IF_GENERATION, keys, (generation, payload, self.ttl_ms)))
        if ops:
            yield from self._write(Pipeline(ops))
        return values

    def _load_latest_as_of(
        self, missing: list[SeriesId], load: Load, as_of: datetime
    ) -> Steps[dict[SeriesId, LatestValue]]:
        keys = [self.keys.as_of(item, as_of, query=LATEST_QUERY) for item in missing]
        answers = yield from self.as_of_many(list(zip(missing, keys, strict=True)), load, None)
        found: dict[SeriesId, LatestValue] = {}
        for item, answer in answers.items():
            if isinstance(answer, LatestValue):
                found[item] = answer
            elif isinstance(answer, list) and len(answer) == 2 and isinstance(answer[0], str):
                try:
                    found[item] = LatestValue(answer[1], datetime.fromisoformat(answer[0]))
                except ValueError:
                    continue
        return found

    def as_of_many(
        self, items: list[tuple[SeriesId, str]], load: Load, ttl_seconds: float | None
    ) -> Steps[dict[SeriesId, Any]]:
        """As-of answers for ``(series, key)`` pairs; rule 2 of the module docstring.

        Absent answers are cached too (as ``null``): "nothing was known as of T" is an answer.
        """
        interleaved: list[str] = []
        for item, key in items:
            interleaved += [self.keys.generation(item), key]
        answers: dict[SeriesId, Any] = {}
        generations: dict[SeriesId, bytes] = {}
        ok, raws = yield from self._read(Mget(interleaved))
        if ok:
            for index, (item, _key) in enumerate(items):
                generation, raw = raws[2 * index], raws[2 * index + 1]
                hit, data = decode_as_of(raw, generation)
                if hit:
                    answers[item] = data
                elif isinstance(generation, bytes):
                    generations[item] = generation
        missing = [item for item, _ in items if item not in answers]
        if not missing:
            return answers
        absent = [item for item in missing if item not in generations]
        if ok and absent:
            generations.update((yield from self._generations(absent)))
        loaded = yield from load(missing)
        keys = dict(items)
        ttl = self._ttl(ttl_seconds)
        ops: list[Command | Eval] = []
        for item in missing:
            answer = loaded.get(item)
            answers[item] = answer
            generation = generations.get(item)
            if generation is None:
                continue
            stored = answer
            if isinstance(answer, LatestValue):
                stored = [knowledge_text(answer.knowledge_time), answer.data]
            try:
                payload = encode_as_of(generation.decode(), stored)
            except CodecError as error:
                _log.warning("mp-cache: as-of answer for %r not cached: %s", item, error)
                continue
            ops.append(Command(("SET", keys[item], payload, "PX", ttl)))
        if ops:
            yield from self._write(Pipeline(ops))
        return answers

    def invalidate(self, series: Iterable[SeriesId]) -> Steps[int]:
        """Replace the generations of ``series`` and drop their latest values (rule 3).

        Raises:
            CacheUnavailableError: Redis could not be told; retry, or entries of these series
                may be served until they expire.
        """
        ops: list[Command | Eval] = [
            Eval(
                INVALIDATE,
                (self.keys.generation(item), self.keys.latest(item)),
                (new_token(), self.generation_ttl_ms),
            )
            for item in _unique(series)
        ]
        if not ops:
            return 0
        replies = yield from required(Pipeline(ops), "invalidate")
        return len(replies)
