"""Streamed frame reads on a real server, both drivers: batches bounded and in the answer's
order, each form, the caller's snapshot kept, closing early, errors mid-stream, and text the
fixed-width layout cannot carry. (Every read x every table against the one-shot answer is in
``test_columnar_reference.py``.)"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Generator, Iterator
from contextlib import aclosing, closing
from typing import Any, assert_type

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from conftest import SeriesMaker, days, macro, run, utc
from sqlalchemy import Engine, text

from mp_config import PostgresSettings
from mp_db import (
    ARROW,
    PANDAS,
    POLARS,
    AsyncFrameReader,
    AsyncFrameStream,
    BadInputError,
    Columnar,
    ConnectionLostError,
    FrameReader,
    FrameStream,
    create_db_engine_async,
    ingest,
)
from mp_db._columnar import Column, copy_statement
from mp_db._columnar_fetch import stream_arrow, stream_arrow_async
from mp_db._copy_batches import BatchDecoder, CopyStreamError

T = utc(2025, 1)
MONTHS = 60


def _history(engine: Engine, make_series: SeriesMaker, count: int = 3) -> list[int]:
    """``count`` monthly series of MONTHS observations, each printed then revised."""
    ids = [make_series() for _ in range(count)]
    rows = []
    for series in ids:
        for month in range(MONTHS):
            obs = utc(2019 + month // 12, month % 12 + 1)
            rows.append(macro(series, obs, obs + days(5), float(month)))
            rows.append(macro(series, obs, obs + days(40), float(month) + 0.5))
    ingest(engine, "macro", rows)
    return ids


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_batches_are_bounded_and_concatenate_to_the_answer(
    driver: str, engine: Engine, mp_pg_settings: PostgresSettings, make_series: SeriesMaker
) -> None:
    """Every batch holds at most batch_rows rows, all but the last exactly that many, and
    together they are the one-shot answer in its order (the as-of read, whose statement
    returns its rows reversed, included)."""
    ids = _history(engine, make_series)
    whole = FrameReader(engine, ARROW).as_of("macro", ids, as_of=T)
    assert whole.num_rows == 3 * MONTHS
    for size in (1, 7, 60, 1000):
        batches = _batches(driver, engine, mp_pg_settings, size, ids)
        assert [batch.num_rows for batch in batches[:-1]] == [size] * (len(batches) - 1)
        assert 1 <= batches[-1].num_rows <= size
        assert pa.concat_tables(batches).equals(whole), size


def _batches(
    driver: str, engine: Engine, settings: PostgresSettings, size: int, ids: list[int]
) -> list[pa.Table]:
    if driver == "sync":
        return list(FrameReader(engine, ARROW, batch_rows=size).stream.as_of("macro", ids, as_of=T))

    async def read() -> list[pa.Table]:
        async_engine = create_db_engine_async(settings)
        try:
            stream = AsyncFrameReader(async_engine, ARROW, batch_rows=size).stream
            return [batch async for batch in stream.as_of("macro", ids, as_of=T)]
        finally:
            await async_engine.dispose()

    return run(read())


def test_batches_come_in_the_readers_form(
    engine: Engine, mp_pg_settings: PostgresSettings, make_series: SeriesMaker
) -> None:
    """pandas and polars batches, typed by the form (sync: a Generator, async: an
    AsyncGenerator), holding the one-shot frame's rows."""
    ids = _history(engine, make_series, count=1)
    pandas_stream = FrameReader(engine, PANDAS, batch_rows=25).stream
    assert_type(pandas_stream, FrameStream[pd.DataFrame])
    assert_type(pandas_stream.vintages("macro", ids, as_of=T), Generator[pd.DataFrame, None, None])
    frames = list(pandas_stream.vintages("macro", ids, as_of=T))
    assert all(len(frame) <= 25 for frame in frames)
    whole = FrameReader(engine, PANDAS).vintages("macro", ids, as_of=T)
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), whole)
    polars_frames = list(FrameStream(engine, POLARS, batch_rows=50).latest("macro", ids, as_of=T))
    assert all(isinstance(frame, pl.DataFrame) for frame in polars_frames)
    assert [frame.height for frame in polars_frames] == [1]

    async def polars_async() -> list[pl.DataFrame]:
        async_engine = create_db_engine_async(mp_pg_settings)
        try:
            stream = AsyncFrameReader(async_engine, POLARS, batch_rows=50).stream
            assert_type(stream, AsyncFrameStream[pl.DataFrame])
            batches = stream.latest("macro", ids, as_of=T)
            assert_type(batches, AsyncGenerator[pl.DataFrame, None])
            return [batch async for batch in batches]
        finally:
            await async_engine.dispose()

    assert run(polars_async())[0].equals(polars_frames[0])


