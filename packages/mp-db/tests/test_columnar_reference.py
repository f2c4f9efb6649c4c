"""Columnar output equals row output for every read x every fact table x both drivers.

Driven off the reference-model harness: each scenario is a random valid history ingested
through ``ingest`` (psycopg) or ``ingest_async`` (asyncpg), and every call the reference
tests make (including replay cutoffs) is asked twice on the same driver: once for rows, once
of :class:`~mp_db.FrameReader`. The table must hold exactly the rows' fields, in the rows'
order; the rows themselves are pinned to the model by ``test_reference_reads.py``. Every call
is also streamed (:class:`~mp_db.FrameStream`, a few rows a batch): the batches must be within
their bound and, concatenated, equal the one-shot table. Each call is read once more without
the bookkeeping columns (``bookkeeping=False``), which must leave exactly those out.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow
import pytest
from pit_calls import READS
from pit_harness import Built, Call, build, scenario_database
from reference.tables import TABLES

import mp_db
from mp_db import AlfredInterval, AsOfValue, FactRow
from mp_schema.models import BOOKKEEPING_COLUMNS

#: Seeds other than the reference tests' defaults, so these histories differ from theirs.
SEEDS = {"sync": 11, "async": 12}
#: iter_vintages streams rows by design; join_as_of is a client function over rows.
COLUMNAR_READS = [read for read in READS if read not in {"iter_vintages", "join_as_of"}]


@pytest.fixture(
    scope="module",
    params=[(table, driver) for table in TABLES for driver in SEEDS],
    ids=[f"{table}-{driver}" for table in TABLES for driver in SEEDS],
)
def built(
    request: pytest.FixtureRequest, mp_postgres_server: Any, mp_template_database: str
) -> Iterator[Built]:
    """One scenario per table and driver, ingested."""
    table, driver = request.param
    with scenario_database(mp_postgres_server, mp_template_database) as settings:
        yield build(TABLES[table], seed=SEEDS[driver], keep="off", driver=driver, settings=settings)


def table_rows(result: Any) -> list[dict[str, Any]]:
    """What the columnar table of a row answer holds, one dict per table row."""
    if isinstance(result, dict):  # vintage_dates of several series
        return [
            {"series_id": series_id, "knowledge_time": moment}
            for series_id in sorted(result)
            for moment in result[series_id]
        ]
    rows = []
    for item in result:
        if isinstance(item, FactRow):
            rows.append(item.as_dict())
        elif isinstance(item, AlfredInterval):
            rows.append(item.row.as_dict() | {"realtime_end": item.realtime_end})
        elif isinstance(item, AsOfValue):
            rows.append(_as_of_value(item))
        else:
            raise TypeError(f"unexpected item {item!r}")
    return rows


def _as_of_value(item: AsOfValue) -> dict[str, Any]:
    head = {"decision_time": item.decision_time, "series_id": item.series_id}
    if item.row is not None:
        return head | {k: v for k, v in item.row.as_dict().items() if k != "series_id"}
    return head


def _expected(call: Call, result: Any) -> list[dict[str, Any]]:
    if call.method == "vintage_dates" and isinstance(result, list):
        series_id = call.args[1]
        return [{"series_id": series_id, "knowledge_time": moment} for moment in result]
    return table_rows(result)


def _fill_none(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> None:
    # A backtest row where nothing was known holds NULL in every row column.
    for want, have in zip(expected, got, strict=False):
        for key in have:
            want.setdefault(key, None)


def _answers(built: Built, calls: list[Call]) -> list[tuple[Any, Any, Any]]:
    """(rows, table, table without bookkeeping) of each call, on the scenario's driver."""
    if built.driver == "sync":
        engine = mp_db.create_db_engine(built.settings)
        try:
            rows, arrow = mp_db.Reader(engine), mp_db.FrameReader(engine, mp_db.ARROW)
            narrow = mp_db.FrameReader(engine, mp_db.ARROW, bookkeeping=False)
            return [
                (
                    getattr(rows, call.method)(*call.args, **call.kwargs),
                    getattr(arrow, call.method)(*call.args, **call.kwargs),
                    getattr(narrow, call.method)(*call.args, **call.kwargs),
                )
                for call in calls
            ]
        finally:
            engine.dispose()

    async def every() -> list[tuple[Any, Any, Any]]:
        engine = mp_db.create_db_engine_async(built.settings)
        try:
            rows, arrow = mp_db.AsyncReader(engine), mp_db.AsyncFrameReader(engine, mp_db.ARROW)
            narrow = mp_db.AsyncFrameReader(engine, mp_db.ARROW, bookkeeping=False)
            return [
                (
                    await getattr(rows, call.method)(*call.args, **call.kwargs),
                    await getattr(arrow, call.method)(*call.args, **call.kwargs),
                    await getattr(narrow, call.method)(*call.args, **call.kwargs),
                )
                for call in calls
            ]
        finally:
            await engine.dispose()

    return asyncio.run(every())


