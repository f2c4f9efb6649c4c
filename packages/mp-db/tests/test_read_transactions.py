"""What a read sends around its statement: a read that takes its own connection from an
engine and runs one statement sends no BEGIN and no ROLLBACK (its statement is its own
implicit transaction, a round trip saved each way); a read of two statements (a cutoff
first), an engine with an isolation level or (on asyncpg) planner settings keep one
transaction. Seen on the wire: psycopg's libpq trace, asyncpg's query log."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import SeriesMaker, macro, run, utc
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DataError

from mp_config import PostgresSettings
from mp_db import (
    ARROW,
    AsyncFrameReader,
    AsyncReader,
    FrameReader,
    MacroObservationRow,
    Reader,
    create_db_engine_async,
    ingest,
)
from mp_db._reads import Fetch, _Session

T = utc(2025, 1)
#: A year or less: no planner setting (longer one-series windows carry INDEX_ORDER).
YEAR = {"start": utc(2024, 1), "end": utc(2024, 7)}


@pytest.fixture
def series(engine: Engine, make_series: SeriesMaker) -> int:
    made = make_series()
    ingest(engine, "macro", [macro(made, utc(2024, 1), utc(2024, 2), 1.0)])
    return made


def _statements(trace: bytes) -> list[str]:
    """The statement texts of the Query messages a libpq trace shows the client sending."""
    lines = trace.decode("utf-8", "replace").splitlines()
    return [
        line.split("\t")[4].strip() for line in lines if "\tF\t" in line and "\tQuery\t" in line
    ]


def test_an_engine_bound_frame_read_runs_without_a_transaction_of_its_own(
    engine: Engine, series: int, tmp_path: Path
) -> None:
    """A frame read's COPY goes with its planner settings and their restore as one message
    and no BEGIN: that message is one implicit transaction, so the backtest's setting ends
    with it. A cutoff first and an isolation level keep one transaction."""
    setting = text("SELECT current_setting('timescaledb.enable_runtime_exclusion')")
    with _traced(engine, tmp_path) as sent:
        assert FrameReader(engine, ARROW).as_of("macro", series, as_of=T).num_rows == 1
        assert FrameReader(engine, ARROW).backtest("macro", [series], [T]).num_rows == 1
        FrameReader(engine, ARROW).as_of("macro", series, as_of=T, ingested_before=utc(2100))
        snapshot = engine.execution_options(isolation_level="REPEATABLE READ")
        assert FrameReader(snapshot, ARROW).as_of("macro", series, as_of=T).num_rows == 1
        with engine.connect() as connection:
            assert connection.execute(setting).scalar_one() == "on"
    alone, backtest, two, isolated, _ = sent
    for statements in (alone, backtest):
        assert len(statements) == 1, statements
        assert "COPY (" in statements[0]
        assert "BEGIN" not in statements[0]
        assert "ROLLBACK" not in statements[0]
    assert "set_config('timescaledb.enable_runtime_exclusion', 'off', true)" in backtest[0]
    assert two[0] == '"BEGIN"'
    assert two[-1] == '"ROLLBACK"'
    assert isolated[0].startswith('"BEGIN ISOLATION LEVEL REPEATABLE READ; '), isolated


def test_an_async_engine_bound_frame_read_runs_without_a_transaction_of_its_own(
    mp_pg_settings: PostgresSettings, series: int
) -> None:
    """The asyncpg twin. A planner setting needs a transaction there (asyncpg's COPY is a
    message of its own), so the backtest still runs in one."""

    async def reads(engine: Any) -> None:
        reader = AsyncFrameReader(engine, ARROW)
        assert (await reader.as_of("macro", series, as_of=T, **YEAR)).num_rows == 1
        assert (await reader.backtest("macro", [series], [T])).num_rows == 1
        await reader.as_of("macro", series, as_of=T, ingested_before=utc(2100), **YEAR)

    transaction = ["BEGIN;", "ROLLBACK;"]
    assert _async_sent(mp_pg_settings, reads) == [[], transaction, transaction]


@contextmanager
def _traced(engine: Engine, folder: Path) -> Iterator[list[list[str]]]:
    """The Query messages sent on each connection the block checks out, one list a checkout
    (SQLAlchemy's statements go as Parse messages; BEGIN and ROLLBACK as Query messages)."""
    traces: list[Any] = []
    sent: list[list[str]] = []

    def out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        traces.append((folder / f"trace-{len(traces)}").open("w+b"))
        dbapi_connection.pgconn.trace(traces[-1].fileno())

    def back(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.pgconn.untrace()

    event.listen(engine.pool, "checkout", out)
    event.listen(engine.pool, "checkin", back)
    try:
        yield sent
    finally:
        event.remove(engine.pool, "checkout", out)
        event.remove(engine.pool, "checkin", back)
        for trace in traces:
            trace.seek(0)
            sent.append(_statements(trace.read()))
            trace.close()


def test_an_engine_bound_row_read_runs_without_a_transaction_of_its_own(
    engine: Engine, series: int, tmp_path: Path
) -> None:
    """Typed-row reads: the statement alone in autocommit, its connection back to normal
    after; a cutoff first, a planner setting or an isolation level: one transaction."""
    with _traced(engine, tmp_path) as sent:
        assert len(Reader(engine).as_of("macro", series, as_of=T, **YEAR)) == 1
        assert len(Reader(engine).latest("macro", [series], as_of=T)) == 1
        Reader(engine).as_of("macro", series, as_of=T, ingested_before=utc(2100), **YEAR)
        assert len(Reader(engine).as_of("macro", series, as_of=T)) == 1  # INDEX_ORDER
        Reader(engine.execution_options(isolation_level="REPEATABLE READ")).latest(
            "macro", [series], as_of=T
        )
    alone, latest, two, ordered, isolated = sent
    assert alone == latest == []
    assert two == ordered == ['"BEGIN"', '"ROLLBACK"']
    assert isolated == ['"BEGIN ISOLATION LEVEL REPEATABLE READ"', '"ROLLBACK"']
    with engine.connect() as connection:
        assert _autocommit(connection) is False


def test_a_latest_print_read_again_over_all_time_runs_each_statement_alone(
    engine: Engine, series: int, make_series: SeriesMaker, tmp_path: Path
) -> None:
    """A series with nothing known in the year before T: the read runs its statement again
    over all time, whose answer alone is the read's, so neither statement needs a BEGIN
    (rows: two statements in autocommit; frames: two COPYs, each its own message)."""
    old = make_series()
    ingest(engine, "macro", [macro(old, utc(2020, 1), utc(2020, 2), 2.0)])
    with _traced(engine, tmp_path) as sent:
        rows = Reader(engine).latest(MacroObservationRow, [old, series], as_of=T)
        table = FrameReader(engine, ARROW).latest(MacroObservationRow, [old, series], as_of=T)
    expected = sorted([(series, 1.0), (old, 2.0)])
    assert [(row.series_id, row.value) for row in rows] == expected
    columns = (table["series_id"].to_pylist(), table["value"].to_pylist())
    assert list(zip(*columns, strict=True)) == expected
    on_rows, on_frames = sent
    assert on_rows == []
    assert len(on_frames) == 2, on_frames
    assert all(statement.startswith('"COPY (') for statement in on_frames), on_frames


def _autocommit(connection: Any) -> bool:
    return bool(connection.connection.driver_connection.autocommit)


def test_a_failed_statement_leaves_no_connection_in_autocommit(engine: Engine) -> None:
    """The server refuses the statement: the error is the caller's, and the connection goes
    back to the pool as it came (or is dropped), never left in autocommit."""
    with pytest.raises(DataError, match="division by zero"), ExitStack() as stack:
        _Session(engine, stack).execute(Fetch("SELECT 1 / 0", {}, only=True))
    with engine.connect() as connection:
        assert _autocommit(connection) is False
        assert connection.execute(text("SELECT 2")).scalar_one() == 2


def test_an_async_engine_bound_row_read_runs_without_a_transaction_of_its_own(
    mp_pg_settings: PostgresSettings,
    engine: Engine,
    series: int,
    make_series: SeriesMaker,
) -> None:
    """The asyncpg twin of the typed-row reads, a latest print run again over all time
    (a series with nothing in the year before T) included."""
    old = make_series()
    ingest(engine, "macro", [macro(old, utc(2020, 1), utc(2020, 2), 2.0)])

    async def reads(engine: Any) -> None:
        reader = AsyncReader(engine)
        assert len(await reader.as_of("macro", series, as_of=T, **YEAR)) == 1
        await reader.as_of("macro", series, as_of=T, ingested_before=utc(2100), **YEAR)
        assert len(await reader.as_of("macro", series, as_of=T)) == 1
        latest = await reader.latest("macro", [old, series], as_of=T)
        assert [row.series_id for row in latest] == sorted([old, series])

    transaction = ["BEGIN;", "ROLLBACK;"]
    assert _async_sent(mp_pg_settings, reads) == [[], transaction, transaction, []]


def _async_sent(settings: PostgresSettings, reads: Any) -> list[list[str]]:
    """BEGIN and ROLLBACK as asyncpg logs them, one list a checkout, while ``reads(engine)``
    runs (the pool's pre-ping, before a checkout, is left out)."""
    sent: list[str] = []

    def later(mark: str) -> None:
        # asyncpg hands logged queries to its loggers with call_soon: marks go the same way,
        # so both keep the order they happened in.
        asyncio.get_running_loop().call_soon(sent.append, mark)

    def connected(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(
            lambda logged: sent.append(logged.query)
        )

    async def run_reads() -> None:
        engine = create_db_engine_async(settings)
        pool = engine.sync_engine.pool
        event.listen(pool, "connect", connected)
        event.listen(pool, "checkout", lambda *_: later("checkout"))
        event.listen(pool, "checkin", lambda *_: later("checkin"))
        try:
            await reads(engine)
        finally:
            await engine.dispose()

    run(run_reads())
    lent = [part.split("checkin")[0] for part in " ".join(sent).split("checkout")[1:]]
    return [[word for word in part.split() if word in {"BEGIN;", "ROLLBACK;"}] for part in lent]
