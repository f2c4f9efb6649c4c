"""Cache values as versioned JSON envelopes, never pickle.

Every stored value is one compact JSON array whose first element is the format version and whose
second names the kind of entry::

    [1, "value", DATA]                         a plain cached value
    [1, "latest", "KNOWLEDGE_TIME", DATA]      a series' latest value and the knowledge_time
                                               it is valid from (ISO 8601 UTC, microseconds)
    [1, "asof", "GENERATION", DATA]            an as-of answer and the generation it belongs to

DATA is any JSON value; NaN and infinities are refused (they are not JSON, and mp rejects them
at ingest). Decoding is total: a payload that is not UTF-8, not JSON, of another version or kind,
or of the wrong shape is ``None`` - a miss - never an exception. A pickle stored under mp's prefix
by something else is therefore ignored, not executed.

Batches are decoded with one ``json.loads`` over the joined payloads (a third of the cost of one
call per value); if that fails, each payload is decoded on its own so one corrupt value costs
only its own entry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from mp_cache.exceptions import CodecError

__all__ = [
    "FORMAT_VERSION",
    "LatestValue",
    "decode_as_of",
    "decode_latest_many",
    "decode_value",
    "decode_values",
    "encode_as_of",
    "encode_latest",
    "encode_value",
    "knowledge_text",
]

#: Version of the envelope format; any other version reads as a miss.
FORMAT_VERSION: Final = 1

_VALUE: Final = "value"
_LATEST: Final = "latest"
_ASOF: Final = "asof"
_MAGIC_VALUE: Final = b'[1,"value",'
_MAGIC_LATEST: Final = b'[1,"latest",'
_MAGIC_ASOF: Final = b'[1,"asof",'
# len("2024-03-01T12:30:00.000000+00:00"): only this exact form sorts like time.
_KNOWLEDGE_WIDTH: Final = 32

_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode
_loads = json.loads


class LatestValue(NamedTuple):
    """A series' latest value and the knowledge_time it is valid from.

    Attributes:
        data: the value (any JSON value: a number, or a dict with obs_time, value, revision...).
        knowledge_time: when this value became public; a read as of an earlier time never
            returns it.
    """

    data: Any
    knowledge_time: datetime


def knowledge_text(moment: datetime) -> str:
    """A knowledge_time as fixed-width ISO 8601 UTC text; such texts sort like the times.

    Raises:
        CodecError: ``moment`` is naive.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CodecError("knowledge_time must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _encode(envelope: list[Any]) -> bytes:
    try:
        return _dumps(envelope).encode()
    except (TypeError, ValueError) as error:
        raise CodecError(f"{type(error).__name__}: {error}") from error


def encode_value(data: Any) -> bytes:
    """A plain value's envelope. Raises :class:`CodecError` when ``data`` is not JSON."""
    return _encode([FORMAT_VERSION, _VALUE, data])


def encode_latest(value: LatestValue) -> bytes:
    """A latest value's envelope. Raises :class:`CodecError` when it cannot be stored."""
    if not isinstance(value, LatestValue):
        raise CodecError(f"a latest value must be a LatestValue, not {type(value).__name__}")
    return _encode([FORMAT_VERSION, _LATEST, knowledge_text(value.knowledge_time), value.data])


def encode_as_of(generation: str, data: Any) -> bytes:
    """An as-of answer's envelope, stamped with the generation it was loaded under."""
    return _encode([FORMAT_VERSION, _ASOF, generation, data])


def _load(raw: bytes) -> Any:
    try:
        return _loads(raw)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        return None


def decode_value(raw: bytes | None) -> tuple[bool, Any]:
    """``(True, data)`` for a valid plain-value envelope, else ``(False, None)``."""
    if raw is None or not raw.startswith(_MAGIC_VALUE):
        return False, None
    envelope = _load(raw)
    if type(envelope) is list and len(envelope) == 3:
        return True, envelope[2]
    return False, None


def _decode_batch(raws: Sequence[bytes | None], magic: bytes) -> list[Any]:
    """Parse the payloads that start with ``magic`` in one ``json.loads``; aligned with
    ``raws``, ``None`` where a payload is missing, foreign or corrupt."""
    present = [raw for raw in raws if raw is not None and raw.startswith(magic)]
    if not present:
        return [None] * len(raws)
    try:
        envelopes: list[Any] = _loads(b"[" + b",".join(present) + b"]")
        # A crafted value such as "[...],[...]" would shift the rest: count, else one by one.
        if type(envelopes) is not list or len(envelopes) != len(present):
            envelopes = [_load(raw) for raw in present]
    except ValueError:
        envelopes = [_load(raw) for raw in present]
    if len(present) == len(raws):
        return envelopes
    parsed = iter(envelopes)
    return [next(parsed) if raw is not None and raw.startswith(magic) else None for raw in raws]


def decode_values(raws: Sequence[bytes | None]) -> list[tuple[bool, Any]]:
    """:func:`decode_value` for a batch, with one JSON parse for all of it."""
    return [
        (True, envelope[2]) if type(envelope) is list and len(envelope) == 3 else (False, None)
        for envelope in _decode_batch(raws, _MAGIC_VALUE)
    ]


def decode_as_of(raw: bytes | None, generation: bytes | None) -> tuple[bool, Any]:
    """``(True, data)`` when ``raw`` is an as-of envelope of the current ``generation``."""
    if raw is None or generation is None or not raw.startswith(_MAGIC_ASOF):
        return False, None
    envelope = _load(raw)
    if (
        type(envelope) is list
        and len(envelope) == 4
        and type(envelope[2]) is str
        and envelope[2].encode() == generation
    ):
        return True, envelope[3]
    return False, None


_tuple_new = tuple.__new__


def decode_latest_many(
    raws: Sequence[bytes | None], *, not_after: str | None = None
) -> list[LatestValue | None]:
    """Decode latest-value envelopes; ``None`` for misses, foreign and corrupt payloads.

    Args:
        raws: payloads from MGET, ``None`` where the key was missing.
        not_after: :func:`knowledge_text` of an as-of time; entries known only after it are
            misses, so a read as of T never sees a value that became public after T.
    """
    envelopes = _decode_batch(raws, _MAGIC_LATEST)
    # Series released together share a knowledge_time: parse each distinct text once.
    times: dict[str, datetime] = {}
    decoded: list[LatestValue | None] = []
    append = decoded.append
    for envelope in envelopes:
        if type(envelope) is not list or len(envelope) != 4 or envelope[1] != _LATEST:
            append(None)
            continue
        knowledge = envelope[2]
        # Only the fixed-width UTC form sorts like the instants it names.
        if (
            type(knowledge) is not str
            or len(knowledge) != _KNOWLEDGE_WIDTH
            or (not_after is not None and knowledge > not_after)
        ):
            append(None)
            continue
        moment = times.get(knowledge)
        if moment is None:
            try:
                moment = times[knowledge] = datetime.fromisoformat(knowledge)
            except ValueError:
                append(None)
                continue
        # tuple.__new__ skips NamedTuple's Python-level __new__ (a third of the decode time).
        append(_tuple_new(LatestValue, (envelope[3], moment)))
    return decoded
