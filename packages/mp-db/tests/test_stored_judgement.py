"""A frame's chunks judged against the stored rows on columns (mp_db._stored_judgement): what
the merge would only count never reaches staging, and every count is the merge's.

The reference-model scenarios check this on every table (``test_reference_frames.py``); these
are the cases they cannot reach: a re-run of a whole history, and a stored value no frame can
send (a NaN), where the judgement gives the chunk to the merge.
"""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
from conftest import SeriesMaker, macro, utc
from sqlalchemy import Engine

from mp_db import ingest
from mp_db._column_batch import ColumnChunk, column_batch
from mp_db._column_checks import checked_columns
from mp_db._columnar_fetch import fetch_arrow
from mp_db._columns import frame_columns
from mp_db._stored_judgement import (
    judge_against_stored,
    judge_records,
    stored_columnar,
    stored_rows_sql,
)
from mp_db._tables import resolve_table


def _history(series_id: int) -> list[dict[str, object]]:
    """Three vintages of six months: the second revises even months, the third repeats it."""
    rows = []
    for month in range(1, 7):
        obs = utc(2024, month)
        for vintage in range(3):
            value = float(month) + (0.5 if vintage and month % 2 == 0 else 0.0)
            rows.append(macro(series_id, obs, obs + timedelta(days=20 + 30 * vintage), value))
    return rows


def test_a_rerun_is_settled_on_columns(engine: Engine, make_series: SeriesMaker) -> None:
    """A history sent again, as a frame or as dicts: every row is already stored or unchanged,
    none goes to staging, and the report says so; the frame's columns and the dicts' records
    are judged alike."""
    by_frame, by_dicts = make_series(), make_series()
    first = ingest(engine, "macro", _history(by_frame))
    ingest(engine, "macro", _history(by_dicts))
    assert (first.inserted, first.unchanged) == (9, 9)
    frame = pa.Table.from_pylist(_history(by_frame))
    for again in (ingest(engine, "macro", frame), ingest(engine, "macro", _history(by_dicts))):
        counts = (again.received, again.inserted, again.revisions, again.conflicts)
        assert counts == (18, 0, 0, 0)
        assert (again.already_stored, again.unchanged) == (9, 9)

    chunk = _chunk(frame)
    with engine.connect() as connection:
        fact = chunk.batch.fact
        stored = fetch_arrow(
            connection, stored_rows_sql(fact), chunk.bounds(), stored_columnar(fact)
        )
    judged = judge_against_stored(chunk, stored)
    assert judged is not None
    assert (len(judged.rows), judged.already_stored, judged.unchanged) == (0, 9, 9)
    records = chunk.batch.records()[chunk.start : chunk.end]
    as_records = judge_records(fact, records, stored)
    assert as_records is not None
    assert (len(as_records.rows), as_records.already_stored, as_records.unchanged) == (0, 9, 9)


def _chunk(frame: pa.Table) -> ColumnChunk:
    """The one chunk ingest makes of ``frame`` (its column path)."""
    fact = resolve_table("macro_observations")
    columns = frame_columns(fact, frame)
    assert columns is not None
    arrays = checked_columns(fact, columns, "vendor")
    assert arrays is not None
    batch = column_batch(fact, arrays)
    assert batch is not None
    (chunk,) = batch.chunks(1000)
    return chunk


def test_a_stored_value_a_frame_cannot_send_gives_the_chunk_to_the_merge() -> None:
    """A stored NaN (the schema's finite CHECK keeps it out, a table without that rule would
    not) is a value to the merge, while a frame's NaN means NULL: the judgement does not guess
    and leaves the chunk to the merge. The same row stored as 1.5 is settled here."""
    obs, known = utc(2024, 1), utc(2024, 1, 20)
    chunk = _chunk(pa.Table.from_pylist([macro(1, obs, known, 1.5)]))
    stored = pa.table(
        {
            "series_id": pa.array([1], pa.int32()),
            "obs_time": pa.array([obs], pa.timestamp("us", tz="UTC")),
            "knowledge_time": pa.array([known], pa.timestamp("us", tz="UTC")),
            "value": pa.array([float("nan")]),
        }
    )
    assert judge_against_stored(chunk, stored) is None
    judged = judge_against_stored(chunk, stored.set_column(3, "value", pa.array([1.5])))
    assert judged is not None
    assert (len(judged.rows), judged.already_stored) == (0, 1)
