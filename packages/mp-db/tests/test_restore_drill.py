"""Reliability, nothing lost: the restore drill, against a real cluster and real pgBackRest.

Back up; ingest more under load (an incremental backup taken in the middle of it); record a
point in time between two ingests; destroy the data folder; restore to the newest point, then to
the recorded point. The ledger check holds each time: every batch acknowledged before the target
is stored exactly once, nothing sent after it is there, and as-of answers equal the ones read
before the loss.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import days, utc
from ledger import BATCH_ROWS, Ledger, batch_rows, count_batch, create_writer_series
from sqlalchemy import Engine, text

from mp_db import MacroObservationRow, MpDbError, Reader, create_db_engine, ingest
from mp_stack.exceptions import NativeServiceError
from mp_stack.native import BackupRepository, find_pgbackrest
from mp_testing import start_throwaway_postgres

pytestmark = [pytest.mark.scenario("nothing_lost"), pytest.mark.reliability]

WRITERS = 2
#: Batches per writer loaded (and backed up) before the drill; raise it for figures.
BACKFILL_BATCHES = int(os.environ.get("MP_DRILL_BACKFILL_BATCHES", "10"))
LOAD_SECONDS = 2.0


@dataclass
class Writers:
    """Writer threads, one per series, that the drill can pause between two batches."""

    engine: Engine
    series: list[int]
    ledger: Ledger
    next_batch: dict[int, int]
    condition: threading.Condition = field(default_factory=threading.Condition)
    paused: bool = False
    stopped: bool = False
    in_flight: int = 0
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.threads = [threading.Thread(target=self._write, args=(s,)) for s in self.series]
        for thread in self.threads:
            thread.start()

    def _write(self, series_id: int) -> None:
        while True:
            with self.condition:
                while self.paused and not self.stopped:
                    self.condition.wait()
                if self.stopped:
                    return
                self.in_flight += 1
            number = self.next_batch[series_id]
            self.next_batch[series_id] = number + 1
            started = time.time()
            try:
                ingest(self.engine, "macro", batch_rows(series_id, number), chunk_rows=100)
                self.ledger.record((series_id, number), ok=True, started=started)
            except MpDbError:
                self.ledger.record((series_id, number), ok=False, started=started)
            finally:
                with self.condition:
                    self.in_flight -= 1
                    self.condition.notify_all()

    def pause(self) -> None:
        """Return once no batch is in flight and none will start until :meth:`resume`."""
        with self.condition:
            self.paused = True
            while self.in_flight:
                self.condition.wait()

    def resume(self) -> None:
        with self.condition:
            self.paused = False
            self.condition.notify_all()

    def stop(self) -> None:
        self.pause()
        with self.condition:
            self.stopped = True
            self.condition.notify_all()
        for thread in self.threads:
            thread.join()


def _answers(engine: Engine, series: list[int]) -> list[Any]:
    """What a researcher reads: as-of answers at several knowledge times, and the latest print."""
    reader = Reader(engine)
    answers: list[Any] = [reader.latest(MacroObservationRow, series, as_of=utc(2200, 1, 1))]
    # A window of observations around a knowledge time in every sixth batch, up to far past
    # the last one: some answers change with the restored batches, some must stay empty.
    for number in range(0, 240, 6):
        moment = utc(1980, 1, 1) + days(BATCH_ROWS * number + 17)
        answers.append(
            reader.as_of(MacroObservationRow, series, as_of=moment, start=moment - days(60))
        )
    return answers


def _wal_lsn(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")).scalar_one()
        )


def _ledger_check(
    engine: Engine, ledger: Ledger, target: float | None
) -> tuple[int, int, int, int]:
    """(rows verified, lost rows, duplicate rows, rows present from after the target)."""
    verified = lost = duplicates = late = 0
    for series_id, number in ledger.acknowledged:
        stored, doubled = count_batch(engine, series_id, number)
        duplicates += doubled
        started, acknowledged = ledger.windows.get((series_id, number), (0.0, 0.0))
        if target is None or acknowledged < target:
            lost += BATCH_ROWS - stored
            verified += stored
        else:
            assert started > target, f"batch {series_id}/{number} straddles the target"
            late += stored
    return verified, lost, duplicates, late


def test_restore_drill(mp_scenario_metrics: dict[str, Any]) -> None:
    """Full backup, load with an incremental backup under it, a target between two ingests,
    the data folder destroyed: restoring to the newest point loses no acknowledged batch, and
    restoring to the target brings back exactly what was acknowledged before it."""
    try:
        find_pgbackrest()
    except NativeServiceError as error:
        pytest.skip(f"restore drills need pgBackRest: {error}")
    # archive_mode needs a restart to change: start with it on, the command comes with attach.
    server = start_throwaway_postgres(durable=True, settings={"archive_mode": "on"})
    repository = BackupRepository(server.cluster, server.cluster.root.parent / "backup")
    engine = create_db_engine(server.settings.model_copy(update={"connect_timeout": 2}))
    try:
        repository.attach()
        series = create_writer_series(engine, "D", WRITERS)
        ledger = Ledger()
        for number in range(BACKFILL_BATCHES):
            for series_id in series:
                started = time.time()
                ingest(engine, "macro", batch_rows(series_id, number))
                ledger.record((series_id, number), ok=True, started=started)

        clock = time.monotonic()
        full = repository.backup("full")
        backup_seconds = time.monotonic() - clock
        wal_before = _wal_lsn(engine)
        writers = Writers(engine, series, ledger, dict.fromkeys(series, BACKFILL_BATCHES))
        writers.start()
        time.sleep(LOAD_SECONDS / 2)
        clock = time.monotonic()
        incremental = repository.backup("incr")
        incremental_seconds = time.monotonic() - clock
        time.sleep(LOAD_SECONDS / 2)
        writers.pause()
        target_at = time.time()
        at_target = _answers(engine, series)
        time.sleep(0.3)
        writers.resume()
        time.sleep(LOAD_SECONDS)
        writers.stop()
        newest = _answers(engine, series)
        assert newest != at_target, "the load after the target changed no answer"
        wal_bytes = _wal_lsn(engine) - wal_before
        assert not ledger.ambiguous, f"writers failed without a fault: {ledger.ambiguous[:3]}"
        before_target = sum(1 for _, acked in ledger.windows.values() if acked < target_at)
        after_target = len(ledger.acknowledged) - before_target
        assert after_target > 0, "no batch was acknowledged after the target"
        assert before_target > BACKFILL_BATCHES * WRITERS, "no load before the target"

        # The loss: everything committed is in the archive, then the data folder is gone.
        repository.switch_and_archive()
        server.cluster.stop("immediate")
        shutil.rmtree(server.cluster.data_dir)
        engine.dispose()

        clock = time.monotonic()
        repository.restore()
        restore_seconds = time.monotonic() - clock
        verified, lost, duplicates, late = _ledger_check(engine, ledger, None)
        assert (lost, duplicates) == (0, 0)
        assert _answers(engine, series) == newest

        engine.dispose()
        clock = time.monotonic()
        repository.restore(datetime.fromtimestamp(target_at, UTC))
        restore_pitr_seconds = time.monotonic() - clock
        verified_pitr, lost_pitr, duplicates_pitr, late = _ledger_check(engine, ledger, target_at)
        assert (lost_pitr, duplicates_pitr, late) == (0, 0, 0)
        assert _answers(engine, series) == at_target
        # The restored server is a primary again: it takes writes and archives them.
        ingest(engine, "macro", batch_rows(series[0], 1_000))
        assert count_batch(engine, series[0], 1_000) == (BATCH_ROWS, 0)
        repository.switch_and_archive()
        mp_scenario_metrics.update(
            rows_verified=verified + verified_pitr,
            lost_rows=lost + lost_pitr,
            duplicate_rows=duplicates + duplicates_pitr,
            rows_after_target=late,
            batches_before_target=before_target,
            batches_after_target=after_target,
            backup_full_seconds=round(backup_seconds, 2),
            backup_incremental_seconds=round(incremental_seconds, 2),
            restore_latest_seconds=round(restore_seconds, 2),
            restore_point_in_time_seconds=round(restore_pitr_seconds, 2),
            database_bytes=full.database_bytes,
            full_repository_bytes=full.repository_bytes,
            incremental_repository_bytes=incremental.repository_bytes,
            load_wal_bytes=wal_bytes,
        )
    finally:
        engine.dispose()
        server.destroy()
        shutil.rmtree(repository.root, ignore_errors=True)
