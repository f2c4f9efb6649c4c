"""The read shapes do bounded work: EXPLAIN ANALYZE counts the rows every scan touched.

A one-series range read asks for exactly the primary key's order, so an index scan gives it
without a Sort (checked with bitmap scans ruled out). Left free, the planner sorts long
one-series windows instead, which measured slower: as-of and first release over more than a
year carry ``INDEX_ORDER`` (checked here). What must never happen is reading rows outside the
request: another series, years outside the range, or (for the latest print) a series' whole
history.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import SeriesMaker, days, macro, utc
from sqlalchemy import Engine, text

from mp_db import ingest
from mp_db._arguments import END_OF_TIME
from mp_db._planner import INDEX_ORDER
from mp_db._read_queries import LATEST_WINDOW, Query, Ranged, _Queries
from mp_db._read_sql import read_sql
from mp_db._tables import resolve_table

YEARS = 8
VINTAGES = (1, 30)
AS_OF = utc(2025, 6, 1)
TABLE = "macro_observations"


@pytest.fixture
def loaded(engine: Engine, make_series: SeriesMaker) -> list[int]:
    """Four daily series over eight years (eight 1-year chunks), two vintages each, analyzed."""
    ids = [make_series(frequency="daily") for _ in range(4)]
    rows = []
    for series in ids:
        for day in range(YEARS * 365):
            obs = utc(2018, 1, 1) + days(day)
            for number, lag in enumerate(VINTAGES):
                rows.append(macro(series, obs, obs + days(lag), day + number / 2))
    ingest(engine, "macro", rows)
    with engine.connect() as connection:
        connection.execute(text("ANALYZE mp.macro_observations"))
        connection.commit()
    return ids


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _analyze(
    engine: Engine, sql: str, parameters: dict[str, Any], *, analyze: bool = True, **gucs: str
) -> list[dict[str, Any]]:
    """Every node of the statement's plan; ``gucs`` are planner settings for this one plan."""
    options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
    with engine.connect() as connection:
        for name, value in gucs.items():
            connection.execute(text(f"SET LOCAL {name} = {value}"))
        raw = connection.execute(text(f"EXPLAIN ({options}) {sql}"), parameters).scalar_one()
    document = raw if isinstance(raw, list) else json.loads(raw)
    return list(_nodes(document[0]["Plan"]))


def _rows_read(nodes: list[dict[str, Any]]) -> int:
    """Heap rows every scan touched: returned plus thrown away by a filter or a recheck."""
    total = 0
    for node in nodes:
        kind = node["Node Type"]
        if "Scan" not in kind or kind in {"Bitmap Index Scan", "Subquery Scan"}:
            continue  # an index's bitmap and a subquery's pass-through touch no heap row
        if node.get("Custom Plan Provider") in {"ChunkAppend", "ConstraintAwareAppend"}:
            continue  # TimescaleDB's appends pass their chunks' rows on; they scan nothing
        total += node["Actual Rows"] * node["Actual Loops"]
        total += node.get("Rows Removed by Filter", 0)
        total += node.get("Rows Removed by Index Recheck", 0)
    return total


def _stored(engine: Engine, series: int, start: datetime, end: datetime) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM mp.macro_observations WHERE series_id = :series "
                    "AND obs_time >= :start AND obs_time < :end AND knowledge_time <= :as_of"
                ),
                {"series": series, "start": start, "end": end, "as_of": AS_OF},
            ).scalar_one()
        )


RANGE_SHAPES = ["as_of", "first_release", "vintages", "stream", "intervals"]


def _range_parameters(ids: list[int], start: datetime, end: datetime) -> dict[str, Any]:
    series: dict[str, Any] = {"series_id": ids[0]} if len(ids) == 1 else {"series_ids": ids}
    return series | {"as_of": AS_OF, "start": start, "end": end}


@pytest.mark.parametrize("shape", RANGE_SHAPES)
@pytest.mark.parametrize("count", [1, 2], ids=["one-series", "two-series"])
def test_range_reads_touch_only_the_requested_rows(
    engine: Engine, loaded: list[int], shape: str, count: int
) -> None:
    """One year of eight: every row a scan touched belongs to the answer's input."""
    ids = loaded[1 : 1 + count]
    sql = getattr(read_sql(resolve_table("macro_observations"), one_series=count == 1), shape)
    start, end = utc(2021, 1, 1), utc(2022, 1, 1)
    nodes = _analyze(engine, sql, _range_parameters(ids, start, end))
    assert "Seq Scan" not in {node["Node Type"] for node in nodes}
    if shape == "stream":
        # The stream reads the series' whole history up to T by design (the client joins it).
        bound = sum(_stored(engine, series, utc(1900), utc(2100)) for series in ids)
    elif shape == "intervals":
        # Interval reads need every version, known at T or not: the whole range.
        bound = count * len(VINTAGES) * 365
    else:
        bound = sum(_stored(engine, series, start, end) for series in ids)
    touched = _rows_read(nodes)
    assert 0 < touched <= bound, f"{shape} touched {touched} rows, the request holds {bound}"


