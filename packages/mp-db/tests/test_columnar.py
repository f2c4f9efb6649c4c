"""Columnar reads on a real server, both drivers: NULLs, empty answers, time zones, text the
fixed-width layout cannot carry, snapshots, pandas and polars, and the wide shapes."""

from __future__ import annotations

import math
from datetime import UTC, datetime
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
    AsyncDatabase,
    AsyncFrameReader,
    AsyncFrameStream,
    AsyncReader,
    BadInputError,
    Columnar,
    Database,
    Form,
    FrameReader,
    FrameStream,
    MacroObservationRow,
    Reader,
    backtest_wide,
    create_db_engine_async,
    curve_wide,
    fetch_arrow,
    fetch_arrow_async,
    ingest,
    positioning_wide,
)
from mp_db._columnar import Column, render_sql
from mp_db._read_queries import Query, Ranged, _Queries
from mp_db.exceptions import ConfigurationError
from mp_schema import FACT_TABLES
from mp_schema.models import BOOKKEEPING_COLUMNS

T = utc(2025, 1)


FORMS: dict[str, Form[Any]] = {"arrow": ARROW, "pandas": PANDAS, "polars": POLARS}


class Readers:
    """Reads through the psycopg or asyncpg readers: rows (Reader, AsyncReader), or a table
    (FrameReader, AsyncFrameReader) as Arrow, pandas or polars."""

    def __init__(self, name: str, engine: Engine, settings: PostgresSettings) -> None:
        self.name, self.engine, self.settings = name, engine, settings

    def read(self, output: str, method: str, *args: Any, **options: Any) -> Any:
        if self.name == "sync":
            reader = (
                Reader(self.engine) if output == "rows" else FrameReader(self.engine, FORMS[output])
            )
            return getattr(reader, method)(*args, **options)

        async def read() -> Any:
            engine = create_db_engine_async(self.settings)
            try:
                chosen = (
                    AsyncReader(engine)
                    if output == "rows"
                    else AsyncFrameReader(engine, FORMS[output])
                )
                return await getattr(chosen, method)(*args, **options)
            finally:
                await engine.dispose()

        return run(read())


@pytest.fixture(params=["sync", "async"])
def readers(
    request: pytest.FixtureRequest, engine: Engine, mp_pg_settings: PostgresSettings
) -> Readers:
    """The psycopg path, then the asyncpg path."""
    return Readers(str(request.param), engine, mp_pg_settings)


def test_parameters_render_as_literals() -> None:
    """COPY binds nothing, so parameters become literals: integers, integer arrays,
    timezone-aware datetimes and NULL; anything else is refused, naming the parameter."""
    sql = "SELECT :a, CAST(:ids AS integer[]), :t, :none, CAST(:times AS timestamptz[])"
    rendered = render_sql(
        sql, {"a": 7, "ids": [1, 2], "t": utc(2024, 3), "none": None, "times": [utc(2024, 1)]}
    )
    assert rendered == (
        "SELECT 7, CAST('{1,2}' AS integer[]), '2024-03-01T00:00:00+00:00', NULL, "
        """CAST('{"2024-01-01T00:00:00+00:00"}' AS timestamptz[])"""
    )
    with pytest.raises(ConfigurationError, match="'t'"):
        render_sql(":t", {"t": datetime(2024, 1, 1)})
    with pytest.raises(ConfigurationError, match="'s'"):
        render_sql(":s", {"s": "text"})
    with pytest.raises(ConfigurationError, match="not bound"):
        render_sql(":missing", {})


def test_frame_reads_refuse_what_the_row_reads_refuse(engine: Engine) -> None:
    """The frame readers run the row reads' argument checks: a naive datetime is refused."""
    with pytest.raises(BadInputError, match="as_of"):
        FrameReader(engine, ARROW).as_of("macro", 1, as_of=datetime(2024, 1, 1))


