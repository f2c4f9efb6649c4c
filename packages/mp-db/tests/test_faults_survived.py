"""Reliability, faults survived: real faults injected into throwaway servers, both drivers."""

from __future__ import annotations

import asyncio
import contextlib
import pwd
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import days, macro, run, utc
from psycopg import sql
from sqlalchemy import Engine, text

from mp_config import PostgresSettings
from mp_db import (
    ARROW,
    AsyncFrameReader,
    AsyncFrameStream,
    ConnectionLostError,
    FrameReader,
    FrameStream,
    IngestProgress,
    LockTimeoutError,
    MpDbError,
    ReadOnlyError,
    RetryPolicy,
    StorageFullError,
    TransientError,
    create_db_engine,
    create_db_engine_async,
    ingest,
    ingest_async,
    run_with_retry,
    translate_errors,
)
from mp_testing import ThrowawayPostgres
from mp_testing.faults import TcpProxy

pytestmark = [pytest.mark.scenario("faults_survived"), pytest.mark.reliability]
QUICK_RETRY = RetryPolicy(attempts=8, base_delay=0.2, max_delay=1.0)


def _series(engine: Engine, count: int = 1) -> list[int]:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
                " VALUES ('fault', 'Faults', 'vendor', 'full') ON CONFLICT (code) DO NOTHING"
            )
        )
        return [
            int(
                connection.execute(
                    text(
                        "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
                        " SELECT source_id, :code, 'macro', 'f', 'daily' FROM mp.data_sources"
                        " WHERE code = 'fault' RETURNING series_id"
                    ),
                    {"code": f"F{time.monotonic_ns()}_{n}"},
                ).scalar_one()
            )
            for n in range(count)
        ]


def _rows(series_id: int, count: int) -> list[dict[str, Any]]:
    base = utc(2000, 1, 1)
    return [macro(series_id, base + days(n), base + days(n + 1), float(n)) for n in range(count)]


def _stored(engine: Engine) -> tuple[int, int]:
    """Rows stored and duplicate (series, obs_time, knowledge_time) keys."""
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT count(*), count(*) - count(DISTINCT (series_id, obs_time, knowledge_time))"
                " FROM mp.macro_observations"
            )
        ).one()
    return int(row[0]), int(row[1])


@pytest.fixture
def server(mp_throwaway_postgres: ThrowawayPostgres) -> ThrowawayPostgres:
    """The throwaway cluster these faults are injected into."""
    return mp_throwaway_postgres


@pytest.fixture
def engine_on(server: ThrowawayPostgres) -> Iterator[Engine]:
    """A sync engine on the throwaway cluster."""
    engine = create_db_engine(server.settings)
    yield engine
    engine.dispose()


def test_idle_backends_terminated_are_replaced(
    server: ThrowawayPostgres, engine_on: Engine
) -> None:
    """Pooled connections whose backends were killed while idle are replaced on next use
    (pre-ping), under both drivers: the caller never sees the fault."""
    with engine_on.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert server.terminate_backends() >= 1
    with engine_on.connect() as connection:
        assert connection.execute(text("SELECT 2")).scalar() == 2

    async def async_side() -> int:
        engine = create_db_engine_async(server.settings)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            server.terminate_backends()
            async with engine.connect() as connection:
                return int((await connection.execute(text("SELECT 3"))).scalar_one())
        finally:
            await engine.dispose()

    assert run(async_side()) == 3


def _fault_during_ingest(
    engine: Engine, series_id: int, fault: Callable[[], None], metrics: dict[str, Any]
) -> None:
    """Ingest 30k rows in chunks; inject ``fault`` after the first chunk once; retry the whole
    batch as a unit of work; afterwards every row is stored exactly once."""
    rows = _rows(series_id, 30_000)
    injected = threading.Event()
    failures: list[str] = []

    def progress(step: IngestProgress) -> None:
        if step.chunk == 1 and not injected.is_set():
            injected.set()
            fault()

    def unit_of_work() -> Any:
        try:
            return ingest(engine, "macro", rows, chunk_rows=5_000, progress=progress)
        except MpDbError as error:
            failures.append(type(error).__name__)
            raise

    report = run_with_retry(unit_of_work, policy=QUICK_RETRY)
    stored, duplicates = _stored(engine)
    assert failures, "the fault did not surface as an error"
    assert all(name in {"ConnectionLostError", "ServerUnavailableError"} for name in failures)
    assert (stored, duplicates) == (30_000, 0)
    assert report.inserted + report.already_stored == 30_000
    metrics.update(
        rows_verified=stored,
        duplicate_rows=duplicates,
        lost_rows=30_000 - stored,
        failures=failures,
    )


def test_backend_terminated_mid_ingest(
    server: ThrowawayPostgres, engine_on: Engine, mp_scenario_metrics: dict[str, Any]
) -> None:
    """The ingesting backend is killed mid-batch: classified transient, retried, exact."""
    series = _series(engine_on)[0]

    def kill() -> None:
        server.terminate_backends()

    _fault_during_ingest(engine_on, series, kill, mp_scenario_metrics)