def _chunks(nodes: list[dict[str, Any]]) -> set[str]:
    return {node["Relation Name"] for node in nodes if "_chunk" in node.get("Relation Name", "")}


WINDOWED = ["as_of", "first_release", "vintages", "intervals", "cross_section"]


@pytest.mark.parametrize("shape", WINDOWED)
def test_reads_plan_only_the_chunks_of_their_window(
    engine: Engine, loaded: list[int], shape: str
) -> None:
    """mp's sessions plan with ``constraint_exclusion`` off (PostgreSQL's own proof against
    each chunk's CHECKs cost over a millisecond per read): TimescaleDB's expansion alone must
    keep a year's window to the one or two 1-year chunks it overlaps, of the eight. (The
    stream reads a series' whole history by design.)"""
    with engine.connect() as connection:
        assert connection.execute(text("SHOW constraint_exclusion")).scalar_one() == "off"
    if shape == "cross_section":
        sql = read_sql(resolve_table(TABLE)).cross_section
        parameters: dict[str, Any] = {"obs_time": utc(2021, 6, 1), "as_of": AS_OF}
    else:
        sql = getattr(read_sql(resolve_table(TABLE), one_series=False), shape)
        parameters = _range_parameters(loaded[:2], utc(2021, 1, 1), utc(2022, 1, 1))
    every = _chunks(_analyze(engine, "SELECT * FROM mp.macro_observations", {}, analyze=False))
    planned = _chunks(_analyze(engine, sql, parameters, analyze=False))
    assert len(every) >= YEARS
    assert 1 <= len(planned) <= (1 if shape == "cross_section" else 2), sorted(planned)


@pytest.mark.parametrize("shape", RANGE_SHAPES)
def test_one_series_range_reads_take_their_order_from_the_index(
    engine: Engine, loaded: list[int], shape: str
) -> None:
    """With bitmap scans ruled out, every one-series range shape is an ordered index scan with
    no Sort: the statement asks for exactly the primary key's order, forwards or backwards.
    (Left free, the planner may sort short ranges instead; that measured no slower.)"""
    sql = getattr(read_sql(resolve_table("macro_observations"), one_series=True), shape)
    nodes = _analyze(
        engine,
        sql,
        _range_parameters(loaded[:1], utc(2019), utc(2024)),
        analyze=False,
        enable_bitmapscan="off",
    )
    kinds = {node["Node Type"] for node in nodes}
    assert kinds & {"Index Scan", "Index Only Scan"}
    assert not kinds & {"Sort", "Incremental Sort", "Seq Scan"}, sorted(kinds)


@pytest.mark.parametrize("shape", ["as_of", "first_release"])
def test_long_one_series_reads_carry_the_index_order(
    engine: Engine, loaded: list[int], shape: str
) -> None:
    """The whole eight years of one series: the read carries INDEX_ORDER, under which the plan
    is the index's order with no Sort (left free, the planner sorts windows of about five
    years and more, see mp_db._planner). A year's window and two series carry nothing."""

    def query(start: datetime | None, end: datetime | None) -> Query[Any]:
        window: dict[str, Any] = {"series_ids": loaded[:1], "start": start, "end": end}
        if shape == "as_of":
            return _Queries.as_of(TABLE, as_of=AS_OF, ingested_before=None, **window)
        ranged = Ranged.FIRST_RELEASE
        return _Queries.ranged(TABLE, ranged, as_of=AS_OF, ingested_before=None, **window)

    whole = query(None, None)
    assert whole.planner == INDEX_ORDER
    settings: dict[str, Any] = dict(whole.planner)
    nodes = _analyze(engine, whole.sql, whole.parameters, **settings)
    kinds = {node["Node Type"] for node in nodes}
    assert kinds & {"Index Scan", "Index Only Scan"}
    assert not kinds & {"Sort", "Incremental Sort", "Seq Scan"}, sorted(kinds)
    assert query(utc(2021), utc(2022)).planner == ()
    assert (
        _Queries.as_of(
            TABLE, series_ids=loaded[:2], as_of=AS_OF, start=None, end=None, ingested_before=None
        ).planner
        == ()
    )