def test_frame_readers_offer_the_row_reads() -> None:
    """Each frame reader has every read of its row reader but the streamed one and ``run``
    (and ``stream``, the same reads in batches: all of them but ``cutoff``), each made from
    the same core method (same name and docstring); mypy checks that their parameters are
    the row reads' (they are typed from the same generator methods)."""
    pairs = ((FrameReader, Reader), (AsyncFrameReader, AsyncReader))
    for (frames, rows), streams in zip(pairs, (FrameStream, AsyncFrameStream), strict=True):
        names = {name for name in vars(frames) if not name.startswith("_")}
        row_names = {name for name in vars(rows) if not name.startswith("_")}
        assert names == row_names - {"run", "iter_vintages"} | {"stream"}
        streamed = {name for name in vars(streams) if not name.startswith("_")}
        assert streamed == names - {"cutoff", "stream"}
        for name in names - {"stream"}:
            assert getattr(frames, name).__doc__ == getattr(rows, name).__doc__, name
            assert getattr(frames, name).__doc__
        for name in streamed:
            assert getattr(streams, name).__doc__ == getattr(rows, name).__doc__, name


def test_frame_reads_are_typed_by_their_form(engine: Engine, make_series: SeriesMaker) -> None:
    """mypy types a frame read by the reader's form: ``pyarrow.Table``, ``pandas.DataFrame``,
    ``polars.DataFrame`` (not Any: ``assert_type`` fails on Any, and pyarrow-stubs are in the
    typecheck session), whatever names the table; the answers are those types, equal."""
    series = make_series()
    ingest(engine, "macro", [macro(series, utc(2024, 1), utc(2024, 2), 1.0)])
    typed = FrameReader(engine, ARROW).as_of(MacroObservationRow, series, as_of=T)
    table = assert_type(typed, pa.Table)
    named = assert_type(FrameReader(engine, ARROW).latest("macro", [series], as_of=T), pa.Table)
    frame = assert_type(FrameReader(engine, PANDAS).latest("macro", series, as_of=T), pd.DataFrame)
    polars_frame = assert_type(
        FrameReader(engine, POLARS).latest("macro", series, as_of=T), pl.DataFrame
    )
    assert table.equals(named)
    assert isinstance(table, pa.Table)
    assert isinstance(frame, pd.DataFrame)
    assert isinstance(polars_frame, pl.DataFrame)
    assert table.column("value").to_pylist() == list(frame["value"]) == [1.0]
    assert polars_frame["value"].to_list() == [1.0]


def test_a_database_gives_frame_readers(
    engine: Engine, mp_pg_settings: PostgresSettings, make_series: SeriesMaker
) -> None:
    """``Database.frames(form)`` and ``AsyncDatabase.frames(form)`` read on the read engine in
    that form."""
    series = make_series()
    ingest(engine, "macro", [macro(series, utc(2024, 1), utc(2024, 2), 3.0)])
    with Database(mp_pg_settings) as db:
        frame = db.frames(PANDAS).latest("macro", series, as_of=T)
    assert list(frame["value"]) == [3.0]

    async def read() -> pa.Table:
        async with AsyncDatabase(mp_pg_settings) as adb:
            return await adb.frames(ARROW).latest("macro", series, as_of=T)

    assert run(read()).column("value").to_pylist() == [3.0]


def test_a_database_streams_in_the_batch_size_it_is_given(
    engine: Engine, mp_pg_settings: PostgresSettings, make_series: SeriesMaker
) -> None:
    """``Database.frames(form, batch_rows=N).stream`` (and the async one) yields batches of at
    most N rows that together are the whole answer."""
    series = make_series()
    rows = [
        macro(series, utc(2024, month), utc(2024, month, 20), float(month)) for month in range(1, 8)
    ]
    ingest(engine, "macro", rows)
    with Database(mp_pg_settings) as db:
        batches = list(db.frames(ARROW, batch_rows=3).stream.as_of("macro", series, as_of=T))
    assert [batch.num_rows for batch in batches] == [3, 3, 1]

    async def read() -> list[pa.Table]:
        async with AsyncDatabase(mp_pg_settings) as adb:
            stream = adb.frames(ARROW, batch_rows=2).stream.as_of("macro", series, as_of=T)
            return [batch async for batch in stream]

    sizes = [batch.num_rows for batch in run(read())]
    assert sizes == [2, 2, 2, 1]