def test_an_empty_answer_is_one_empty_batch(engine: Engine, make_series: SeriesMaker) -> None:
    """Nothing found is one batch of no rows that still carries the columns and types."""
    series = make_series()
    batches = list(FrameReader(engine, ARROW).stream.as_of("macro", series, as_of=T))
    assert [batch.num_rows for batch in batches] == [0]
    assert batches[0].schema == FrameReader(engine, ARROW).as_of("macro", series, as_of=T).schema
    empty = list(FrameReader(engine, ARROW).stream.backtest("macro", [series], []))
    assert [batch.num_rows for batch in empty] == [0]
    assert "decision_time" in empty[0].column_names


def test_batch_rows_must_be_positive(engine: Engine) -> None:
    """A batch of no rows is refused when the stream is made, naming the value."""
    with pytest.raises(BadInputError, match="batch_rows must be at least 1, not 0"):
        FrameStream(engine, ARROW, batch_rows=0)
    with pytest.raises(BadInputError, match="not -3"):
        _ = FrameReader(engine, ARROW, batch_rows=-3).stream


def test_bad_input_is_refused_at_the_first_batch(engine: Engine) -> None:
    """The same refusal as the one-shot read, when the first batch is asked for."""
    batches = FrameReader(engine, ARROW).stream.as_of("macro", 1, as_of=T.replace(tzinfo=None))
    with pytest.raises(BadInputError):
        next(batches)


def test_a_stream_keeps_the_callers_snapshot_and_closing_early_keeps_the_transaction(
    engine: Engine, make_series: SeriesMaker
) -> None:
    """In a REPEATABLE READ transaction a stream sees its snapshot; closed after one batch,
    the COPY is cancelled and the same transaction goes on: its snapshot, its own writes and
    the planner setting of a backtest (put back) are as before."""
    ids = _history(engine, make_series)
    with engine.connect() as connection:
        snapshot = connection.execution_options(isolation_level="REPEATABLE READ")
        stream = FrameReader(snapshot, ARROW, batch_rows=10).stream
        before = pa.concat_tables(list(stream.as_of("macro", ids, as_of=T)))
        ingest(engine, "macro", [macro(ids[0], utc(2030, 1), utc(2030, 2), 9.0)])
        snapshot.execute(text("CREATE TEMPORARY TABLE mine (n int)"))
        with closing(stream.as_of("macro", ids, as_of=utc(2031, 1))) as batches:
            assert next(batches).num_rows == 10
        with closing(stream.backtest("macro", ids, [T, utc(2024, 1)])) as probes:
            assert next(probes).num_rows == 6
        setting = text("SELECT current_setting('timescaledb.enable_runtime_exclusion')")
        assert snapshot.execute(setting).scalar() == "on"
        assert snapshot.execute(text("SELECT count(*) FROM mine")).scalar() == 0
        again = pa.concat_tables(list(stream.as_of("macro", ids, as_of=utc(2031, 1))))
        assert again.num_rows == before.num_rows  # the row ingested since is not seen
        snapshot.rollback()
    seen = FrameReader(engine, ARROW).as_of("macro", ids, as_of=utc(2031, 1))
    assert seen.num_rows == before.num_rows + 1


def test_async_closing_early_keeps_the_transaction(
    engine: Engine, mp_pg_settings: PostgresSettings, make_series: SeriesMaker
) -> None:
    """The asyncpg twin: aclose() after one batch, then the transaction reads on, in its
    snapshot; a stream on an engine closed early gives its connection back usable."""
    ids = _history(engine, make_series)

    async def check() -> tuple[int, int, int]:
        async_engine = create_db_engine_async(mp_pg_settings)
        try:
            async with async_engine.connect() as connection:
                snapshot = await connection.execution_options(isolation_level="REPEATABLE READ")
                stream = AsyncFrameReader(snapshot, ARROW, batch_rows=10).stream
                first = [batch async for batch in stream.as_of("macro", ids, as_of=T)]
                ingest(engine, "macro", [macro(ids[0], utc(2030, 1), utc(2030, 2), 9.0)])
                async with aclosing(stream.as_of("macro", ids, as_of=utc(2031, 1))) as batches:
                    assert (await anext(batches)).num_rows == 10
                again = [batch async for batch in stream.as_of("macro", ids, as_of=utc(2031, 1))]
                alive = (await snapshot.execute(text("SELECT 7"))).scalar_one()
            pooled = AsyncFrameReader(async_engine, ARROW, batch_rows=5).stream
            for _ in range(3):  # more than once: the pool hands back the same connection
                async with aclosing(pooled.as_of("macro", ids, as_of=T)) as batches:
                    await anext(batches)
            whole = [batch async for batch in pooled.as_of("macro", ids, as_of=T)]
            return (
                sum(b.num_rows for b in first) - sum(b.num_rows for b in again),
                alive,
                len(pa.concat_tables(whole)),
            )
        finally:
            await async_engine.dispose()

    assert run(check()) == (0, 7, 3 * MONTHS)


