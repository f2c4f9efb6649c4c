"""The requests mp-cache's logic makes, as plain data: its sync and async halves share them.

Every operation of the cache, rate limiter and lock is written once, as a generator that yields
these requests and receives their results (or has the driver's exception thrown into it). The
drivers in :mod:`mp_cache._driver` carry them out on a sync or an asyncio client; they are the
only code written twice, and they are short. This is the "sans-I/O" shape: the logic can be
read, and tested, without a socket.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeAlias, TypeVar

__all__ = [
    "Call",
    "Command",
    "Eval",
    "LuaScript",
    "Mget",
    "Op",
    "Pipeline",
    "Sleep",
    "Steps",
]

T = TypeVar("T")


@dataclass(frozen=True)
class LuaScript:
    """A Lua script run with EVALSHA, falling back to EVAL when the server lacks it (NOSCRIPT).

    Attributes:
        name: for messages.
        source: the Lua text. Every key it touches must be passed in KEYS and share one hash
            slot, so the script runs unchanged on Redis Cluster.
    """

    name: str
    source: str

    @cached_property
    def sha(self) -> str:
        """SHA-1 of the source, as Redis names cached scripts."""
        return hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class Mget:
    """MGET of keys that may span slots (a cluster client splits it per slot)."""

    keys: Sequence[str]


@dataclass(frozen=True, slots=True)
class Command:
    """One single-key Redis command, e.g. ``("SET", key, value, "PX", 1000)``."""

    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Eval:
    """One run of a :class:`LuaScript`."""

    script: LuaScript
    keys: tuple[str, ...]
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Pipeline:
    """Commands sent together without a transaction; results come back in order, and a
    command's own error (OOM, NOSCRIPT) comes back in its place as an exception object."""

    ops: Sequence[Command | Eval]


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait (``time.sleep`` or ``asyncio.sleep``)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Call:
    """Call the user's loader; the async driver awaits what it returns."""

    function: Callable[..., Any]
    args: tuple[Any, ...] = field(default=())


Op: TypeAlias = Mget | Command | Eval | Pipeline | Sleep | Call
#: A piece of mp-cache logic: yields requests, receives results, returns its answer.
Steps: TypeAlias = Generator[Op, Any, T]