def test_a_database_leaves_bookkeeping_out_when_asked(
    engine: Engine, mp_pg_settings: PostgresSettings, make_series: SeriesMaker
) -> None:
    """``frames(form, bookkeeping=False)``, its stream and the async one give the same rows
    without revision, knowledge_time_source, ingested_at and ingest_id."""
    series = make_series()
    ingest(engine, "macro", [macro(series, utc(2024, 1), utc(2024, 2), 3.0)])
    narrow = ["series_id", "obs_time", "knowledge_time", "value"]
    with Database(mp_pg_settings) as db:
        whole = db.frames(ARROW).as_of("macro", series, as_of=T)
        table = db.frames(ARROW, bookkeeping=False).as_of("macro", series, as_of=T)
        batches = list(db.frames(ARROW, bookkeeping=False).stream.as_of("macro", series, as_of=T))
    assert "ingest_id" in whole.column_names
    assert table.column_names == narrow
    assert table.equals(whole.select(narrow))
    assert pa.concat_tables(batches).equals(table)

    async def read() -> tuple[pa.Table, list[pa.Table]]:
        async with AsyncDatabase(mp_pg_settings) as adb:
            frames = adb.frames(ARROW, bookkeeping=False)
            one = await frames.latest("macro", series, as_of=T)
            return one, [batch async for batch in frames.stream.latest("macro", series, as_of=T)]

    one, streamed = run(read())
    assert one.column_names == narrow
    assert one.column("value").to_pylist() == [3.0]
    assert pa.concat_tables(streamed).equals(one)


def test_an_empty_backtest_is_a_table_with_its_columns(readers: Readers) -> None:
    """A backtest without decision times gives no rows but every column of the answer."""
    table = readers.read("arrow", "backtest", "macro", [1], [])
    assert table.num_rows == 0
    assert table.column_names[:3] == ["decision_time", "series_id", "obs_time"]
    assert readers.read("rows", "backtest", "macro", [1], []) == []


def test_nulls_are_arrow_nulls(readers: Readers, make_series: SeriesMaker) -> None:
    """NULL values are Arrow nulls (NaN in pandas, null in polars), next to set values."""
    series = make_series("market_bar", frequency="daily")
    ingest(
        readers.engine,
        "market_bars",
        [
            {"series_id": series, "obs_time": utc(2024, 1, 2), "knowledge_time": utc(2024, 1, 3)}
            | {"close": 101.5},
            {"series_id": series, "obs_time": utc(2024, 1, 3), "knowledge_time": utc(2024, 1, 4)}
            | {"close": 102.0, "open": 100.0},
        ],
    )
    table = readers.read("arrow", "as_of", "market_bars", series, as_of=T)
    assert table.column("close").to_pylist() == [101.5, 102.0]
    assert table.column("open").to_pylist() == [None, 100.0]
    assert table.column("open").null_count == 1
    frame = readers.read("pandas", "as_of", "market_bars", series, as_of=T)
    assert math.isnan(frame["open"][0])
    assert frame["open"][1] == 100.0
    polars_frame = readers.read("polars", "as_of", "market_bars", series, as_of=T)
    assert polars_frame["open"].to_list() == [None, 100.0]


def test_empty_answers_keep_the_schema(readers: Readers, make_series: SeriesMaker) -> None:
    """A read that finds nothing is an empty table with every column and its type."""
    series = make_series()
    table = readers.read("arrow", "as_of", "macro", series, as_of=T)
    assert table.num_rows == 0
    assert table.schema.field("obs_time").type == pa.timestamp("us", tz="UTC")
    assert table.column_names[:3] == ["series_id", "obs_time", "knowledge_time"]
    frame = readers.read("pandas", "latest", "macro", [series], as_of=T)
    assert frame.empty
    assert "value" in frame.columns


def test_times_are_utc_everywhere(readers: Readers, make_series: SeriesMaker) -> None:
    """Timestamps are timezone-aware UTC in Arrow, pandas and polars, and equal the rows'
    (microseconds kept)."""
    series = make_series()
    known = datetime(2024, 2, 10, 13, 30, 0, 123_456, tzinfo=UTC)
    ingest(readers.engine, "macro", [macro(series, utc(2024, 1), known, 1.25)])
    rows = readers.read("rows", "as_of", "macro", series, as_of=T)
    table = readers.read("arrow", "as_of", "macro", series, as_of=T)
    assert table.column("knowledge_time").to_pylist() == [known] == [rows[0].knowledge_time]
    frame = readers.read("pandas", "as_of", "macro", series, as_of=T)
    assert str(frame["knowledge_time"].dt.tz) == "UTC"
    assert frame["knowledge_time"][0] == pd.Timestamp(known)
    polars_frame = readers.read("polars", "as_of", "macro", series, as_of=T)
    assert polars_frame.schema["knowledge_time"] == pl.Datetime("us", "UTC")