def test_closing_early_on_an_engine_gives_the_connection_back(
    engine: Engine, make_series: SeriesMaker
) -> None:
    """A stream on an engine closed early leaves its pooled connection fit for the next read."""
    ids = _history(engine, make_series, count=1)
    stream = FrameReader(engine, ARROW, batch_rows=3).stream
    for _ in range(3):
        with closing(stream.as_of("macro", ids, as_of=T)) as batches:
            next(batches)
    assert sum(batch.num_rows for batch in stream.as_of("macro", ids, as_of=T)) == MONTHS


#: Three billion bytes on the wire (a set-returning function in the SELECT list streams):
#: reading it to its end would take minutes.
_MANY = "SELECT CAST(generate_series(1, 300000000) AS integer) AS n"
_N = Columnar((Column("n", "int4"),))


def test_closing_a_large_copy_early_cancels_it(engine: Engine) -> None:
    """Closed after the first batch of 300 million rows, the COPY is cancelled on the server
    (not drained: that would take minutes), and the caller's transaction reads on."""
    with engine.connect() as connection, connection.begin():
        connection.execute(text("CREATE TEMPORARY TABLE kept (n int)"))
        connection.execute(text("INSERT INTO kept VALUES (1)"))
        started = time.perf_counter()
        with closing(stream_arrow(connection, _MANY, {}, _N, 1000)) as batches:
            assert next(batches).column("n").to_pylist() == list(range(1, 1001))
        assert time.perf_counter() - started < 20
        assert connection.execute(text("SELECT sum(n) FROM kept")).scalar() == 1


def test_a_server_error_mid_stream_is_raised_after_the_batches_before_it(engine: Engine) -> None:
    """A statement failing after rows were sent: the batches before arrive, then its error;
    nothing is decoded from half a COPY."""
    sql = (
        "SELECT CAST(1000000 / (g - 2000000) AS integer) AS n "
        "FROM (SELECT generate_series(1, 3000000) AS g) s"
    )
    received: list[int] = []

    def count(batches: Iterator[pa.Table]) -> None:
        for batch in batches:
            received.append(batch.num_rows)

    with engine.connect() as connection:
        with pytest.raises(Exception, match="division by zero"):
            count(stream_arrow(connection, sql, {}, _N, 100_000))
        connection.rollback()
        assert connection.execute(text("SELECT 7")).scalar() == 7
    assert 0 < sum(received) < 2_000_000
    assert set(received) == {100_000}


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_connection_lost_mid_stream_is_an_mp_error(
    driver: str, engine: Engine, mp_pg_settings: PostgresSettings, make_series: SeriesMaker
) -> None:
    """The server ending the session after the first batch surfaces as ConnectionLostError."""
    ids = _history(engine, make_series)

    def kill(pid: int) -> None:
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    if driver == "sync":
        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            batches = FrameReader(connection, ARROW, batch_rows=5).stream.as_of(
                "macro", ids, as_of=T
            )
            next(batches)
            kill(pid)
            with pytest.raises(ConnectionLostError):
                list(batches)
            connection.invalidate()
        return

    async def check() -> None:
        async_engine = create_db_engine_async(mp_pg_settings)
        try:
            async with async_engine.connect() as connection:
                pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                stream = AsyncFrameReader(connection, ARROW, batch_rows=5).stream
                batches = stream.as_of("macro", ids, as_of=T)
                await anext(batches)
                kill(pid)
                with pytest.raises(ConnectionLostError):
                    async for _ in batches:
                        pass
                await connection.invalidate()
        finally:
            await async_engine.dispose()

    run(check())


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_text_that_breaks_fixed_width_is_walked_row_by_row(
    driver: str, engine: Engine, mp_pg_settings: PostgresSettings
) -> None:
    """A batch with non-ASCII text cannot be cut at fixed offsets: from there on the rows are
    walked field by field, and every batch still holds the right rows."""
    columnar = Columnar(
        (Column("word", "text", width=4), Column("n", "int4"), Column("x", "float8", True))
    )
    sql = (
        "SELECT CAST(CASE WHEN g % 5 = 0 THEN 'é€' ELSE 'ab ' END AS varchar(4)) AS word, "
        "CAST(g AS integer) AS n, "
        "CAST(CASE WHEN g % 3 = 0 THEN NULL ELSE g * 0.5 END AS float8) AS x "
        "FROM generate_series(1, 23) g ORDER BY g"
    )
    expected = [
        {"word": "é€" if n % 5 == 0 else "ab ", "n": n, "x": None if n % 3 == 0 else n * 0.5}
        for n in range(1, 24)
    ]
    if driver == "sync":
        with engine.connect() as connection:
            batches = list(stream_arrow(connection, sql, {}, columnar, 4))
    else:
        batches = run(_stream_async(mp_pg_settings, sql, columnar, 4))
    assert [batch.num_rows for batch in batches] == [4, 4, 4, 4, 4, 3]
    assert [row for batch in batches for row in batch.to_pylist()] == expected