def test_latest_reads_a_row_or_two_per_series_and_never_sorts(
    engine: Engine, loaded: list[int]
) -> None:
    """Latest print: a LIMIT 1 per series off the index end, not the 5,840-row history."""
    latest = _Queries.latest(TABLE, loaded, AS_OF, None, bounded=True)
    nodes = _analyze(engine, latest.sql, latest.parameters)
    kinds = {node["Node Type"] for node in nodes}
    assert "Nested Loop" in kinds
    assert "Limit" in kinds
    assert not kinds & {"Sort", "Incremental Sort", "Seq Scan"}
    # A few rows per series: the newest versions not yet known at T are skipped over.
    assert _rows_read(nodes) <= len(loaded) * 2 * len(VINTAGES) * max(VINTAGES)


def test_latest_read_does_not_grow_with_history(engine: Engine, loaded: list[int]) -> None:
    """T at the start of the history and T at its end touch the same order of rows, bounded
    to the year before T or not."""
    for bounded in (True, False):
        early, late = (
            _Queries.latest(TABLE, loaded, moment, None, bounded=bounded)
            for moment in (utc(2018, 3, 1), AS_OF)
        )
        touched = _rows_read(_analyze(engine, early.sql, early.parameters))
        assert _rows_read(_analyze(engine, late.sql, late.parameters)) <= 4 * max(
            touched, len(loaded)
        )


def test_the_latest_print_plans_only_the_chunks_of_the_year_before_t(
    engine: Engine, loaded: list[int]
) -> None:
    """Bounded below by LATEST_WINDOW, the latest print plans the one or two 1-year chunks
    of the year before T, of the eight (planning costs per chunk, see
    mp_db._read_queries.LATEST_WINDOW); over all time it plans every chunk up to T."""
    every = _chunks(_analyze(engine, "SELECT * FROM mp.macro_observations", {}, analyze=False))
    bounded = _Queries.latest(TABLE, loaded, AS_OF, None, bounded=True)
    assert bounded.bounded
    assert bounded.parameters["since"] == AS_OF - LATEST_WINDOW
    planned = _chunks(_analyze(engine, bounded.sql, bounded.parameters, analyze=False))
    assert 1 <= len(planned) <= 2, sorted(planned)
    later = _Queries.latest(TABLE, loaded, END_OF_TIME, None, bounded=True)
    assert later.bounded  # as of the end of time: the year before now
    assert later.parameters["since"] <= datetime.now(UTC) - LATEST_WINDOW
    assert later.parameters["since"] > datetime.now(UTC) - LATEST_WINDOW - timedelta(minutes=5)
    whole = _Queries.latest(TABLE, loaded, AS_OF, None)
    assert not whole.bounded
    assert _chunks(_analyze(engine, whole.sql, whole.parameters, analyze=False)) == every


def test_as_of_one_series_uses_the_primary_key(engine: Engine, loaded: list[int]) -> None:
    """One series' as-of read scans the primary key's chunks, never a table."""
    sql = read_sql(resolve_table("macro_observations"), one_series=True).as_of
    nodes = _analyze(engine, sql, _range_parameters(loaded[:1], utc(2019), utc(2024)))
    scans = {node["Node Type"] for node in nodes if "Scan" in node["Node Type"]}
    assert scans
    assert scans <= {
        "Index Only Scan",
        "Index Scan",
        "Bitmap Heap Scan",
        "Bitmap Index Scan",
        "Custom Scan",
    }
    indexes = {node["Index Name"] for node in nodes if "Index Name" in node}
    assert indexes
    assert all("pk_macro_observations" in name for name in indexes), indexes


def test_backtest_probes_a_row_or_two_per_decision_time_and_series(
    engine: Engine, loaded: list[int]
) -> None:
    """The backtest never reads the release stream: with the reader's planner setting, each
    (decision time, series) probe walks the primary key backwards and stops at its first row
    known then (about one row each, against 23,360 stored per series)."""
    sql = read_sql(resolve_table("macro_observations")).backtest
    times = [utc(2019, 1, 1) + days(29 * number) for number in range(60)]
    parameters = {"decision_times": times, "series_ids": loaded}
    setting: Any = {"timescaledb.enable_runtime_exclusion": "off"}  # what the reader sets
    nodes = _analyze(engine, sql, parameters, **setting)
    probes = len(times) * len(loaded)
    assert nodes[0]["Actual Rows"] == probes
    # The unnest of the probes touches no table; a stream read would show ~23,000 rows here.
    tables = [node for node in nodes if node["Node Type"] != "Function Scan"]
    assert _rows_read(tables) <= 2 * probes