def test_text_that_breaks_fixed_width_falls_back(readers: Readers) -> None:
    """Non-ASCII text is wider than its declared characters: the decoder sees the row is not
    of fixed width and the same answer is read as rows; ASCII keeps trailing spaces."""
    columnar = Columnar((Column("word", "text", width=4), Column("n", "int4")))
    for word in ("ab ", "é€", ""):
        sql = f"SELECT CAST('{word}' AS varchar(4)) AS word, CAST(:n AS integer) AS n"
        assert _fetch(readers, sql, columnar).to_pylist() == [{"word": word, "n": 3}]


def test_text_that_breaks_fixed_width_falls_back_without_the_columns_left_out(
    readers: Readers,
) -> None:
    """A table that leaves some of the statement's columns out, read as rows because its text
    breaks the fixed width, holds the kept columns' values, not the ones beside them."""
    columns = (Column("n", "int4"), Column("word", "text", width=4), Column("m", "int4"))
    columnar = Columnar(columns).without({"n"})
    assert [column.name for column in columnar.columns] == ["word", "m"]
    for word in ("ab", "é€"):
        sql = (
            "SELECT CAST(:n AS integer) AS n, "
            f"CAST('{word}' AS varchar(4)) AS word, CAST(:n AS integer) + 2 AS m"
        )
        assert _fetch(readers, sql, columnar).to_pylist() == [{"word": word, "m": 5}]


def _fetch(readers: Readers, sql: str, columnar: Columnar) -> pa.Table:
    """``fetch_arrow`` (or its async twin) of ``sql`` with ``n`` = 3."""
    if readers.name == "sync":
        with readers.engine.connect() as connection:
            return fetch_arrow(connection, sql, {"n": 3}, columnar)
    table: pa.Table = run(_fetch_async(readers.settings, sql, columnar))
    return table


def test_a_coded_column_outside_its_list_is_read_as_rows(readers: Readers) -> None:
    """A column sent as positions in its list of values gives those values and its NULLs;
    one value outside the list makes the whole answer come from rows, with that value."""
    columnar = Columnar(
        (
            Column("n", "int4"),
            Column("source", "text", nullable=True, width=16, choices=("vendor", "rule")),
        )
    )
    for values in (["rule", None, "vendor"], ["vendor", "captured", None]):
        cells = ", ".join("NULL" if v is None else f"'{v}'" for v in values)
        sql = (
            "SELECT CAST(:n AS integer) + k AS n, CAST(v AS varchar(16)) AS source "  # noqa: S608
            f"FROM unnest(ARRAY[{cells}]::text[]) WITH ORDINALITY AS u(v, k) ORDER BY k"
        )
        expected = [{"n": 4 + at, "source": value} for at, value in enumerate(values)]
        assert _fetch(readers, sql, columnar).to_pylist() == expected


async def _fetch_async(settings: PostgresSettings, sql: str, columnar: Columnar) -> Any:
    engine = create_db_engine_async(settings)
    try:
        async with engine.connect() as connection:
            return await fetch_arrow_async(connection, sql, {"n": 3}, columnar)
    finally:
        await engine.dispose()


def test_columnar_read_joins_the_callers_snapshot(engine: Engine, make_series: SeriesMaker) -> None:
    """On a Connection in a REPEATABLE READ transaction the columnar read sees that snapshot,
    not rows committed since; the backtest's planner setting is put back afterwards."""
    series = make_series()
    ingest(engine, "macro", [macro(series, utc(2024, 1), utc(2024, 2), 1.0)])
    with engine.connect() as connection:
        snapshot = connection.execution_options(isolation_level="REPEATABLE READ")
        assert len(Reader(snapshot).as_of("macro", series, as_of=T)) == 1
        ingest(engine, "macro", [macro(series, utc(2024, 2), utc(2024, 3), 2.0)])
        arrow_reader = FrameReader(snapshot, ARROW)
        assert arrow_reader.as_of("macro", series, as_of=T).num_rows == 1
        arrow_reader.backtest("macro", [series], [T])
        setting = text("SELECT current_setting('timescaledb.enable_runtime_exclusion')")
        assert snapshot.execute(setting).scalar() == "on"
    fresh = FrameReader(engine, ARROW)
    assert fresh.as_of("macro", series, as_of=T).num_rows == 2