#: A coded column (sent as positions in its list) beside text that breaks the fixed width.
_CODED = Columnar(
    (
        Column("word", "text", width=4),
        Column("source", "text", nullable=True, width=16, choices=("vendor", "rule")),
    )
)


def _coded_sql(unlisted: str) -> str:
    return (
        "SELECT CAST(CASE WHEN g % 4 = 0 THEN 'é' ELSE 'ab' END AS varchar(4)) AS word, "  # noqa: S608
        "CAST(CASE WHEN g % 3 = 0 THEN NULL WHEN g % 3 = 1 THEN 'rule' "
        f"WHEN g = 5 THEN '{unlisted}' ELSE 'vendor' END AS varchar(16)) AS source "
        "FROM generate_series(1, 9) g ORDER BY g"
    )


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_coded_text_is_walked_row_by_row_and_an_unlisted_value_is_refused(
    driver: str, engine: Engine, mp_pg_settings: PostgresSettings
) -> None:
    """Walked field by field, a coded column gives its listed values and its NULLs; a value
    outside its list (only a table without its CHECK could hold one) is an error, not a
    guess."""

    def stream(sql: str) -> list[pa.Table]:
        if driver == "sync":
            with engine.connect() as connection:
                return list(stream_arrow(connection, sql, {}, _CODED, 4))
        return run(_stream_async(mp_pg_settings, sql, _CODED, 4))

    expected = [
        {"word": "é" if g % 4 == 0 else "ab", "source": [None, "rule", "vendor"][g % 3]}
        for g in range(1, 10)
    ]
    batches = stream(_coded_sql("vendor"))
    assert [row for batch in batches for row in batch.to_pylist()] == expected
    with pytest.raises(CopyStreamError, match="source: a value outside vendor, rule"):
        stream(_coded_sql("captured"))


async def _stream_async(
    settings: PostgresSettings, sql: str, columnar: Columnar, size: int
) -> list[pa.Table]:
    engine = create_db_engine_async(settings)
    try:
        async with engine.connect() as connection:
            return [
                batch async for batch in stream_arrow_async(connection, sql, {}, columnar, size)
            ]
    finally:
        await engine.dispose()


def test_the_decoder_takes_any_cut_of_the_bytes(engine: Engine) -> None:
    """Fed one byte at a time (asyncpg's buffers split rows anywhere), the decoder gives the
    same batches as fed the whole body."""
    columnar = Columnar((Column("word", "text", width=3), Column("n", "int8", True)))
    sql = (
        "SELECT CAST(g::text AS varchar(3)) AS word, CAST(g AS bigint) AS n "
        "FROM generate_series(1, 9) g"
    )
    with engine.connect() as connection:
        raw: Any = connection.connection.driver_connection
        body = bytearray()
        with raw.cursor().copy(copy_statement(sql, columnar.columns)) as copy:
            for chunk in copy:
                body += chunk
    whole, split = BatchDecoder(columnar.columns, 4), BatchDecoder(columnar.columns, 4)
    fed_whole = whole.feed(bytes(body)) + whole.finish()
    fed_split = [batch for at in range(len(body)) for batch in split.feed(body[at : at + 1])]
    fed_split += split.finish()
    assert [b.num_rows for b in fed_whole] == [4, 4, 1]
    assert [b.to_pylist() for b in fed_split] == [b.to_pylist() for b in fed_whole]
