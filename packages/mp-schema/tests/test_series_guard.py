"""Series existence without a per-row foreign key: the fact tables' series trigger refuses rows
of unknown or wrong-kind series from any writer, and a series with rows cannot be deleted."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest
from conftest import SeriesMaker
from psycopg import errors

from mp_schema.models import FACT_TABLES
from mp_testing.fixtures import TestDatabase

INSERT_MACRO = (
    "INSERT INTO mp.macro_observations (series_id, obs_time, knowledge_time, value,"
    " knowledge_time_source) VALUES (%s, '2024-03-01 00:00+00', '2024-04-10 12:30+00', 1.0,"
    " 'vendor')"
)

pytestmark = pytest.mark.scenario("bad_inputs")


def test_every_fact_table_and_chunk_has_the_series_trigger(
    db: Any, make_series: SeriesMaker
) -> None:
    """Each registered fact table carries ``series_exists`` naming its kind, and TimescaleDB
    gives a new chunk the same trigger."""
    rows = db.execute(
        "SELECT c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t"
        " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'mp' AND t.tgname = 'series_exists'"
    ).fetchall()
    found = dict(rows)
    assert set(found) == set(FACT_TABLES)
    assert "check_series_exists('macro', 'macro_observations')" in found["macro_observations"]
    db.execute(INSERT_MACRO, (make_series(),))
    chunk = db.execute(
        "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = '_timescaledb_internal' AND t.tgname = 'series_exists'"
    ).fetchone()
    assert chunk == (1,)


def test_series_of_another_kind_is_refused(db: Any, make_series: SeriesMaker) -> None:
    """A curve series' row in the macro table is refused (a foreign key never checked this)."""
    series_id = make_series(kind="curve", code="CURVE")
    with pytest.raises(
        errors.ForeignKeyViolation,
        match=f"series {series_id} is a curve series; mp.macro_observations holds macro series",
    ):
        db.execute(INSERT_MACRO, (series_id,))


def _copy(db: Any, series_ids: list[int]) -> None:
    sql = (
        "COPY mp.macro_observations (series_id, obs_time, knowledge_time, value,"
        " knowledge_time_source) FROM STDIN"
    )
    with db.cursor() as cursor, cursor.copy(sql) as copy:
        for series_id in series_ids:
            copy.write_row((series_id, "2024-03-01Z", "2024-04-01Z", 1.0, "vendor"))


def test_copy_of_an_unknown_series_is_refused(db: Any, make_series: SeriesMaker) -> None:
    """COPY fires the trigger too: one unknown series among known ones fails the whole COPY."""
    known = make_series()
    with pytest.raises(errors.ForeignKeyViolation, match="no series has series_id 424242"):
        _copy(db, [known, 424_242])
    assert db.execute("SELECT count(*) FROM mp.macro_observations").fetchone() == (0,)


def test_the_setting_is_a_writers_declaration(db: Any) -> None:
    """``mp.series_checked = 'on'`` skips the trigger for that transaction only: it is a
    writer's statement that it checked every row (as mp's ingest does), not a permission."""
    with db.transaction():
        db.execute("SET LOCAL mp.series_checked = 'on'")
        db.execute(INSERT_MACRO, (777_777,))
        stored = db.execute("SELECT count(*) FROM mp.macro_observations").fetchone()
        assert stored == (1,)
        db.execute("DELETE FROM mp.macro_observations")
    with pytest.raises(errors.ForeignKeyViolation, match="no series has series_id 777777"):
        db.execute(INSERT_MACRO, (777_777,))


def test_series_with_rows_cannot_be_deleted(db: Any, make_series: SeriesMaker) -> None:
    """Deleting a series with fact rows, or changing its kind or id, is refused naming the series
    and the table; a series without rows is deleted."""
    used = make_series()
    unused = make_series(code="UNUSED")
    db.execute(INSERT_MACRO, (used,))
    message = f"series {used} still has rows in mp.macro_observations: it cannot be deleted"
    with pytest.raises(errors.ForeignKeyViolation, match=message):
        db.execute("DELETE FROM mp.series WHERE series_id = %s", (used,))
    with pytest.raises(errors.ForeignKeyViolation, match="given another series_id or kind"):
        db.execute("UPDATE mp.series SET kind = 'curve' WHERE series_id = %s", (used,))
    db.execute("UPDATE mp.series SET name = 'renamed' WHERE series_id = %s", (used,))
    db.execute("DELETE FROM mp.series WHERE series_id = %s", (unused,))
    remaining = db.execute("SELECT series_id FROM mp.series ORDER BY series_id").fetchall()
    assert remaining == [(used,)]


def test_deletion_waits_for_an_insert_in_flight(
    mp_database: TestDatabase, make_series: SeriesMaker
) -> None:
    """A deletion racing an uncommitted insert of the series waits for it (SHARE on the fact
    tables against the writer's ROW EXCLUSIVE), then sees the row and refuses."""
    series_id = make_series()
    outcome: list[BaseException | None] = []
    with mp_database.connect() as writer:
        writer.autocommit = False
        writer.execute(INSERT_MACRO, (series_id,))

        def delete() -> None:
            try:
                with mp_database.connect() as deleter:
                    deleter.execute("DELETE FROM mp.series WHERE series_id = %s", (series_id,))
                outcome.append(None)
            except psycopg.Error as error:
                outcome.append(error)

        thread = threading.Thread(target=delete)
        thread.start()
        time.sleep(0.5)
        assert outcome == []  # still waiting for the writer
        writer.commit()
        thread.join(timeout=10)
    assert len(outcome) == 1
    assert isinstance(outcome[0], errors.ForeignKeyViolation)
    assert "still has rows in mp.macro_observations" in str(outcome[0])