def test_async_columnar_read_joins_the_callers_snapshot(
    engine: Engine, mp_pg_settings: PostgresSettings, make_series: SeriesMaker
) -> None:
    """The asyncpg twin: a columnar read on an AsyncConnection runs inside its transaction."""
    series = make_series()
    ingest(engine, "macro", [macro(series, utc(2024, 1), utc(2024, 2), 1.0)])

    async def check() -> tuple[int, int]:
        async_engine = create_db_engine_async(mp_pg_settings)
        try:
            async with async_engine.connect() as connection:
                snapshot = await connection.execution_options(isolation_level="REPEATABLE READ")
                reader = AsyncFrameReader(snapshot, ARROW)
                first = (await reader.as_of("macro", series, as_of=T)).num_rows
                ingest(engine, "macro", [macro(series, utc(2024, 2), utc(2024, 3), 2.0)])
                second = (await reader.as_of("macro", series, as_of=T)).num_rows
                return first, second
        finally:
            await async_engine.dispose()

    assert run(check()) == (1, 1)


def test_curve_as_tenor_columns(readers: Readers, make_series: SeriesMaker) -> None:
    """A curve read pivots to one row per observation and one column per tenor in maturity
    order; a tenor missing on a day is null."""
    series = make_series("curve", frequency="daily")
    points = [
        (utc(2024, 1, 2), "10Y", 4.0),
        (utc(2024, 1, 2), "1M", 5.0),
        (utc(2024, 1, 2), "3M", 5.1),
        (utc(2024, 1, 3), "1M", 5.2),
    ]
    ingest(
        readers.engine,
        "curve_points",
        [
            {"series_id": series, "obs_time": obs, "tenor": tenor}
            | {"knowledge_time": obs + days(1), "value": value}
            for obs, tenor, value in points
        ],
    )
    wide = curve_wide(readers.read("arrow", "as_of", "curve_points", series, as_of=T))
    assert wide.column_names == ["series_id", "obs_time", "1M", "3M", "10Y"]
    assert wide.to_pylist() == [
        {"series_id": series, "obs_time": utc(2024, 1, 2), "1M": 5.0, "3M": 5.1, "10Y": 4.0},
        {"series_id": series, "obs_time": utc(2024, 1, 3), "1M": 5.2, "3M": None, "10Y": None},
    ]


def test_positioning_as_category_columns(readers: Readers, make_series: SeriesMaker) -> None:
    """Positioning pivots to one column per trader category, for the figure asked for."""
    series = make_series("positioning", frequency="weekly")
    ingest(
        readers.engine,
        "positioning_flows",
        [
            {"series_id": series, "obs_time": utc(2024, 1, 2), "category": category}
            | {"knowledge_time": utc(2024, 1, 5), "long_positions": long, "value": long - 1}
            for category, long in (("commercial", 10.0), ("noncommercial", 20.0))
        ],
    )
    table = readers.read("arrow", "latest", "positioning_flows", [series], as_of=T)
    wide = positioning_wide(table, value="long_positions")
    assert wide.to_pylist() == [
        {"series_id": series, "obs_time": utc(2024, 1, 2)}
        | {"commercial": 10.0, "noncommercial": 20.0}
    ]


def test_backtest_as_decision_time_by_series(readers: Readers, make_series: SeriesMaker) -> None:
    """A backtest pivots to one row per decision time and one column per series, null where
    nothing was known yet; its table rows equal the AsOfValue answer."""
    first, second = make_series(), make_series()
    ingest(
        readers.engine,
        "macro",
        [
            macro(first, utc(2024, 1), utc(2024, 2), 1.0),
            macro(first, utc(2024, 1), utc(2024, 4), 1.5),
            macro(second, utc(2024, 2), utc(2024, 3), 7.0),
        ],
    )
    times = [utc(2024, 3, 15), utc(2024, 1, 15), utc(2024, 5)]
    table = readers.read("arrow", "backtest", "macro", [second, first], times)
    assert table.num_rows == 6
    wide = backtest_wide(table)
    assert wide.to_pylist() == [
        {"decision_time": utc(2024, 1, 15), str(first): None, str(second): None},
        {"decision_time": utc(2024, 3, 15), str(first): 1.0, str(second): 7.0},
        {"decision_time": utc(2024, 5), str(first): 1.5, str(second): 7.0},
    ]
    rows = readers.read("rows", "backtest", "macro", [second, first], times)
    assert [(value.decision_time, value.series_id) for value in rows] == list(
        zip(
            table.column("decision_time").to_pylist(),
            table.column("series_id").to_pylist(),
            strict=True,
        )
    )