def test_fast_restart_during_ingest(
    server: ThrowawayPostgres, engine_on: Engine, mp_scenario_metrics: dict[str, Any]
) -> None:
    """PostgreSQL restarts (fast shutdown) mid-batch: the retry lands every row once."""
    series = _series(engine_on)[0]

    def restart() -> None:
        threading.Thread(target=server.cluster.restart, args=("fast",)).start()
        time.sleep(0.3)

    _fault_during_ingest(engine_on, series, restart, mp_scenario_metrics)


def test_immediate_stop_during_ingest(
    server: ThrowawayPostgres, engine_on: Engine, mp_scenario_metrics: dict[str, Any]
) -> None:
    """PostgreSQL crashes (immediate stop) mid-batch and recovers: nothing half-stored."""
    series = _series(engine_on)[0]

    def crash_and_recover() -> None:
        server.cluster.stop("immediate")
        threading.Thread(target=server.cluster.start).start()

    _fault_during_ingest(engine_on, series, crash_and_recover, mp_scenario_metrics)


def test_lock_timeout_under_both_drivers(server: ThrowawayPostgres, engine_on: Engine) -> None:
    """A writer blocked by another writer's lock beyond lock_timeout gets LockTimeoutError."""
    series = _series(engine_on)[0]
    from mp_db._ingest_sql import ingest_sql
    from mp_db._tables import resolve_table

    lock_key = resolve_table("macro").lock_key
    assert ingest_sql(resolve_table("macro")).lock_series
    settings = server.settings.model_copy(update={"lock_timeout_ms": 200})
    blocker = engine_on.connect()
    transaction = blocker.begin()
    blocker.execute(
        text("SELECT pg_advisory_xact_lock(:table, :series)"), {"table": lock_key, "series": series}
    )
    try:
        engine = create_db_engine(settings)
        try:
            with pytest.raises(LockTimeoutError):
                ingest(engine, "macro", _rows(series, 10))
        finally:
            engine.dispose()

        async def async_side() -> None:
            async_engine = create_db_engine_async(settings)
            try:
                await ingest_async(async_engine, "macro", _rows(series, 10))
            finally:
                await async_engine.dispose()

        with pytest.raises(LockTimeoutError):
            run(async_side())
    finally:
        transaction.rollback()
        blocker.close()
    assert _stored(engine_on) == (0, 0)


def _ends_within(seconds: float, call: Callable[[], Any]) -> BaseException | None:
    """The error ``call`` ended with (None: it returned), failing the test if it is still
    waiting after ``seconds`` (run in a thread, so a hang fails instead of blocking)."""
    ended: list[BaseException | None] = []

    def target() -> None:
        try:
            call()
        except BaseException as error:
            ended.append(error)
        else:
            ended.append(None)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    assert ended, f"still waiting after {seconds} s"
    return ended[0]


def _sync_read(kind: str, connection: Any, series: int) -> None:
    if kind == "statement":
        connection.execute(text("SELECT 2"))
    elif kind == "frame":
        FrameReader(connection, ARROW).as_of("macro", [series], as_of=utc(2030))
    else:
        list(
            FrameStream(connection, ARROW, batch_rows=10).as_of("macro", [series], as_of=utc(2030))
        )


async def _async_read(kind: str, connection: Any, series: int) -> None:
    if kind == "statement":
        await connection.execute(text("SELECT 2"))
    elif kind == "frame":
        await AsyncFrameReader(connection, ARROW).as_of("macro", [series], as_of=utc(2030))
    else:
        stream = AsyncFrameStream(connection, ARROW, batch_rows=10)
        batches = stream.as_of("macro", [series], as_of=utc(2030))
        async with contextlib.aclosing(batches):
            async for _ in batches:
                pass


@pytest.mark.parametrize("kind", ["statement", "frame", "frame stream"])
def test_half_open_connection_ends_within_the_deadline(
    server: ThrowawayPostgres, engine_on: Engine, kind: str
) -> None:
    """Traffic silently dropped mid-statement (a half-open connection): both drivers give up
    at the client-side deadline with ConnectionLostError instead of waiting for ever. A frame
    read's COPY runs below SQLAlchemy, where the statement watchdog never sees it: its own
    wait on the socket gives up at the same deadline."""
    series = _series(engine_on)[0]
    ingest(engine_on, "macro", _rows(series, 50))
    with TcpProxy(server.settings.host, server.settings.port) as proxy:
        settings = server.settings.model_copy(
            update={"port": proxy.port, "statement_timeout_ms": 500}
        )
        engine = create_db_engine(settings)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                proxy.blackhole()

                def read() -> None:
                    with translate_errors():
                        _sync_read(kind, connection, series)

                error = _ends_within(15, read)
                assert isinstance(error, ConnectionLostError), repr(error)
        finally:
            proxy.heal()
            engine.dispose()

        async def async_side() -> BaseException | None:
            async_engine = create_db_engine_async(settings)
            try:
                async with async_engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                    proxy.blackhole()
                    try:
                        async with asyncio.timeout(15):
                            with translate_errors():
                                await _async_read(kind, connection, series)
                    except BaseException as error:
                        return error
                    return None
            finally:
                proxy.heal()
                await async_engine.dispose()

        error = run(async_side())
        assert isinstance(error, ConnectionLostError), repr(error)


