"""Row reads on psycopg ask for binary results, for their statements only: every result a read
receives is binary, statements outside a read and a connection with a cursor class of its
owner's keep text, and the answers are the ones text results give."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from conftest import SeriesMaker, macro, utc
from psycopg import pq
from sqlalchemy import Connection, Engine, event, text

from mp_db import MacroObservationRow, Query, Reader, ingest

T = utc(2025, 1)
ROW = MacroObservationRow


@pytest.fixture
def series(engine: Engine, make_series: SeriesMaker) -> int:
    made = make_series()
    ingest(
        engine,
        "macro",
        [
            macro(made, utc(2024, 1), utc(2024, 2), 1.0),
            macro(made, utc(2024, 1), utc(2024, 3), 1.5),
            macro(made, utc(2024, 2), utc(2024, 3), 2.0),
        ],
    )
    return made


@contextmanager
def _formats(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """(statement, format of its result's first column) for every statement with rows; for a
    server-side cursor, whose execute only declares it, the format its fetches ask for."""
    seen: list[tuple[str, Any]] = []

    def after(
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        result = cursor.pgresult
        if isinstance(cursor, psycopg.ServerCursor):
            seen.append((statement, pq.Format(cursor.format)))
        elif result is not None and result.nfields:
            seen.append((statement, pq.Format(result.fformat(0))))

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "after_cursor_execute", after)


def test_every_result_of_a_read_is_binary_and_other_statements_stay_text(
    engine: Engine, series: int
) -> None:
    with _formats(engine) as seen, engine.connect() as connection:
        reader = Reader(connection)
        rows = reader.as_of(ROW, series, as_of=T)
        latest = reader.latest(ROW, [series], as_of=T)
        cutoff = reader.cutoff()
        replayed = reader.as_of(ROW, series, as_of=T, ingested_before=cutoff)
        streamed = list(reader.iter_vintages(ROW, series, as_of=T))
        connection.execute(text("SELECT 1")).all()
        raw: Any = connection.connection.dbapi_connection
        assert raw.cursor_factory is psycopg.Cursor
        assert raw.server_cursor_factory is psycopg.ServerCursor
    assert [row.value for row in rows] == [1.5, 2.0]
    assert [row.value for row in latest] == [2.0]
    assert replayed == rows
    assert [row.as_dict()["value"] for row in streamed] == [1.0, 1.5, 2.0]
    reads, last = seen[:-1], seen[-1]
    assert len(reads) >= 5
    assert [(s[:70], form) for s, form in reads if form != pq.Format.BINARY] == []
    assert last == ("SELECT 1", pq.Format.TEXT)


def test_a_read_answers_the_same_as_text_results_give(engine: Engine, series: int) -> None:
    with engine.connect() as connection:
        binary = Reader(connection).as_of("macro", series, as_of=T)
        raw: Any = connection.connection.dbapi_connection
        raw.cursor_factory = _TextCursor
        text_rows = Reader(connection).as_of("macro", series, as_of=T)
    assert binary == text_rows
    assert [type(value) for value in binary[0].as_dict().values()] == [
        type(value) for value in text_rows[0].as_dict().values()
    ]


class _TextCursor(psycopg.Cursor[Any]):
    """A cursor class of the connection owner's own: reads leave it (and its text) alone."""


def test_a_cursor_class_of_the_owners_is_kept(engine: Engine, series: int) -> None:
    with _formats(engine) as seen, engine.connect() as connection:
        raw: Any = connection.connection.dbapi_connection
        raw.cursor_factory = _TextCursor
        Reader(connection).as_of("macro", series, as_of=T)
        assert raw.cursor_factory is _TextCursor
        raw.cursor_factory = psycopg.Cursor
    assert seen
    assert {form for _, form in seen} == {pq.Format.TEXT}


def test_a_query_of_the_callers_own_gets_text_results(engine: Engine) -> None:
    """``Reader.run`` may be given any statement: a type psycopg loads only from text (here
    ``regclass``) would arrive as bytes in binary."""
    query = Query(
        "SELECT CAST(:name AS regclass) AS relation",
        {"name": "mp.macro_observations"},
        lambda rows: [row[0] for row in rows],
    )
    with _formats(engine) as seen, engine.connect() as connection:
        found = Reader(connection).run(query)
    assert found == ["macro_observations"]  # mp is on the search path
    assert [form for _, form in seen] == [pq.Format.TEXT]