def test_pivot_refuses_two_values_for_one_cell() -> None:
    """Two rows for one cell are refused, never one silently kept."""
    table = pa.table({"decision_time": [T, T], "series_id": [1, 1], "value": [1.0, 2.0]})
    with pytest.raises(BadInputError, match="one 'value' per cell"):
        backtest_wide(table)


def test_an_error_during_copy_is_raised_and_the_connection_recovers(readers: Readers) -> None:
    """A statement failing on the server raises its error (nothing decoded from half a COPY),
    and the connection works again after the rollback."""
    columnar = Columnar((Column("n", "int4"),))
    sql = "SELECT CAST(1 / (g - 3) AS integer) AS n FROM generate_series(1, 5) g"
    if readers.name == "sync":
        with readers.engine.connect() as connection:
            with pytest.raises(Exception, match="division by zero"):
                fetch_arrow(connection, sql, {}, columnar)
            connection.rollback()
            assert connection.execute(text("SELECT 7")).scalar() == 7
        return

    async def check() -> int:
        engine = create_db_engine_async(readers.settings)
        try:
            async with engine.connect() as connection:
                with pytest.raises(Exception, match="division by zero"):
                    await fetch_arrow_async(connection, sql, {}, columnar)
                await connection.rollback()
                return int((await connection.execute(text("SELECT 7"))).scalar_one())
        finally:
            await engine.dispose()

    assert run(check()) == 7


def _queries_with_tables(table: str, series_id: int) -> dict[str, Query[Any]]:
    """Every read of ``table`` answered as a table, on one series and on several, over all
    time and over a window (statements of their own)."""
    queries: dict[str, Query[Any]] = {}
    windows = {"all time": (None, None), "a window": (utc(2024), T)}
    for label, ids in (("one", [series_id]), ("several", [series_id, series_id + 1])):
        for over, (start, end) in windows.items():
            window: dict[str, Any] = {"start": start, "end": end, "ingested_before": None}
            queries[f"as_of/{label}/{over}"] = _Queries.as_of(
                table, series_ids=ids, as_of=T, **window
            )
            for shape in Ranged:
                queries[f"{shape.value}/{label}/{over}"] = _Queries.ranged(
                    table, shape, series_ids=ids, as_of=T, **window
                )
        queries[f"stream/{label}"] = _Queries.stream(table, ids, T, None)
    queries["latest"] = _Queries.latest(table, [series_id], T, None, bounded=True)
    queries["cross_section"] = _Queries.cross_section(table, T, T, None, None)
    queries["cross_section_of"] = _Queries.cross_section(table, T, T, [series_id], None)
    queries["backtest"] = _Queries.backtest(table, [series_id], [T], None)
    return queries


@pytest.mark.parametrize("table", sorted(FACT_TABLES))
def test_every_lean_statement_selects_the_columns_its_table_keeps(
    engine: Engine, table: str
) -> None:
    """A frame read without the bookkeeping columns runs its statement's lean twin (which
    never reads them): the twin selects exactly the columns the table keeps, in their order,
    so rows fetched from it (the fallback) map onto the table positionally."""
    for label, query in _queries_with_tables(table, 1).items():
        assert query.columnar is not None, label
        sql, columnar = query.columnar.without_bookkeeping(query.sql)
        assert sql != query.sql, label
        assert columnar.positions is None, label
        kept = [column.name for column in columnar.columns]
        assert not set(kept) & set(BOOKKEEPING_COLUMNS), label
        with engine.connect() as connection:
            names = list(connection.execute(text(sql), query.parameters).keys())
        assert names == kept, label
