"""Reliability, load held: concurrent writers and readers, cancellations, big batches, streams."""

from __future__ import annotations

import asyncio
import random
import threading
import tracemalloc
from typing import Any

import pytest
from conftest import SeriesMaker, count_rows, days, macro, run, utc
from sqlalchemy import Engine, text

from mp_config import PostgresSettings
from mp_db import (
    AsyncReader,
    IngestProgress,
    MacroObservationRow,
    Reader,
    create_db_engine,
    create_db_engine_async,
    ingest,
)

pytestmark = pytest.mark.scenario("load_held")


def _rows(
    series_id: int, count: int, *, start_day: int = 0, vintage: int = 0
) -> list[dict[str, Any]]:
    base = utc(1990, 1, 1)
    return [
        macro(
            series_id,
            base + days(start_day + n),
            base + days(start_day + n + 1 + vintage),
            float(n + vintage),
        )
        for n in range(count)
    ]


@pytest.mark.reliability
def test_sustained_concurrent_ingest_loses_nothing(
    mp_pg_settings: PostgresSettings,
    make_series: SeriesMaker,
    mp_scenario_metrics: dict[str, Any],
) -> None:
    """Four writers (two sync, two async) load 120k rows into shared and own series at once:
    every row is stored exactly once and the connections stay within the pools."""
    settings = mp_pg_settings.model_copy(update={"pool_size": 2, "max_overflow": 0})
    shared = make_series(frequency="daily")
    own = [make_series(frequency="daily") for _ in range(4)]
    errors: list[BaseException] = []
    peak = [0]

    def watch_connections(stop: threading.Event) -> None:
        probe = create_db_engine(mp_pg_settings)
        try:
            while not stop.is_set():
                with probe.connect() as connection:
                    count = connection.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity"
                            " WHERE datname = current_database()"
                            " AND application_name = :name AND pid <> pg_backend_pid()"
                        ),
                        {"name": "mp-load"},
                    ).scalar_one()
                peak[0] = max(peak[0], int(count))
                stop.wait(0.05)
        finally:
            probe.dispose()

    loaded = settings.model_copy(update={"application_name": "mp-load"})

    def sync_writer(index: int) -> None:
        engine = create_db_engine(loaded)
        try:
            for part in range(3):
                ingest(
                    engine,
                    "macro",
                    _rows(own[index], 10_000, start_day=part * 10_000),
                    chunk_rows=5_000,
                )
                ingest(
                    engine, "macro", _rows(shared, 2_000, start_day=part * 2_000, vintage=index + 1)
                )
        except BaseException as error:
            errors.append(error)
        finally:
            engine.dispose()

    async def async_writer(index: int) -> None:
        engine = create_db_engine_async(loaded)
        try:
            from mp_db import ingest_async

            for part in range(3):
                await ingest_async(
                    engine,
                    "macro",
                    _rows(own[index], 10_000, start_day=part * 10_000),
                    chunk_rows=5_000,
                )
                await ingest_async(
                    engine, "macro", _rows(shared, 2_000, start_day=part * 2_000, vintage=index + 1)
                )
        finally:
            await engine.dispose()

    def async_thread(index: int) -> None:
        try:
            run(async_writer(index))
        except BaseException as error:
            errors.append(error)

    stop = threading.Event()
    watcher = threading.Thread(target=watch_connections, args=(stop,))
    watcher.start()
    threads = [
        threading.Thread(target=sync_writer, args=(0,)),
        threading.Thread(target=sync_writer, args=(1,)),
        threading.Thread(target=async_thread, args=(2,)),
        threading.Thread(target=async_thread, args=(3,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()
    assert errors == []
    engine = create_db_engine(mp_pg_settings)
    try:
        with engine.connect() as connection:
            per_series: dict[int, int] = dict(
                connection.execute(
                    text("SELECT series_id, count(*) FROM mp.macro_observations GROUP BY series_id")
                ).all()
            )
            duplicates = connection.execute(
                text(
                    "SELECT count(*) - count(DISTINCT (series_id, obs_time, knowledge_time))"
                    " FROM mp.macro_observations"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    assert [per_series[series] for series in own] == [30_000] * 4
    # Each writer's vintage of the shared series differs (value n + vintage): 4 versions each.
    assert per_series[shared] == 6_000 * 4
    assert duplicates == 0
    assert peak[0] <= 4 * 2
    mp_scenario_metrics.update(
        rows_verified=sum(per_series.values()),
        writers=4,
        peak_connections=peak[0],
        duplicate_rows=duplicates,
        lost_rows=0,
    )


@pytest.mark.reliability
def test_reads_under_concurrent_writes_never_see_the_future(
    engine: Engine, make_series: SeriesMaker, mp_scenario_metrics: dict[str, Any]
) -> None:
    """While vintages keep arriving, every as-of read returns only rows known at its T."""
    series = make_series(frequency="daily")
    ingest(engine, "macro", _rows(series, 500))
    stop = threading.Event()
    reads = [0]
    violations: list[str] = []

    def write() -> None:
        for vintage in range(1, 40):
            ingest(engine, "macro", _rows(series, 500, vintage=vintage * 3))
        stop.set()

    def read() -> None:
        reader = Reader(engine)
        chooser = random.Random(7)
        while not stop.is_set():
            moment = utc(1990, 1, 1) + days(chooser.randint(0, 650))
            for row in reader.as_of(MacroObservationRow, series, as_of=moment):
                if row.knowledge_time > moment:
                    violations.append(f"{row} read at {moment}")
            reads[0] += 1

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert violations == []
    assert reads[0] > 0
    mp_scenario_metrics.update(reads=reads[0], future_rows_seen=0)


def test_cancelled_tasks_leak_no_connection(
    mp_pg_settings: PostgresSettings,
    engine: Engine,
    make_series: SeriesMaker,
    mp_scenario_metrics: dict[str, Any],
) -> None:
    """Hundreds of read tasks, half of them cancelled mid-flight: the pool gets every
    connection back and the server holds no connection idle in a transaction."""
    series = make_series(frequency="daily")
    ingest(engine, "macro", _rows(series, 2_000))
    settings = mp_pg_settings.model_copy(
        update={"application_name": "mp-cancel", "pool_size": 5, "max_overflow": 5}
    )

    async def storm() -> tuple[int, int]:
        async_engine = create_db_engine_async(settings)
        reader = AsyncReader(async_engine)
        cancelled = 0
        try:
            tasks = [
                asyncio.create_task(reader.vintages(MacroObservationRow, series))
                for _ in range(300)
            ]
            await asyncio.sleep(0.01)
            for task in tasks[::2]:
                if task.cancel():
                    cancelled += 1
            await asyncio.gather(*tasks, return_exceptions=True)
            checked_out = async_engine.pool.checkedout()  # type: ignore[attr-defined]
        finally:
            await async_engine.dispose()
        return cancelled, int(checked_out)

    cancelled, checked_out = run(storm())
    with engine.connect() as connection:
        stuck = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mp-cancel'"
                " AND state LIKE 'idle in transaction%'"
            )
        ).scalar_one()
    assert checked_out == 0
    assert stuck == 0
    assert cancelled > 0
    mp_scenario_metrics.update(tasks=300, cancelled=cancelled, leaked_connections=checked_out)


def test_large_batch_is_chunked_and_atomic(
    engine: Engine, make_series: SeriesMaker, mp_scenario_metrics: dict[str, Any]
) -> None:
    """A 120k-row batch goes in chunks (no bind-parameter limit: COPY) and is atomic: a
    failure at the last chunk leaves nothing; the same batch then lands whole."""
    series = [make_series(frequency="daily") for _ in range(4)]
    rows = [row for series_id in series for row in _rows(series_id, 30_000)]

    def fail_at_end(progress: IngestProgress) -> None:
        if progress.chunk == progress.chunks:
            raise RuntimeError("injected fault in the last chunk")

    with pytest.raises(RuntimeError):
        ingest(engine, "macro", rows, chunk_rows=20_000, progress=fail_at_end)
    assert count_rows(engine, "macro_observations") == 0
    report = ingest(engine, "macro", rows, chunk_rows=20_000)
    assert report.chunks >= 6
    assert count_rows(engine, "macro_observations") == len(rows)
    mp_scenario_metrics.update(rows=len(rows), chunks=report.chunks)


def test_streaming_reads_keep_memory_bounded(
    engine: Engine, make_series: SeriesMaker, reader: Reader, mp_scenario_metrics: dict[str, Any]
) -> None:
    """Streaming 100k versions holds about one batch in memory, not the whole history."""
    series = make_series(frequency="daily")
    ingest(engine, "macro", _rows(series, 50_000))
    ingest(engine, "macro", _rows(series, 50_000, vintage=5))
    tracemalloc.start()
    try:
        seen = 0
        for row in reader.iter_vintages("macro", series, batch_rows=2_000):
            seen += 1
            assert row.series_id == series
        _, streamed_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        everything = reader.vintages("macro", series)
        _, list_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == len(everything) == 100_000
    assert streamed_peak * 5 < list_peak
    mp_scenario_metrics.update(
        rows=seen, streamed_peak_bytes=streamed_peak, list_peak_bytes=list_peak
    )


def test_async_streaming_reads_keep_memory_bounded(
    mp_pg_settings: PostgresSettings, engine: Engine, make_series: SeriesMaker
) -> None:
    """The asyncpg stream holds about one batch in memory too."""
    series = make_series(frequency="daily")
    ingest(engine, "macro", _rows(series, 60_000))

    async def stream() -> tuple[int, int]:
        async_engine = create_db_engine_async(mp_pg_settings)
        try:
            reader = AsyncReader(async_engine)
            tracemalloc.start()
            seen = 0
            async for _ in reader.iter_vintages("macro", series, batch_rows=2_000):
                seen += 1
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            return seen, peak
        finally:
            await async_engine.dispose()

    seen, peak = run(stream())
    assert seen == 60_000
    assert peak < 8_000_000
