"""Reliability, faults survived: failover to a promoted standby, with both drivers.

The client is configured with both servers in ``MP_PG_HOST`` (``target_session_attrs=read-write``
follows) and the standby as its read replica. Writers ingest through ``run_with_retry`` while the
primary is killed and the standby promoted; the same Database object, never restarted, carries
on against the new primary. The ledger check then finds every acknowledged batch stored exactly
once; reads on the replica report their lag, and a read that must see a just-committed ingest
gets it from the primary or by waiting for the replica's replay.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from conftest import utc
from ledger import BATCH_ROWS, Ledger, batch_rows, count_batch, create_writer_series
from sqlalchemy import Engine, text

from mp_config import PostgresSettings
from mp_db import (
    AsyncDatabase,
    AsyncReader,
    Database,
    IngestReport,
    MacroObservationRow,
    MpDbError,
    Reader,
    RetryPolicy,
    create_db_engine,
    primary_wal_position,
    primary_wal_position_async,
    replica_lag,
    replica_lag_async,
    run_with_retry,
    run_with_retry_async,
    wait_for_replay,
    wait_for_replay_async,
)
from mp_stack.native import PostgresCluster
from mp_testing import ThrowawayPostgres, start_throwaway_postgres

pytestmark = [pytest.mark.scenario("faults_survived"), pytest.mark.reliability]

WRITERS = 2
SECONDS_BEFORE = 1.0
SECONDS_AFTER = 2.0
#: Enough patience to outlast the promotion (about a second here) with room to spare.
RETRY = RetryPolicy(attempts=30, base_delay=0.1, max_delay=0.5)
_FAR = utc(9000, 1, 1)  # after every batch's knowledge times


def _failover_settings(server: ThrowawayPostgres, standby: PostgresCluster) -> PostgresSettings:
    primary = server.cluster
    return server.settings.model_copy(
        update={
            "host": f"{primary.host}:{primary.port},{standby.host}:{standby.port}",
            "read_host": standby.host,
            "read_port": standby.port,
            "connect_timeout": 2,
        }
    )


def _server_port(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT inet_server_port()")).scalar_one())


def _check_ledger(engine: Engine, ledger: Ledger) -> tuple[int, int, int]:
    verified = lost = duplicates = 0
    for series_id, number in ledger.acknowledged:
        stored, doubled = count_batch(engine, series_id, number)
        verified += stored
        lost += BATCH_ROWS - stored
        duplicates += doubled
    return verified, lost, duplicates


class _Tally:
    """The ledger, plus how many batches needed a retry and how many landed after failover."""

    def __init__(self) -> None:
        self.ledger = Ledger()
        self.retried = 0
        self.after_failover = 0
        self.failed_over = threading.Event()
        self.lock = threading.Lock()

    def settle(self, batch: tuple[int, int], ok: bool, calls: int) -> None:
        self.ledger.record(batch, ok=ok)
        with self.lock:
            self.retried += calls > 1
            self.after_failover += ok and self.failed_over.is_set()


def _run_sync(server: ThrowawayPostgres, settings: PostgresSettings, series: list[int]) -> Any:
    tally, stop = _Tally(), threading.Event()
    with Database(settings) as db:

        def write(series_id: int) -> None:
            number = 0
            while not stop.is_set():
                calls = 0
                rows = batch_rows(series_id, number)

                def work(rows: list[dict[str, Any]] = rows) -> Any:
                    nonlocal calls
                    calls += 1
                    return db.ingest("macro", rows, chunk_rows=100)

                try:
                    run_with_retry(work, policy=RETRY)
                    tally.settle((series_id, number), True, calls)
                except MpDbError:
                    tally.settle((series_id, number), False, calls)
                number += 1

        threads = [threading.Thread(target=write, args=(s,)) for s in series]
        for thread in threads:
            thread.start()
        time.sleep(SECONDS_BEFORE)
        new_primary = server.fail_over()
        tally.failed_over.set()
        time.sleep(SECONDS_AFTER)
        stop.set()
        for thread in threads:
            thread.join()
        # The same client, never restarted, now writes to and reads from the new primary.
        assert _server_port(db.engine) == new_primary.port
        assert db.health().in_recovery is False
        report = db.ingest("macro", batch_rows(series[0], 1_000))
        assert report.inserted == BATCH_ROWS
        latest = Reader(db.engine).latest(MacroObservationRow, series[0], as_of=_FAR)
        assert latest[0].value == float(1_000 * 1000 + BATCH_ROWS - 1)
    return tally, new_primary


def _run_async(server: ThrowawayPostgres, settings: PostgresSettings, series: list[int]) -> Any:
    tally = _Tally()

    async def scenario() -> PostgresCluster:
        stop = asyncio.Event()
        async with AsyncDatabase(settings) as db:

            async def write(series_id: int) -> None:
                number = 0
                while not stop.is_set():
                    calls = 0
                    rows = batch_rows(series_id, number)

                    def work(
                        rows: list[dict[str, Any]] = rows,
                    ) -> Awaitable[IngestReport]:
                        nonlocal calls
                        calls += 1
                        return db.ingest("macro", rows, chunk_rows=100)

                    try:
                        await run_with_retry_async(work, policy=RETRY)
                        tally.settle((series_id, number), True, calls)
                    except MpDbError:
                        tally.settle((series_id, number), False, calls)
                    number += 1

            tasks = [asyncio.create_task(write(s)) for s in series]
            await asyncio.sleep(SECONDS_BEFORE)
            new_primary = await asyncio.to_thread(server.fail_over)
            tally.failed_over.set()
            await asyncio.sleep(SECONDS_AFTER)
            stop.set()
            await asyncio.gather(*tasks)
            assert (await db.health()).in_recovery is False
            async with db.engine.connect() as connection:
                port = (await connection.execute(text("SELECT inet_server_port()"))).scalar_one()
            assert port == new_primary.port
            report = await db.ingest("macro", batch_rows(series[0], 1_000))
            assert report.inserted == BATCH_ROWS
            latest = await AsyncReader(db.engine).latest(MacroObservationRow, series[0], as_of=_FAR)
            assert latest[0].value == float(1_000 * 1000 + BATCH_ROWS - 1)
        return new_primary

    return tally, asyncio.run(scenario())


def _replica_reads_sync(settings: PostgresSettings, series: int) -> float:
    """Before the failover: the replica reports its lag; a read that must see a fresh ingest
    gets it on the primary at once, or on the replica after waiting for its replay."""
    with Database(settings) as db:
        db.ingest("macro", batch_rows(series, 900))
        assert Reader(db.engine).latest(MacroObservationRow, series, as_of=_FAR)
        wait_for_replay(db.read_engine, primary_wal_position(db.engine), wait_seconds=10)
        on_replica = Reader(db.read_engine).latest(MacroObservationRow, series, as_of=_FAR)
        assert on_replica[0].value == float(900 * 1000 + BATCH_ROWS - 1)
        lag = replica_lag(db.read_engine)
        assert lag.in_recovery is True
        assert replica_lag(db.engine).in_recovery is False
        assert replica_lag(db.engine).lag_seconds == 0.0
        return lag.lag_seconds


def _replica_reads_async(settings: PostgresSettings, series: int) -> float:
    async def reads() -> float:
        async with AsyncDatabase(settings) as db:
            await db.ingest("macro", batch_rows(series, 900))
            position = await primary_wal_position_async(db.engine)
            await wait_for_replay_async(db.read_engine, position, wait_seconds=10)
            on_replica = await AsyncReader(db.read_engine).latest(
                MacroObservationRow, series, as_of=_FAR
            )
            assert on_replica[0].value == float(900 * 1000 + BATCH_ROWS - 1)
            lag = await replica_lag_async(db.read_engine)
            assert lag.in_recovery is True
            return lag.lag_seconds

    return asyncio.run(reads())


RUNNERS: dict[str, tuple[Callable[..., Any], Callable[..., float]]] = {
    "psycopg": (_run_sync, _replica_reads_sync),
    "asyncpg": (_run_async, _replica_reads_async),
}


@pytest.mark.parametrize("driver", sorted(RUNNERS))
def test_failover_to_a_promoted_standby(driver: str, mp_scenario_metrics: dict[str, Any]) -> None:
    """Kill the primary under ingest load and promote its synchronous standby: the client's
    next connections find the new primary, retries end with every batch stored exactly once."""
    run, replica_reads = RUNNERS[driver]
    server = start_throwaway_postgres(durable=True)
    try:
        standby = server.add_synchronous_standby()
        settings = _failover_settings(server, standby)
        setup = create_db_engine(settings)
        try:
            series = create_writer_series(setup, "F", WRITERS)
        finally:
            setup.dispose()
        lag_seconds = replica_reads(settings, series[0])
        started = time.monotonic()
        tally, new_primary = run(server, settings, series)
        # A psycopg connection the failover left unclosed is collected here, so its
        # ResourceWarning (an error under the suite's filterwarnings) fails this test, not
        # whichever later test the collector would run in. Stops 15-23 let that warning pass:
        # about every other psycopg failover left one such connection then. In stop 24, 25
        # runs of this scenario (15 psycopg only, 10 both drivers) left none.
        gc.collect()
        ledger, retried, after = tally.ledger, tally.retried, tally.after_failover
        seconds = time.monotonic() - started
        checker = create_db_engine(
            settings.model_copy(update={"host": new_primary.host, "port": new_primary.port})
        )
        try:
            verified, lost, duplicates = _check_ledger(checker, ledger)
        finally:
            checker.dispose()
        assert not ledger.ambiguous, f"batches whose retries ran out: {ledger.ambiguous[:5]}"
        assert retried > 0, "no batch was retried: the failover missed the writers"
        assert after > 0, "no batch was acknowledged after the failover"
        assert (lost, duplicates) == (0, 0)
        mp_scenario_metrics.update(
            driver=driver,
            acknowledged_batches=len(ledger.acknowledged),
            retried_batches=retried,
            batches_after_failover=after,
            rows_verified=verified,
            lost_rows=lost,
            duplicate_rows=duplicates,
            replica_lag_seconds=round(lag_seconds, 3),
            scenario_seconds=round(seconds, 2),
        )
    finally:
        server.destroy()
