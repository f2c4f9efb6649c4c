"""The key scheme: ``<prefix><namespace>:<kind>:{<series>}[:<part>...]``.

Everything mp-cache stores lives under ``MP_REDIS_KEY_PREFIX`` (so an ACL user can be confined to
it, see :func:`mp_cache.acl_rules`), then under a namespace. Keys that a script or a multi-key
command touches together carry the same Redis Cluster hash tag, ``{<series>}`` or ``{<lock>}``, so
they live in one slot.

Parts are escaped rather than trusted: ``:`` would let two different part lists make the same key,
``{``/``}`` would move the hash tag, and whitespace or control bytes make keys unreadable in
``redis-cli``. Times are written in UTC with a fixed width, so the same instant in two time zones
makes the same key and the text sorts like the time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mp_cache.exceptions import CacheConfigError

__all__ = ["DEFAULT_NAMESPACE", "KeyScheme", "SeriesId", "key_part", "utc_text"]

#: Namespace of a :class:`~mp_cache.Cache` built without one.
DEFAULT_NAMESPACE = "cache"

#: A series is named by mp's integer ``series_id`` or by any text code.
SeriesId = str | int

_UNSAFE = re.compile(r"[%:{}\s\x00-\x1f\x7f]")
_NAMESPACE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Latest-value keys remembered per KeyScheme; cleared whole when full.
_MEMO_SIZE = 65536
# Fixed width and no ':' (so no escaping): 20240301T123000.000000Z.
_TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"


def _escape(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode())


def key_part(value: SeriesId, *, what: str = "key part") -> str:
    """One key segment: the text of ``value`` with ``% : { }``, whitespace and controls escaped.

    Raises:
        CacheConfigError: the part is empty, or neither text nor an integer.
    """
    # Fast paths first: batched reads build a key per series.
    if type(value) is str and value.isalnum():
        return value
    if type(value) is int:
        return str(value)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CacheConfigError(what, f"must be text or an integer, not {type(value).__name__}")
    text = str(value)
    if not text:
        raise CacheConfigError(what, "must not be empty")
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def utc_text(moment: datetime, *, what: str = "time") -> str:
    """A timezone-aware datetime as fixed-width UTC text for keys.

    Raises:
        CacheConfigError: ``moment`` is naive (a naive time is read differently by each host).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CacheConfigError(what, "must be timezone-aware (a naive datetime is ambiguous)")
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


@dataclass(frozen=True, slots=True)
class KeyScheme:
    """Builds every key of one namespace under one prefix.

    Args:
        prefix: ``MP_REDIS_KEY_PREFIX``, e.g. ``"mp:"``.
        namespace: letters, digits, ``_ . -``; separates independent users of one Redis.
    """

    prefix: str
    namespace: str = DEFAULT_NAMESPACE
    _latest: str = field(init=False, repr=False, compare=False)
    _latest_keys: dict[SeriesId, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _NAMESPACE.fullmatch(self.namespace):
            raise CacheConfigError("namespace", "use 1-64 characters from letters, digits, _ . -")
        if "{" in self.prefix or "}" in self.prefix:
            raise CacheConfigError("MP_REDIS_KEY_PREFIX", "must not contain { or }")
        object.__setattr__(self, "_latest", f"{self.prefix}{self.namespace}:latest:{{")
        object.__setattr__(self, "_latest_keys", {})

    @property
    def root(self) -> str:
        """The text every key of this namespace starts with."""
        return f"{self.prefix}{self.namespace}:"

    def value(self, key: str) -> str:
        """A plain cached value (no point-in-time meaning)."""
        return f"{self.prefix}{self.namespace}:value:{key_part(key, what='key')}"

    def latest(self, series: SeriesId) -> str:
        """The latest-value entry of a series."""
        # Readers poll the same series over and over; a bounded memo saves rebuilding the key.
        # Only exact str and int are remembered: True == 1 must not find the key of series 1.
        kind = type(series)
        if kind is str or kind is int:
            key = self._latest_keys.get(series)
            if key is not None:
                return key
        key = f"{self._latest}{key_part(series, what='series')}}}"
        if len(self._latest_keys) >= _MEMO_SIZE:
            self._latest_keys.clear()
        self._latest_keys[series] = key
        return key

    def generation(self, series: SeriesId) -> str:
        """The series' generation token, which ingest replaces on every change."""
        return f"{self.prefix}{self.namespace}:gen:{{{key_part(series, what='series')}}}"

    def as_of(
        self,
        series: SeriesId,
        as_of: datetime,
        *,
        query: str,
        known_through: datetime | None = None,
    ) -> str:
        """An as-of answer: the series, the question, ``as_of`` and the ingestion cutoff."""
        key = (
            f"{self.prefix}{self.namespace}:asof:{{{key_part(series, what='series')}}}:"
            f"{key_part(query, what='query')}:{utc_text(as_of, what='as_of')}"
        )
        if known_through is not None:
            key += f":{utc_text(known_through, what='known_through')}"
        return key

    def rate_limit(self, source: str) -> str:
        """A rate limiter's bucket (one key; the tag keeps room for companions in one slot)."""
        return f"{self.prefix}{self.namespace}:bucket:{{{key_part(source, what='source')}}}"

    def lock(self, name: str) -> tuple[str, str]:
        """A lock's lease key and its fencing counter, in one slot."""
        tag = key_part(name, what="lock name")
        return (
            f"{self.prefix}{self.namespace}:lock:{{{tag}}}",
            f"{self.prefix}{self.namespace}:lock:{{{tag}}}:fence",
        )
