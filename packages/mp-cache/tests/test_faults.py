"""Redis faults on the read path: every answer equals the loader's, and nothing escapes.

Each test breaks a redis-server of its own (``fault_server``): connections killed, the server
stopped or stalled, its data flushed, its memory full, its user's rights taken away, a command
cancelled half-way. The loader stands for the database: whatever Redis does, the cache must
answer what the loader would.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import pytest
import redis
import redis.asyncio
from helpers import CountingLoader, eventually, run, settings_for, shut_down, truth

from mp_cache import (
    AsyncCache,
    BreakerState,
    Cache,
    LatestValue,
    SeriesId,
    SyncClient,
    acl_rules,
    create_client,
    create_client_async,
)
from mp_config import RedisSettings
from mp_stack.native import RedisServer

SERIES: list[SeriesId] = ["CPI", "GDP", 42]
T1 = datetime.fromisoformat("2024-01-15T00:00:00+00:00")
EXPECTED = {item: truth(item) for item in SERIES}

pytestmark = pytest.mark.scenario("faults_survived")


def make_cache(settings: RedisSettings) -> Cache:
    client = create_client(settings)
    return Cache(client, settings, namespace="facts")


@contextlib.contextmanager
def stalled(server: RedisServer, seconds: float) -> Iterator[None]:
    """Keep the server busy in DEBUG SLEEP (it answers nobody) for ``seconds``."""
    sleeper = threading.Thread(
        target=server.command, args=("DEBUG", "SLEEP", str(seconds)), kwargs={"timeout": 10}
    )
    sleeper.start()
    time.sleep(0.05)  # let DEBUG SLEEP start before the test's reads
    try:
        yield
    finally:
        sleeper.join()


def test_killed_client_connections_change_no_answer(
    fault_server: RedisServer, fault_settings: RedisSettings
) -> None:
    """CLIENT KILL of every pooled connection: the pool notices at checkout and reconnects,
    so answers are the loader's values, still served from Redis."""
    cache = make_cache(fault_settings)
    loader = CountingLoader()
    assert cache.latest_many(SERIES, loader) == EXPECTED
    killed = fault_server.command("CLIENT", "KILL", "TYPE", "normal")
    assert isinstance(killed, int)
    assert killed >= 1
    assert cache.latest_many(SERIES, loader) == EXPECTED
    assert len(loader.calls) == 1


def test_killed_client_connections_change_no_async_answer(
    fault_server: RedisServer, fault_settings: RedisSettings
) -> None:
    """The asyncio pool may only notice on use: then the loader answers; never an error."""

    async def scenario() -> list[dict[SeriesId, LatestValue]]:
        client = create_client_async(fault_settings)
        cache = AsyncCache(client, fault_settings, namespace="facts")
        loader = CountingLoader()
        try:
            results = [await cache.latest_many(SERIES, loader.load_async)]
            fault_server.command("CLIENT", "KILL", "TYPE", "normal")
            results += [await cache.latest_many(SERIES, loader.load_async) for _ in range(3)]
            assert len(loader.calls) <= 2
            return results
        finally:
            await client.aclose()

    assert run(scenario()) == [EXPECTED] * 4


def test_a_stopped_server_falls_through_and_opens_the_breaker(
    fault_server: RedisServer, fault_settings: RedisSettings
) -> None:
    """Server gone: answers come from the loader, the breaker opens, and closes on return."""
    cache = make_cache(fault_settings)
    loader = CountingLoader()
    cache.latest_many(SERIES, loader)
    shut_down(fault_server)
    for _ in range(4):
        assert cache.latest_many(SERIES, loader) == EXPECTED
        assert cache.as_of("CPI", T1, lambda: "from the loader") == "from the loader"
        assert cache.get("plain", default="miss") == "miss"
    assert cache.breaker.state is BreakerState.OPEN
    fault_server.start()

    def back_in_use() -> bool:
        assert cache.latest_many(SERIES, loader) == EXPECTED
        return cache.breaker.state is BreakerState.CLOSED

    assert eventually(back_in_use)
    calls = len(loader.calls)
    assert cache.latest_many(SERIES, loader) == EXPECTED
    assert len(loader.calls) == calls


