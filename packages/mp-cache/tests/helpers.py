"""Helpers shared by the tests: loaders that stand for the source of truth, server settings."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from mp_cache import LatestValue, SeriesId
from mp_config import RedisSettings
from mp_stack.native import RedisServer, port_is_open

T = TypeVar("T")

#: The knowledge_time of every answer the test loaders give.
KNOWN_AT = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine on a fresh event loop (the tests need no asyncio plugin)."""
    return asyncio.run(coroutine)


def truth(series: SeriesId, version: int = 1) -> LatestValue:
    """What the source of truth says about ``series`` (``version`` changes after an ingest)."""
    return LatestValue({"series": str(series), "value": version * 1.5}, KNOWN_AT)


class CountingLoader:
    """A latest-value loader for many series at once that records every call."""

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.calls: list[tuple[list[SeriesId], datetime | None]] = []

    def __call__(
        self, missing: list[SeriesId], as_of: datetime | None
    ) -> dict[SeriesId, LatestValue]:
        self.calls.append((list(missing), as_of))
        return {item: truth(item, self.version) for item in missing}

    async def load_async(
        self, missing: list[SeriesId], as_of: datetime | None
    ) -> dict[SeriesId, LatestValue]:
        """The same, as a coroutine for the async cache."""
        return self(missing, as_of)

    def one(self, series: SeriesId, as_of: datetime | None) -> LatestValue | None:
        """A single-series loader."""
        return self([series], as_of).get(series)

    @property
    def loaded(self) -> list[SeriesId]:
        """Every series the loader was asked for, in order."""
        return [item for missing, _ in self.calls for item in missing]


def private_prefix() -> str:
    """A key prefix no other test uses."""
    return f"mp-test:{secrets.token_hex(4)}:"


def settings_for(server: RedisServer, **overrides: Any) -> RedisSettings:
    """Settings for a throwaway server: short timeouts, no retries, a quick breaker."""
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "password": server.password,
        "socket_timeout": 0.25,
        "socket_connect_timeout": 0.25,
        "retry_attempts": 0,
        "breaker_failure_threshold": 2,
        "breaker_reset_seconds": 0.2,
        "key_prefix": private_prefix(),
        "health_check_interval": 0,
    }
    values.update(overrides)
    return RedisSettings.load(env_file=None, **values)


def eventually(check: Callable[[], bool], *, seconds: float = 5.0) -> bool:
    """Poll ``check`` until it holds (a server coming back); its last answer otherwise."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def shut_down(server: RedisServer) -> None:
    """SHUTDOWN NOSAVE and wait until the port is closed (not for the pid, see conftest)."""
    server.command("SHUTDOWN", "NOSAVE")
    assert eventually(lambda: not port_is_open(server.host, server.port))
