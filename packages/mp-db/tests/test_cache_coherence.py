"""Cache coherence against real Redis and TimescaleDB: ingest invalidates by construction, and
CachedReader bounds staleness when an invalidation never arrives.

* After a plain ``Database.ingest`` / ``AsyncDatabase.ingest`` (the cache enabled in the
  settings, nothing else called), no cached read returns pre-commit data.
* An ingest inside the caller's transaction, a plain SQL writer, and an ingest whose Redis was
  frozen (SIGSTOP) while it tried to invalidate: stale answers stop after at most
  ``max_staleness_seconds`` (measured; the figures are printed with ``-s``).
* Cached answers equal the Reader's for every covered read, cold and warm, on tables with and
  without entities, with and without a replay cutoff.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import SeriesMaker, days, enable_cache, macro, utc
from sqlalchemy import Engine, text

from mp_cache import AsyncCache, Cache, create_client, create_client_async
from mp_config import PostgresSettings, RedisSettings
from mp_db import (
    AsyncCachedReader,
    AsyncDatabase,
    AsyncReader,
    BadInputError,
    CachedReader,
    ConfigurationError,
    Database,
    Reader,
    ingest,
)
from mp_stack.native import RedisServer, free_port
from mp_testing.faults import TcpProxy

NAMESPACE = "facts"
D1, D2, D3 = utc(2024, 1, 1), utc(2024, 1, 2), utc(2024, 1, 3)
OBS = utc(2023, 12, 1)


def cache_env(monkeypatch: pytest.MonkeyPatch, settings: RedisSettings, *, enabled: bool) -> None:
    """Point ``RedisSettings.load()`` (what ingest reads) at ``settings``, cache on or off."""
    update = {"cache_enabled": enabled, "cache_namespace": NAMESPACE}
    enable_cache(monkeypatch, settings.model_copy(update=update))


class Side:
    """One driver's ingest and cached reads; the async side keeps one event loop for its life,
    so its reader's knowledge of mp.ingest_log persists between calls as the sync one's does."""

    def __init__(
        self,
        name: str,
        pg: PostgresSettings,
        redis_settings: RedisSettings,
        *,
        max_staleness_seconds: float,
    ) -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        if name == "sync":
            self.database: Any = Database(pg)
            self.client: Any = create_client(redis_settings)
            self.plain: Any = Reader(self.database.engine)
            self.cached: Any = CachedReader(
                self.plain,
                Cache(self.client, redis_settings, namespace=NAMESPACE),
                max_staleness_seconds=max_staleness_seconds,
            )
        else:
            self.database = AsyncDatabase(pg)

            async def build() -> None:
                self.client = create_client_async(redis_settings)
                self.plain = AsyncReader(self.database.engine)
                self.cached = AsyncCachedReader(
                    self.plain,
                    AsyncCache(self.client, redis_settings, namespace=NAMESPACE),
                    max_staleness_seconds=max_staleness_seconds,
                )

            self.loop.run_until_complete(build())

    def _do(self, value: Any) -> Any:
        return self.loop.run_until_complete(value) if self.name == "async" else value

    def ingest(self, table: str, rows: Any) -> Any:
        return self._do(self.database.ingest(table, rows))

    def read(self, method: str, *args: Any, **options: Any) -> Any:
        return self._do(getattr(self.cached, method)(*args, **options))

    def truth(self, method: str, *args: Any, **options: Any) -> Any:
        return self._do(getattr(self.plain, method)(*args, **options))

    def close(self) -> None:
        if self.name == "sync":
            self.client.close()
            self.database.close()
        else:

            async def close() -> None:
                await self.client.aclose()
                await self.database.close()

            self.loop.run_until_complete(close())
        self.loop.close()


@pytest.fixture
def redis_settings(mp_redis: RedisSettings, monkeypatch: pytest.MonkeyPatch) -> RedisSettings:
    """The session's Redis under this test's prefix, with the cache enabled for ingest."""
    cache_env(monkeypatch, mp_redis, enabled=True)
    return mp_redis


def make_side(
    request: pytest.FixtureRequest,
    pg: PostgresSettings,
    settings: RedisSettings,
    name: str | None = None,
    **options: Any,
) -> Side:
    side = Side(name or str(request.param), pg, settings, **options)
    request.addfinalizer(side.close)
    return side


@pytest.fixture(params=["sync", "async"])
def side(
    request: pytest.FixtureRequest, mp_pg_settings: PostgresSettings, redis_settings: RedisSettings
) -> Side:
    """Both drivers; the log check is made rare (1 hour), so only ingest's invalidation
    can keep the cache coherent."""
    return make_side(request, mp_pg_settings, redis_settings, max_staleness_seconds=3600)


def value_of(rows: list[Any]) -> list[float]:
    return [row.value for row in rows]


# --- A: a plain ingest invalidates, nothing else called ----------------------------------------


def test_a_plain_ingest_makes_every_cached_read_fresh(side: Side, make_series: SeriesMaker) -> None:
    series = make_series()
    side.ingest("macro_observations", [macro(series, OBS, D1, 1.0)])
    reads: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("latest", ("macro_observations", series), {"as_of": D3}),
        ("latest", ("macro_observations", series), {"as_of": utc(2100)}),
        ("as_of", ("macro_observations", series), {"as_of": D3}),
        ("first_release", ("macro_observations", series), {}),
        ("backtest", ("macro_observations", series, [D1, D3]), {}),
    ]
    before = [side.read(method, *args, **options) for method, args, options in reads]
    assert value_of(before[0]) == [1.0]
    # Warm: the same answers again, from the cache.
    assert [side.read(method, *args, **options) for method, args, options in reads] == before

    side.ingest("macro_observations", [macro(series, OBS, D2, 2.0)])
    after = [side.read(method, *args, **options) for method, args, options in reads]
    assert value_of(after[0]) == [2.0]
    assert value_of(after[1]) == [2.0]
    assert value_of(after[2]) == [2.0]
    assert [value.row.value for value in after[4]] == [1.0, 2.0]
    assert after == [side.truth(method, *args, **options) for method, args, options in reads]


def test_a_ingest_without_mp_cache_settings_leaves_the_cache_alone(
    mp_redis: RedisSettings, monkeypatch: pytest.MonkeyPatch, engine: Engine, make_series: Any
) -> None:
    # Cache off: ingest never talks to Redis, so a frozen generation stays as it was.
    cache_env(monkeypatch, mp_redis, enabled=False)
    client = create_client(mp_redis)
    try:
        cache = Cache(client, mp_redis, namespace=NAMESPACE)
        series = make_series()
        cache.latest_many([series], lambda missing, as_of: {})
        generation = client.get(cache.keys.generation(series))
        ingest(engine, "macro_observations", [macro(series, OBS, D1, 1.0)])
        assert client.get(cache.keys.generation(series)) == generation
        cache_env(monkeypatch, mp_redis, enabled=True)
        ingest(engine, "macro_observations", [macro(series, OBS, D2, 2.0)])
        assert client.get(cache.keys.generation(series)) != generation
    finally:
        client.close()


def test_a_cache_enabled_without_mp_cache_is_a_configuration_error(
    redis_settings: RedisSettings,
    monkeypatch: pytest.MonkeyPatch,
    engine: Engine,
    make_series: SeriesMaker,
) -> None:
    import sys

    series = make_series()
    monkeypatch.setitem(sys.modules, "mp_cache", None)  # as if mp-db[cache] was not installed
    with pytest.raises(ConfigurationError, match=r"mp-db\[cache\]"):
        ingest(engine, "macro_observations", [macro(series, OBS, D1, 1.0)])
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT count(*) FROM mp.macro_observations WHERE series_id = :s"), {"s": series}
        ).scalar_one()
    assert stored == 0


# --- equality with the Reader -------------------------------------------------------------------


def _curve(series: int, obs: datetime, known: datetime, shift: float) -> list[dict[str, Any]]:
    return [
        {"series_id": series, "obs_time": obs, "knowledge_time": known, "tenor": tenor, "value": v}
        for tenor, v in (("1Y", 1.0 + shift), ("2Y", 2.0 + shift), ("10Y", 3.5 + shift))
    ]


def test_cached_answers_equal_the_readers(side: Side, make_series: SeriesMaker) -> None:
    macros = [make_series(), make_series()]
    curve = make_series("curve", frequency="daily")
    empty = make_series()
    side.ingest(
        "macro_observations",
        [
            macro(macros[0], OBS, D1, 1.0),
            macro(macros[0], OBS, D2, 1.5),
            macro(macros[0], OBS + days(31), D3, 0.25),
            macro(macros[1], OBS, D2, -4.0),
        ],
    )
    side.ingest("curve_points", _curve(curve, OBS, D1, 0.0) + _curve(curve, OBS, D3, 0.125))
    cutoff = side.truth("cutoff")
    side.ingest("macro_observations", [macro(macros[1], OBS, D3, -5.0)])
    moments = [D1 - days(1), D1, D1 + days(0.5), D2, D3, utc(2100)]
    checked = 0
    for table, ids in (
        ("macro_observations", [*macros, empty]),
        ("macro_observations", macros[0]),
        ("curve_points", curve),
        ("curve_points", [curve, macros[0]]),  # a series of another kind: absent
    ):
        for replay in (None, cutoff):
            reads: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
                ("backtest", (table, ids, [D3, D1, D1, D2 + days(0.5)]), {}),
                ("first_release", (table, ids), {"as_of": D2}),
                ("first_release", (table, ids), {"start": OBS, "end": OBS + days(1)}),
            ]
            for moment in moments:
                reads += [
                    ("latest", (table, ids), {"as_of": moment}),
                    ("as_of", (table, ids), {"as_of": moment}),
                    ("as_of", (table, ids), {"as_of": moment, "start": OBS + days(1)}),
                ]
            for method, args, given in reads:
                options = {**given, "ingested_before": replay}
                expected = side.truth(method, *args, **options)
                assert side.read(method, *args, **options) == expected, (method, args, options)
                assert side.read(method, *args, **options) == expected, ("warm", method, args)
                checked += 1
    assert checked == 4 * 2 * (3 + 3 * len(moments))


def test_bad_arguments_fail_as_the_readers_do(side: Side, make_series: SeriesMaker) -> None:
    series = make_series()
    for method, args, options in (
        ("latest", ("macro_observations", series), {"as_of": datetime(2024, 1, 1)}),
        ("as_of", ("macro_observations", []), {"as_of": D1}),
        ("as_of", ("macro_observations", series), {"as_of": D1, "start": D2, "end": D1}),
        ("backtest", ("macro_observations", series, ["2024-01-01"]), {}),
    ):
        with pytest.raises(BadInputError) as expected:
            side.truth(method, *args, **options)
        with pytest.raises(type(expected.value)) as got:
            side.read(method, *args, **options)
        assert str(got.value) == str(expected.value)


# --- B: invalidations that never arrive; the window is bounded and measured --------------------

WINDOW_SECONDS = 2.0
#: Room for one read and one log query on a loaded 2-core machine.
SLACK_SECONDS = 1.0


def _window(side: Side, series: int, expected: float) -> tuple[bool, float]:
    """Poll ``latest`` until it answers ``expected``; (stale right after the write, seconds)."""
    started = time.monotonic()
    stale_first = value_of(side.read("latest", "macro_observations", series, as_of=D3)) != [
        expected
    ]
    while value_of(side.read("latest", "macro_observations", series, as_of=D3)) != [expected]:
        assert time.monotonic() - started < WINDOW_SECONDS + SLACK_SECONDS, "staleness unbounded"
        time.sleep(0.01)
    return stale_first, time.monotonic() - started


@pytest.fixture(params=["sync", "async"])
def bounded(
    request: pytest.FixtureRequest, mp_pg_settings: PostgresSettings, redis_settings: RedisSettings
) -> Side:
    return make_side(request, mp_pg_settings, redis_settings, max_staleness_seconds=WINDOW_SECONDS)


def _prime(side: Side, series: int) -> None:
    side.ingest("macro_observations", [macro(series, OBS, D1, 1.0)])
    assert value_of(side.read("latest", "macro_observations", series, as_of=D3)) == [1.0]
    time.sleep(WINDOW_SECONDS)  # the next read checks the log, then none for WINDOW_SECONDS
    assert value_of(side.read("latest", "macro_observations", series, as_of=D3)) == [1.0]


def test_b_ingest_in_the_callers_transaction_is_fresh_within_the_window(
    bounded: Side, engine: Engine, make_series: SeriesMaker
) -> None:
    series = make_series()
    _prime(bounded, series)
    with engine.begin() as connection:  # the caller commits: ingest cannot invalidate
        ingest(connection, "macro_observations", [macro(series, OBS, D2, 2.0)])
    stale_first, seconds = _window(bounded, series, 2.0)
    print(f"\n[{bounded.name}] joined transaction: fresh after {seconds:.3f} s")
    assert stale_first  # A did not run: the window is B's
    assert seconds <= WINDOW_SECONDS + SLACK_SECONDS


def test_b_a_plain_sql_writer_is_fresh_within_the_window(
    bounded: Side, engine: Engine, make_series: SeriesMaker
) -> None:
    series = make_series()
    _prime(bounded, series)
    with engine.begin() as connection:  # a writer outside mp: no series in mp.ingest_log
        connection.execute(
            text(
                "INSERT INTO mp.macro_observations (series_id, obs_time, knowledge_time,"
                " knowledge_time_source, value) VALUES (:s, :o, :k, 'vendor', 2.0)"
            ),
            {"s": series, "o": OBS, "k": D2},
        )
    stale_first, seconds = _window(bounded, series, 2.0)
    print(f"\n[{bounded.name}] plain SQL writer: fresh after {seconds:.3f} s")
    assert stale_first
    assert seconds <= WINDOW_SECONDS + SLACK_SECONDS


def test_b_max_staleness_zero_is_never_stale(
    request: pytest.FixtureRequest,
    mp_pg_settings: PostgresSettings,
    redis_settings: RedisSettings,
    engine: Engine,
    make_series: SeriesMaker,
) -> None:
    for name in ("sync", "async"):
        series = make_series()
        side = make_side(request, mp_pg_settings, redis_settings, name, max_staleness_seconds=0)
        side.ingest("macro_observations", [macro(series, OBS, D1, 1.0)])
        assert value_of(side.read("latest", "macro_observations", series, as_of=D3)) == [1.0]
        with engine.begin() as connection:
            ingest(connection, "macro_observations", [macro(series, OBS, D2, 2.0)])
        assert value_of(side.read("latest", "macro_observations", series, as_of=D3)) == [2.0]
        assert value_of(side.read("as_of", "macro_observations", series, as_of=D3)) == [2.0]
        with engine.begin() as connection:
            ingest(connection, "macro_observations", [macro(series, OBS, D3, 1.0)])
        assert value_of(side.read("latest", "macro_observations", series, as_of=D3)) == [1.0]


# --- B with Redis itself failing ------------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it freezes or stops."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    root = tmp_path / "redis"
    server = RedisServer(root, free_port(), password=secrets.token_urlsafe(12))
    server.start()
    try:
        yield server
    finally:
        pid = server.pid()
        if pid is not None:
            os.kill(pid, signal.SIGCONT)
        server.kill()
        shutil.rmtree(root, ignore_errors=True)


def _own_settings(server: RedisServer) -> RedisSettings:
    return RedisSettings.load(
        env_file=None,
        host=server.host,
        port=server.port,
        password=server.password,
        socket_timeout=0.25,
        socket_connect_timeout=0.25,
        retry_attempts=0,
        breaker_failure_threshold=2,
        breaker_reset_seconds=0.2,
        health_check_interval=0,
        key_prefix=f"mp-test:{secrets.token_hex(4)}:",
    )


@pytest.fixture
def proxy(own_redis: RedisServer) -> Iterator[TcpProxy]:
    """A TCP proxy in front of the test's redis-server: ingest's only way to reach it."""
    with TcpProxy(own_redis.host, own_redis.port) as made:
        yield made


@pytest.fixture(params=["sync", "async"])
def cut_side(
    request: pytest.FixtureRequest,
    mp_pg_settings: PostgresSettings,
    own_redis: RedisServer,
    proxy: TcpProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Side, RedisServer, TcpProxy]:
    """Readers on the redis-server directly; ingest through the proxy."""
    settings = _own_settings(own_redis)
    cache_env(monkeypatch, settings.model_copy(update={"port": proxy.port}), enabled=True)
    side = make_side(request, mp_pg_settings, settings, max_staleness_seconds=WINDOW_SECONDS)
    return side, own_redis, proxy


def _ingest_while(
    side: Side,
    series: int,
    fault: Callable[[], object],
    heal: Callable[[], object],
    caplog: pytest.LogCaptureFixture,
) -> tuple[bool, float]:
    """Prime the cache, ingest a new version while ``fault`` holds, then measure the window."""
    _prime(side, series)
    fault()
    try:
        with caplog.at_level(logging.WARNING, logger="mp_db"):
            report = side.ingest("macro_observations", [macro(series, OBS, D2, 2.0)])
    finally:
        heal()
    assert report.inserted == 1
    assert "did not reach Redis" in caplog.text
    return _window(side, series, 2.0)


def test_b_invalidation_lost_on_the_way_is_fresh_within_the_window(
    cut_side: tuple[Side, RedisServer, TcpProxy],
    make_series: SeriesMaker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    side, _server, proxy = cut_side
    # The writer's link to Redis drops everything: the invalidation is lost for good.
    stale_first, seconds = _ingest_while(side, make_series(), proxy.blackhole, proxy.heal, caplog)
    print(f"\n[{side.name}] invalidation lost: fresh after {seconds:.3f} s")
    assert stale_first  # the entry survived the commit: the window is B's
    assert seconds <= WINDOW_SECONDS + SLACK_SECONDS


def test_b_redis_frozen_during_the_ingest_is_fresh_within_the_window(
    cut_side: tuple[Side, RedisServer, TcpProxy],
    make_series: SeriesMaker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    side, server, _proxy = cut_side
    pid = server.pid()
    assert pid is not None
    # The invalidation times out; Redis may still run it when it wakes up, or not.
    stale_first, seconds = _ingest_while(
        side,
        make_series(),
        lambda: os.kill(pid, signal.SIGSTOP),
        lambda: os.kill(pid, signal.SIGCONT),
        caplog,
    )
    print(f"\n[{side.name}] Redis frozen: fresh after {seconds:.3f} s (stale first: {stale_first})")
    assert seconds <= WINDOW_SECONDS + SLACK_SECONDS


def test_b_redis_stopped_during_the_ingest_and_restarted(
    cut_side: tuple[Side, RedisServer, TcpProxy], make_series: SeriesMaker
) -> None:
    side, server, _proxy = cut_side
    series = make_series()
    _prime(side, series)
    server.stop()
    report = side.ingest("macro_observations", [macro(series, OBS, D2, 2.0)])
    assert report.inserted == 1
    # Redis down: reads fall through to the database.
    assert value_of(side.read("latest", "macro_observations", series, as_of=D3)) == [2.0]
    server.start()
    time.sleep(0.3)  # past the breaker's reset
    for _ in range(3):
        assert value_of(side.read("latest", "macro_observations", series, as_of=D3)) == [2.0]
        assert value_of(side.read("as_of", "macro_observations", series, as_of=D3)) == [2.0]


def test_b_a_new_reader_does_not_trust_entries_older_than_what_it_read_of_the_log(
    redis_settings: RedisSettings,
    engine: Engine,
    make_series: SeriesMaker,
) -> None:
    # A new reader reads the log back one TTL (plus a margin) only. An entry another reader
    # wrote before a commit older than that (a longer TTL there) must not pass for fresh.
    series = make_series()
    client = create_client(redis_settings)
    try:
        cache = Cache(client, redis_settings, namespace=NAMESPACE)
        first = CachedReader(Reader(engine), cache, max_staleness_seconds=3600)
        ingest(engine, "macro_observations", [macro(series, OBS, D1, 1.0)])
        assert value_of(first.latest("macro_observations", series, as_of=D3)) == [1.0]
        with engine.begin() as connection:  # no invalidation: the caller commits
            report = ingest(connection, "macro_observations", [macro(series, OBS, D2, 2.0)])
        with engine.begin() as connection:  # ...and, as seen from now, long ago
            connection.execute(
                text(
                    "UPDATE mp.ingest_log SET committed_at = now() - interval '30 days'"
                    " WHERE ingest_id = :ingest"
                ),
                {"ingest": report.ingest_id},
            )
        assert value_of(first.latest("macro_observations", series, as_of=D3)) == [1.0]  # stale
        second = CachedReader(Reader(engine), cache, max_staleness_seconds=3600)
        assert value_of(second.latest("macro_observations", series, as_of=D3)) == [2.0]
        assert value_of(second.as_of("macro_observations", series, as_of=D3)) == [2.0]
    finally:
        client.close()