def test_a_stopped_server_falls_through_for_the_async_cache(
    fault_server: RedisServer, fault_settings: RedisSettings
) -> None:
    """The asyncio twin: the same answers with the server gone."""

    async def scenario() -> list[dict[SeriesId, LatestValue]]:
        client = create_client_async(fault_settings)
        cache = AsyncCache(client, fault_settings, namespace="facts")
        loader = CountingLoader()
        results = [await cache.latest_many(SERIES, loader.load_async)]
        shut_down(fault_server)
        results += [await cache.latest_many(SERIES, loader.load_async) for _ in range(3)]
        assert cache.breaker.state is BreakerState.OPEN
        with contextlib.suppress(redis.RedisError):
            await client.aclose()
        return results

    assert run(scenario()) == [EXPECTED] * 4


def test_a_stalled_server_costs_a_bounded_delay_and_mixes_no_replies(
    fault_server: RedisServer,
) -> None:
    """DEBUG SLEEP past the socket timeout: loader answers; afterwards each key gets its own
    reply, never the late reply of the command that timed out."""
    settings = settings_for(fault_server, max_connections=1)
    cache = make_cache(settings)
    loader = CountingLoader()
    cache.latest_many(SERIES, loader)
    raw = create_client(settings)
    raw.set("first", b"one")
    raw.set("second", b"two")
    with stalled(fault_server, 1.0):
        with pytest.raises(redis.TimeoutError):
            raw.get("first")
        for _ in range(3):
            assert cache.latest_many(SERIES, loader) == EXPECTED
        assert cache.breaker.state is BreakerState.OPEN
    assert raw.get("second") == b"two"
    assert cache.max_redis_delay < 5 * (settings.socket_timeout + settings.socket_connect_timeout)
    assert eventually(lambda: cache.latest_many(["GDP"], loader) == {"GDP": truth("GDP")})


def test_a_flushed_server_falls_through_and_is_refilled(
    fault_server: RedisServer, fault_settings: RedisSettings
) -> None:
    """FLUSHALL empties latest values and generations alike: all answers are reloaded."""
    cache = make_cache(fault_settings)
    loader = CountingLoader()
    cache.latest_many(SERIES, loader)
    cache.as_of("CPI", T1, lambda: "first load")
    fault_server.command("FLUSHALL")
    assert cache.latest_many(SERIES, loader) == EXPECTED
    assert cache.as_of("CPI", T1, lambda: "second load") == "second load"
    assert loader.loaded == SERIES * 2
    assert cache.latest_many(SERIES, loader) == EXPECTED
    assert loader.loaded == SERIES * 2


def _fill(client: SyncClient) -> None:
    """Write 1 KiB values until Redis refuses, then pin maxmemory well below what is used.

    Refusal alone is not a steady state: Redis shrinks an idle client's query buffer a second
    or two later (the filler's pipelines grew it), which can bring memory back under the limit,
    so on a slow machine a later write would fit. A limit 512 KiB under the memory in use keeps
    the server full whatever buffers it frees afterwards."""
    for batch in range(100):
        pipe = client.pipeline(transaction=False)
        for index in range(100):
            pipe.set(f"filler:{batch}:{index}", b"x" * 1024)
        replies = pipe.execute(raise_on_error=False)
        if any(isinstance(reply, redis.exceptions.OutOfMemoryError) for reply in replies):
            used = int(client.info("memory")["used_memory"])
            client.config_set("maxmemory", max(used - 512 * 1024, 1024 * 1024))
            return
    pytest.fail("maxmemory was never reached")