def _without_bookkeeping(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in BOOKKEEPING_COLUMNS} for row in rows]


@pytest.mark.parametrize("read", COLUMNAR_READS)
def test_columnar_read_equals_rows(built: Built, read: str) -> None:
    """Every call of the read (plain and replayed) gives a table whose rows are the row
    answer's fields, in order, with UTC timestamps."""
    rng = random.Random(f"{built.label}:{read}:columnar")
    calls = READS[read](built, built.model, rng, True)
    assert calls
    for call, (rows, table, narrow) in zip(calls, _answers(built, calls), strict=True):
        got = table.to_pylist()
        expected = _expected(call, rows)
        _fill_none(expected, got)
        assert got == expected, f"{read} on {built.label}: {call.label}"
        # Left out, the bookkeeping columns are gone and every other column is as it was.
        assert narrow.to_pylist() == _without_bookkeeping(expected), call.label
        assert not set(narrow.column_names) & set(BOOKKEEPING_COLUMNS), call.label
        for field in table.schema:
            if str(field.type).startswith("timestamp"):
                assert str(field.type) == "timestamp[us, tz=UTC]", field
        assert all(
            value.utcoffset() is not None
            for row in got
            for value in row.values()
            if isinstance(value, datetime)
        )


def _streamed(built: Built, calls: list[Call], rng: random.Random) -> list[tuple[Any, Any, int]]:
    """(one-shot table, its batches, the batch bound) of each call, on the scenario's driver."""
    sizes = [rng.randint(1, 5) for _ in calls]
    # Every other call is read without bookkeeping, one-shot and streamed alike.
    kept = [index % 2 == 0 for index in range(len(calls))]
    if built.driver == "sync":
        engine = mp_db.create_db_engine(built.settings)
        try:
            return [
                (
                    getattr(mp_db.FrameReader(engine, mp_db.ARROW, bookkeeping=keep), call.method)(
                        *call.args, **call.kwargs
                    ),
                    list(
                        getattr(
                            mp_db.FrameStream(
                                engine, mp_db.ARROW, batch_rows=size, bookkeeping=keep
                            ),
                            call.method,
                        )(*call.args, **call.kwargs)
                    ),
                    size,
                )
                for call, size, keep in zip(calls, sizes, kept, strict=True)
            ]
        finally:
            engine.dispose()

    async def both() -> list[tuple[Any, Any, int]]:
        engine = mp_db.create_db_engine_async(built.settings)
        try:
            answers = []
            for call, size, keep in zip(calls, sizes, kept, strict=True):
                whole = mp_db.AsyncFrameReader(engine, mp_db.ARROW, bookkeeping=keep)
                stream = mp_db.AsyncFrameStream(
                    engine, mp_db.ARROW, batch_rows=size, bookkeeping=keep
                )
                batches = getattr(stream, call.method)(*call.args, **call.kwargs)
                answers.append(
                    (
                        await getattr(whole, call.method)(*call.args, **call.kwargs),
                        [batch async for batch in batches],
                        size,
                    )
                )
            return answers
        finally:
            await engine.dispose()

    return asyncio.run(both())


@pytest.mark.parametrize("read", COLUMNAR_READS)
def test_streamed_read_equals_the_one_shot_table(built: Built, read: str) -> None:
    """Every call of the read, streamed a few rows a batch: no batch over its bound, all but
    the last full, and together the one-shot table (same rows, order and types)."""
    rng = random.Random(f"{built.label}:{read}:stream")
    calls = READS[read](built, built.model, rng, True)
    assert calls
    for call, (whole, batches, size) in zip(calls, _streamed(built, calls, rng), strict=True):
        counts = [batch.num_rows for batch in batches]
        assert counts, call.label
        assert all(count == size for count in counts[:-1]), (call.label, counts)
        assert counts[-1] <= size, (call.label, counts)
        assert pyarrow.concat_tables(batches).equals(whole), (
            f"{read} on {built.label}: {call.label}"
        )
