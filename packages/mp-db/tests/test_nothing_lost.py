"""Reliability, nothing lost: a ledger across crash/restart cycles, ambiguous commits, and
revisions that never rewrite the past."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import SeriesMaker, days, macro, utc
from ledger import BATCH_ROWS, Ledger, batch_rows, count_batch, create_writer_series
from sqlalchemy import Engine, text

from mp_db import (
    IngestReport,
    MacroObservationRow,
    MpDbError,
    Reader,
    RetryPolicy,
    TransientError,
    create_db_engine,
    ingest,
    run_with_retry,
)
from mp_testing import ThrowawayPostgres, start_throwaway_postgres
from mp_testing.faults import TcpProxy

pytestmark = pytest.mark.scenario("nothing_lost")

CRASH_CYCLES = 5


def partial_ingest(engine: Engine, rows: list[dict[str, Any]]) -> Callable[[], IngestReport]:
    """A unit of work that ingests ``rows`` (for the retry helper)."""
    return lambda: ingest(engine, "macro", rows)


@pytest.mark.reliability
def test_ledger_survives_crash_restart_cycles(mp_scenario_metrics: dict[str, Any]) -> None:
    """Three writers ingest while PostgreSQL (fsync on) is stopped immediately and restarted
    five times: every acknowledged batch is stored exactly once, every ambiguous one is all or
    nothing, and resubmitting the ambiguous ones completes them without duplicates."""
    server = start_throwaway_postgres(durable=True)
    engine = create_db_engine(server.settings.model_copy(update={"connect_timeout": 2}))
    try:
        writers = create_writer_series(engine, "L", 3)
        ledger = Ledger()
        stop = threading.Event()

        def write(series_id: int) -> None:
            number = 0
            while not stop.is_set():
                try:
                    ingest(engine, "macro", batch_rows(series_id, number), chunk_rows=100)
                    ledger.record((series_id, number), ok=True)
                except MpDbError:
                    ledger.record((series_id, number), ok=False)
                    time.sleep(0.2)
                number += 1

        threads = [threading.Thread(target=write, args=(series,)) for series in writers]
        for thread in threads:
            thread.start()
        chooser = random.Random(11)
        for _ in range(CRASH_CYCLES):
            time.sleep(chooser.uniform(0.5, 1.5))
            server.cluster.stop("immediate")
            time.sleep(0.3)
            server.cluster.start()
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join()

        lost = duplicates = verified = 0
        for series_id, number in ledger.acknowledged:
            stored, doubled = count_batch(engine, series_id, number)
            lost += BATCH_ROWS - stored
            duplicates += doubled
            verified += stored
        partial = 0
        for series_id, number in ledger.ambiguous:
            stored, doubled = count_batch(engine, series_id, number)
            duplicates += doubled
            partial += int(stored not in (0, BATCH_ROWS))
        retry = RetryPolicy(attempts=6, base_delay=0.2, max_delay=1.0)
        for series_id, number in ledger.ambiguous:
            rows = batch_rows(series_id, number)
            run_with_retry(partial_ingest(engine, rows), policy=retry)
            stored, doubled = count_batch(engine, series_id, number)
            lost += BATCH_ROWS - stored
            duplicates += doubled
            verified += stored
        assert ledger.acknowledged, "no batch was acknowledged: the scenario proved nothing"
        assert ledger.ambiguous, "no batch was interrupted: the crashes missed the writers"
        assert (lost, duplicates, partial) == (0, 0, 0)
        mp_scenario_metrics.update(
            crash_cycles=CRASH_CYCLES,
            acknowledged_batches=len(ledger.acknowledged),
            ambiguous_batches=len(ledger.ambiguous),
            rows_verified=verified,
            lost_rows=lost,
            duplicate_rows=duplicates,
            partial_batches=partial,
        )
    finally:
        engine.dispose()
        server.destroy()


@pytest.mark.reliability
def test_ambiguous_commit_resolves_to_one_copy(
    mp_throwaway_postgres: ThrowawayPostgres, mp_scenario_metrics: dict[str, Any]
) -> None:
    """The connection is cut right after COMMIT reaches the server: the client sees a lost
    connection, the batch is in fact stored, and the retry stores nothing more."""
    direct = create_db_engine(mp_throwaway_postgres.settings)
    try:
        with direct.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
                    " VALUES ('amb', 'Ambiguous', 'vendor', 'full')"
                )
            )
            series = int(
                connection.execute(
                    text(
                        "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
                        " SELECT source_id, 'A', 'macro', 'a', 'daily' FROM mp.data_sources"
                        " RETURNING series_id"
                    )
                ).scalar_one()
            )
        rows = batch_rows(series, 0)
        with TcpProxy(
            mp_throwaway_postgres.settings.host, mp_throwaway_postgres.settings.port
        ) as proxy:
            proxied = create_db_engine(
                mp_throwaway_postgres.settings.model_copy(update={"port": proxy.port})
            )
            try:
                # The COMMIT statement itself, NUL-terminated in the query message (the staging
                # table's "ON COMMIT DELETE ROWS" must not match).
                proxy.cut_after(b"COMMIT\x00")
                with pytest.raises(TransientError):
                    ingest(proxied, "macro", rows)
                assert proxy.stats.markers_seen == 1
                stored_after_cut, _ = count_batch(direct, series, 0)
                proxy.heal()
                report = run_with_retry(lambda: ingest(proxied, "macro", rows))
            finally:
                proxied.dispose()
        stored, duplicates = count_batch(direct, series, 0)
    finally:
        direct.dispose()
    assert stored_after_cut == BATCH_ROWS
    assert (report.inserted, report.already_stored) == (0, BATCH_ROWS)
    assert (stored, duplicates) == (BATCH_ROWS, 0)
    mp_scenario_metrics.update(rows_verified=stored, duplicate_rows=duplicates, lost_rows=0)


def test_a_revision_never_changes_an_earlier_as_of(
    engine: Engine, reader: Reader, make_series: SeriesMaker
) -> None:
    """What was known at T stays what it was, however many revisions arrive after T."""
    series = make_series()
    ingest(
        engine,
        "macro",
        [
            macro(series, utc(2024, month), utc(2024, month) + days(40), float(month))
            for month in range(1, 7)
        ],
    )
    moment = utc(2024, 6, 1)
    before = reader.as_of(MacroObservationRow, series, as_of=moment)
    for vintage in range(1, 4):
        ingest(
            engine,
            "macro",
            [
                macro(
                    series,
                    utc(2024, month),
                    utc(2024, 8, 1) + days(vintage * 10),
                    month + vintage / 10,
                )
                for month in range(1, 7)
            ],
        )
        assert reader.as_of(MacroObservationRow, series, as_of=moment) == before
    assert reader.latest(MacroObservationRow, series, as_of=utc(2025, 1, 1))[0].value == 6.3


def test_resubmission_is_idempotent(engine: Engine, make_series: SeriesMaker) -> None:
    """Sending the same batch five times stores it once."""
    series = make_series(frequency="daily")
    rows = batch_rows(series, 0)
    reports = [ingest(engine, "macro", rows) for _ in range(5)]
    assert [report.inserted for report in reports] == [BATCH_ROWS, 0, 0, 0, 0]
    assert count_batch(engine, series, 0) == (BATCH_ROWS, 0)
