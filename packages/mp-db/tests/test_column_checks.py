"""Whole-column checks never accept a frame the row validator refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_frames_in import FRAMES, dict_rows

from mp_db import IngestValidationError, resolve_table
from mp_db._column_checks import checked_records
from mp_db._columns import frame_columns, frame_rows
from mp_db._validation import batch_of_records, validate_batch
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


def _verdicts(table: str, frame: Any) -> tuple[Any, Any]:
    """(records of the column checks or None, the row validator's batch or its error)."""
    fact = resolve_table(table)
    columns = frame_columns(fact, frame)
    assert columns is not None
    records = checked_records(fact, columns, "vendor")
    try:
        batch: Any = validate_batch(fact, frame_rows(fact, columns), default_source="vendor")
    except IngestValidationError as error:
        batch = error
    return records, batch


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
        assert batch_of_records(resolve_table(table), records).records == batch.records


@pytest.mark.parametrize("library", list(FRAMES))
@pytest.mark.parametrize("table", FACT_TABLES)
def test_column_checks_accept_a_good_frame(table: str, library: str) -> None:
    """A frame of good rows is accepted by the column checks with the row validator's
    records (so the checks above are not vacuous)."""
    frame = FRAMES[library](table, dict_rows(table, 5))
    records, batch = _verdicts(table, frame)
    assert records is not None
    assert batch_of_records(resolve_table(table), records).records == batch.records


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
    assert batch_of_records(resolve_table("signal_values"), records).records == batch.records
    position = resolve_table("signal_values").staged.index("instrument_id")
    assert {(record[position], record[-1]) for record in records} == {(0, "vendor")}
