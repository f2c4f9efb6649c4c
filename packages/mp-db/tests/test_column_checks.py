"""Whole-column checks never accept a frame the row validator refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_frames_in import FRAMES, VALUES, dict_rows

from mp_db import IngestValidationError, resolve_table
from mp_db._column_batch import ColumnBatch, column_batch
from mp_db._column_checks import checked_columns
from mp_db._columns import frame_columns, frame_rows
from mp_db._ingest import _bounds, _chunks, _versions_in_batch
from mp_db._validation import ValidatedBatch, validate_batch
from mp_db._validator import compiled_validator
from mp_schema import FACT_TABLES

#: Cells to drop into a good frame, by the kind of the column's step.
BAD_CELLS: dict[str, list[Any]] = {
    "int": [-1, 0, None, 2.5, True],
    "timestamp": [
        None,
        datetime(2024, 1, 1),
        datetime(2024, 1, 1, 3, tzinfo=UTC),
        datetime(2023, 12, 1, tzinfo=UTC),
    ],
    "number": [float("nan"), float("inf"), -float("inf"), None, -1.0, 0.1, 1e12],
    "text": ["bogus", None, "", "x" * 100, "a\x00b", "3M", "managed_money"],
}


def _verdicts(table: str, frame: Any) -> tuple[ColumnBatch | None, Any]:
    """(the column checks' batch or None, the row validator's batch or its error)."""
    fact = resolve_table(table)
    columns = frame_columns(fact, frame)
    assert columns is not None
    arrays = checked_columns(fact, columns, "vendor")
    records = None if arrays is None else column_batch(fact, arrays)
    try:
        batch: Any = validate_batch(fact, frame_rows(fact, columns), default_source="vendor")
    except IngestValidationError as error:
        batch = error
    return records, batch


def assert_same_batch(columns: ColumnBatch, rows: ValidatedBatch) -> None:
    """The column path's batch is the row path's: records, positions and duplicates."""
    assert columns.records() == rows.records
    assert columns.first_index.tolist() == rows.first_index
    assert columns.duplicates_dropped == rows.duplicates_dropped
    assert columns.series_ids == sorted(rows.series_ids)
    assert columns.instrument_ids == sorted(rows.instrument_ids)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
@pytest.mark.parametrize("library", list(FRAMES))
@pytest.mark.parametrize("table", FACT_TABLES)
def test_column_checks_accept_only_what_the_rows_accept(
    table: str, library: str, data: st.DataObject
) -> None:
    """A frame with random bad cells: when the column checks accept it, the row validator
    accepts it too and gives the same records; when the rows refuse it, the columns do."""
    rows = dict_rows(table, 5, days=2)
    steps = compiled_validator(resolve_table(table)).steps
    for _ in range(data.draw(st.integers(1, 3), label="bad cells")):
        row = data.draw(st.integers(0, len(rows) - 1), label="row")
        step = data.draw(st.sampled_from(steps), label="column")
        cell = data.draw(st.sampled_from(BAD_CELLS[step.kind]), label="cell")
        obs = rows[row]["obs_time"]
        before_obs = step.name == "knowledge_time" and isinstance(obs, datetime)
        if before_obs and data.draw(st.booleans(), label="before obs"):
            cell = obs - timedelta(days=1)
        rows[row][step.name] = cell
    try:
        frame = FRAMES[library](table, rows)
    except Exception:  # the library cannot hold these cells (each raises its own errors)
        assume(False)
    records, batch = _verdicts(table, frame)
    if records is not None:
        assert not isinstance(batch, IngestValidationError), batch.problems
        assert_same_batch(records, batch)


@pytest.mark.parametrize("library", list(FRAMES))
@pytest.mark.parametrize("table", FACT_TABLES)
def test_column_checks_accept_a_good_frame(table: str, library: str) -> None:
    """A frame of good rows is accepted by the column checks with the row validator's
    records (so the checks above are not vacuous)."""
    frame = FRAMES[library](table, dict_rows(table, 5))
    records, batch = _verdicts(table, frame)
    assert records is not None
    assert_same_batch(records, batch)


@pytest.mark.parametrize("library", list(FRAMES))
def test_absent_columns_take_their_defaults(library: str) -> None:
    """Without knowledge_time_source and instrument_id columns, the column checks fill the
    call's default source and the registry's default instrument, as the rows do."""
    rows = [
        {key: value for key, value in row.items() if key != "instrument_id"}
        for row in dict_rows("signal_values", 5)
    ]
    records, batch = _verdicts("signal_values", FRAMES[library]("signal_values", rows))
    assert records is not None
    assert_same_batch(records, batch)
    position = resolve_table("signal_values").staged.index("instrument_id")
    assert {(record[position], record[-1]) for record in records.records()} == {(0, "vendor")}


def vintaged_rows(table: str, draw: Any, series: tuple[int, ...] = (5, 6)) -> list[dict[str, Any]]:
    """Rows of ``series`` with 1-4 vintages per observation, each drawn from the table's two
    value sets (so restatements and changes mix), some exact copies, in a drawn order."""
    rows = []
    for series_id in series:
        for day in range(draw(st.integers(1, 4), label="days")):
            obs = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=day)
            for vintage in range(draw(st.integers(1, 4), label="vintages")):
                values = VALUES[table][draw(st.integers(0, 1), label="values")]
                known = obs + timedelta(days=1 + 30 * vintage)
                row = {"series_id": series_id, "obs_time": obs, "knowledge_time": known, **values}
                rows.append(row)
                if draw(st.integers(0, 5), label="copy") == 0:
                    rows.append(dict(row))
    order: list[int] = draw(st.permutations(range(len(rows))), label="order")
    return [rows[position] for position in order]


@settings(max_examples=8, deadline=None)
@given(data=st.data(), keep=st.booleans(), size=st.integers(1, 12))
@pytest.mark.parametrize("library", list(FRAMES))
@pytest.mark.parametrize("table", FACT_TABLES)
def test_column_batches_judge_versions_as_rows_do(
    table: str, library: str, data: st.DataObject, keep: bool, size: int
) -> None:
    """Generated vintages with restatements, changes and exact copies, in any order: the
    column path sorts, drops copies, chunks and judges each fresh chunk (rows kept, revision
    numbers, counts) exactly as the row path does."""
    fact = resolve_table(table)
    rows = vintaged_rows(table, data.draw)
    columns, batch = _verdicts(table, FRAMES[library](table, rows))
    assert columns is not None
    assert not isinstance(batch, IngestValidationError), batch.problems
    assert_same_batch(columns, batch)
    row_chunks = _chunks(batch.records, size, len(fact.observation))
    column_chunks = columns.chunks(size)
    assert [len(chunk) for chunk in column_chunks] == [len(chunk) for chunk in row_chunks]
    records = columns.records()
    for column_chunk, row_chunk in zip(column_chunks, row_chunks, strict=True):
        kept, counts = _versions_in_batch(fact, row_chunk, 7, keep_republications=keep)
        picked, revisions, column_counts = column_chunk.judged(keep)
        assert column_counts == tuple(counts[:3])
        judged = [
            (*records[row], int(revision), 7)
            for row, revision in zip(picked, revisions, strict=True)
        ]
        assert sorted(judged, key=repr) == sorted(kept, key=repr)
        assert column_chunk.bounds() == _bounds(row_chunk)