def test_a_full_server_keeps_serving_reads_while_refusing_writes(
    small_server: RedisServer,
) -> None:
    """maxmemory reached with noeviction: cached entries still hit, new ones come from the
    loader each time, and the breaker stays closed (OOM is not an outage)."""
    settings = settings_for(small_server)
    cache = make_cache(settings)
    loader = CountingLoader()
    cache.latest_many(SERIES, loader)
    _fill(create_client(settings))
    assert cache.latest_many(SERIES, loader) == EXPECTED
    assert len(loader.calls) == 1
    new = ["NEW1", "NEW2"]
    for _ in range(2):
        assert cache.latest_many(new, loader) == {item: truth(item) for item in new}
    assert loader.loaded == [*SERIES, *new, *new]
    assert cache.set("plain", 1) is False
    assert cache.read_through("plain", lambda: "loaded") == "loaded"
    assert cache.breaker.state is BreakerState.CLOSED


def _confined_user(server: RedisServer) -> RedisSettings:
    """Settings for a new ACL user confined to its prefix by acl_rules()."""
    settings = settings_for(server, username="mp-reader", password="reader-secret")
    rules = acl_rules(settings.key_prefix)
    server.command("ACL", "SETUSER", "mp-reader", "on", ">reader-secret", *rules)
    return settings


def test_revoked_permissions_fall_through_to_the_loader(
    fault_server: RedisServer, fault_settings: RedisSettings
) -> None:
    """The user's rights are taken away mid-session (NOPERM on live connections)."""
    user = _confined_user(fault_server)
    cache = make_cache(user)
    loader = CountingLoader()
    assert cache.latest_many(SERIES, loader) == EXPECTED
    fault_server.command("ACL", "SETUSER", "mp-reader", "resetkeys", "-@all")
    for _ in range(3):
        assert cache.latest_many(SERIES, loader) == EXPECTED
    assert len(loader.calls) == 4


def test_a_changed_password_falls_through_to_the_loader(
    fault_server: RedisServer, fault_settings: RedisSettings
) -> None:
    """The password is rotated and connections dropped: re-authentication fails, reads work."""
    user = _confined_user(fault_server)
    cache = make_cache(user)
    loader = CountingLoader()
    cache.latest_many(SERIES, loader)
    fault_server.command("ACL", "SETUSER", "mp-reader", "resetpass", ">rotated")
    fault_server.command("CLIENT", "KILL", "USER", "mp-reader")
    for _ in range(3):
        assert cache.latest_many(SERIES, loader) == EXPECTED
    assert len(loader.calls) == 4


def test_a_cancelled_blocking_command_does_not_hand_its_reply_to_the_next(
    fault_server: RedisServer,
) -> None:
    """CVE-2023-28858/28859: cancel a BLPOP, push its value, then GET on the same pool of one
    connection: the GET reads its own value, not the BLPOP's late reply."""
    settings = settings_for(fault_server, max_connections=1, socket_timeout=5)

    async def scenario() -> object:
        client = create_client_async(settings)
        assert isinstance(client, redis.asyncio.Redis)
        try:
            await client.set("mine", b"my own value")
            waiter = asyncio.ensure_future(client.blpop(["queue"], timeout=3))
            await asyncio.sleep(0.1)
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
            fault_server.command("RPUSH", "queue", "late reply")
            return await client.get("mine")
        finally:
            await client.aclose()

    assert run(scenario()) == b"my own value"


def test_a_cancelled_cache_read_does_not_hand_its_reply_to_the_next(
    fault_server: RedisServer,
) -> None:
    """A latest_many task cancelled while Redis stalls; the next read for other series returns
    their own values (a mix-up would return the cancelled read's series)."""
    settings = settings_for(fault_server, max_connections=1, socket_timeout=5)

    async def scenario() -> dict[SeriesId, LatestValue]:
        client = create_client_async(settings)
        cache = AsyncCache(client, settings, namespace="facts")
        loader = CountingLoader()
        try:
            await cache.latest_many(SERIES, loader.load_async)
            with stalled(fault_server, 0.4):
                reader = asyncio.create_task(cache.latest_many(["CPI"], loader.load_async))
                await asyncio.sleep(0.1)
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            result = await cache.latest_many(["GDP", 42], loader.load_async)
            assert len(loader.calls) == 1
            return result
        finally:
            await client.aclose()

    assert run(scenario()) == {"GDP": truth("GDP"), 42: truth(42)}