def test_read_only_database(server: ThrowawayPostgres, engine_on: Engine) -> None:
    """A database switched to read-only: ingest fails with ReadOnlyError, nothing written."""
    series = _series(engine_on)[0]
    with server.cluster.connect_admin() as admin:
        admin.execute("ALTER DATABASE mp SET default_transaction_read_only = on")
    try:
        engine = create_db_engine(server.settings)
        try:
            with pytest.raises(ReadOnlyError):
                ingest(engine, "macro", _rows(series, 100))
        finally:
            engine.dispose()

        async def async_side() -> None:
            async_engine = create_db_engine_async(server.settings)
            try:
                await ingest_async(async_engine, "macro", _rows(series, 100))
            finally:
                await async_engine.dispose()

        with pytest.raises(ReadOnlyError):
            run(async_side())
    finally:
        with server.cluster.connect_admin() as admin:
            admin.execute("ALTER DATABASE mp RESET default_transaction_read_only")
    assert _stored(engine_on) == (0, 0)


@contextlib.contextmanager
def _small_filesystem(megabytes: int, owner: str | None) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="mp-full-"))
    folder.chmod(0o755)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}M", "tmpfs", str(folder)],
        check=False,
        capture_output=True,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip("cannot mount a small tmpfs here (needs root): storage-full not testable")
    try:
        if owner is not None:
            record = pwd.getpwnam(owner)
            import os

            os.chown(folder, record.pw_uid, record.pw_gid)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        with contextlib.suppress(OSError):
            folder.rmdir()


def test_storage_full(
    server: ThrowawayPostgres, engine_on: Engine, mp_scenario_metrics: dict[str, Any]
) -> None:
    """New chunks land on a tablespace that fills up: StorageFullError, nothing half-written,
    and the rows stored before are intact."""
    series = _series(engine_on)[0]
    ingest(engine_on, "macro", _rows(series, 1_000))
    with _small_filesystem(6, server.cluster.os_user) as folder:
        with server.cluster.connect_admin("mp") as admin:
            admin.execute(
                sql.SQL("CREATE TABLESPACE mp_small LOCATION {}").format(sql.Literal(str(folder)))
            )
            admin.execute(
                sql.SQL("GRANT CREATE ON TABLESPACE mp_small TO {}").format(
                    sql.Identifier(server.settings.user)
                )
            )
            admin.execute("SELECT attach_tablespace('mp_small', 'mp.macro_observations')")
        late = [
            macro(series, utc(2040, 1, 1) + days(n), utc(2040, 1, 2) + days(n), float(n))
            for n in range(150_000)
        ]
        with pytest.raises(StorageFullError):
            ingest(engine_on, "macro", late)
        stored, duplicates = _stored(engine_on)
        assert (stored, duplicates) == (1_000, 0)
        with server.cluster.connect_admin("mp") as admin:
            admin.execute("SELECT detach_tablespaces('mp.macro_observations')")
            admin.execute("DROP TABLESPACE IF EXISTS mp_small")
    mp_scenario_metrics.update(rows_intact=stored)


def test_ddl_while_asyncpg_cache_is_warm(server: ThrowawayPostgres, engine_on: Engine) -> None:
    """A migration alters a table while asyncpg holds cached statements: reads keep working
    (at worst after one transient failure, which the retry helper absorbs)."""
    from mp_db import AsyncReader, MacroObservationRow, run_with_retry_async

    series = _series(engine_on)[0]
    ingest(engine_on, "macro", _rows(series, 10))

    async def scenario() -> int:
        engine = create_db_engine_async(server.settings)
        reader = AsyncReader(engine)
        try:
            for _ in range(3):
                await reader.latest(MacroObservationRow, series, as_of=utc(2030, 1, 1))
            with engine_on.begin() as connection:
                connection.execute(text("ALTER TABLE mp.macro_observations ADD COLUMN note text"))
            rows = await run_with_retry_async(
                lambda: reader.latest(MacroObservationRow, series, as_of=utc(2030, 1, 1)),
                policy=QUICK_RETRY,
            )
            return len(rows)
        finally:
            await engine.dispose()

    assert run(scenario()) == 1


def test_transient_errors_are_retryable() -> None:
    """The classes the scenarios rely on are marked retryable."""
    assert ConnectionLostError.retryable
    assert issubclass(ConnectionLostError, TransientError)
    assert not StorageFullError.retryable
    assert not PostgresSettings.model_fields["lock_timeout_ms"].is_required()
