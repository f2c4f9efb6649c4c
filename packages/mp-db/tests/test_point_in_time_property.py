"""Property: for random vintaged histories and random T, reads equal a brute force in Python,
and nothing known after T ever comes back."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import pytest
from conftest import days, utc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from mp_db import IngestValidationError, MacroObservationRow, Reader, ingest

pytestmark = pytest.mark.scenario("bad_inputs")
BASE = utc(2020, 1, 1)

SERIES = 3
#: Ways to spoil a valid row; each must make the whole batch write nothing.
SPOILERS: list[dict[str, Any]] = [
    {"value": float("nan")},
    {"value": "n/a"},
    {"obs_time": datetime(2020, 1, 1)},
    {"knowledge_time": BASE - days(400)},
    {"series_id": 0},
    {"unexpected": 1},
]


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows for up to 3 series x 6 observations, each with up to 4 vintages; values are drawn
    from a small set so that unchanged re-publications happen often."""
    rows: dict[tuple[int, int, int], float] = {}
    for series in range(SERIES):
        for observation in draw(st.sets(st.integers(0, 5), max_size=6)):
            lags = draw(st.lists(st.integers(0, 40), min_size=1, max_size=4, unique=True))
            for lag in lags:
                rows[(series, observation, lag)] = draw(st.sampled_from([1.0, 2.0, 3.0]))
    return [
        {"series": series, "obs": observation, "lag": lag, "value": value}
        for (series, observation, lag), value in rows.items()
    ]


@pytest.fixture
def series_ids(engine: Engine) -> list[int]:
    """Three macro series."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
                " VALUES ('prop', 'Property', 'vendor', 'full')"
            )
        )
        return [
            int(
                connection.execute(
                    text(
                        "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
                        " SELECT source_id, :code, 'macro', 'p', 'daily' FROM mp.data_sources"
                        " RETURNING series_id"
                    ),
                    {"code": f"P{number}"},
                ).scalar_one()
            )
            for number in range(SERIES)
        ]


def _materialize(history: list[dict[str, Any]], ids: list[int]) -> list[dict[str, Any]]:
    rows = []
    for item in history:
        obs = BASE + days(item["obs"])
        rows.append(
            {
                "series_id": ids[item["series"]],
                "obs_time": obs,
                "knowledge_time": obs + days(item["lag"]) + days(0.5),
                "value": item["value"],
            }
        )
    return rows


def _brute_as_of(
    rows: list[dict[str, Any]], series_id: int, moment: datetime
) -> dict[datetime, float]:
    """Per observation, the value of the newest version known at ``moment``."""
    best: dict[datetime, tuple[datetime, float]] = {}
    for row in rows:
        if row["series_id"] != series_id or row["knowledge_time"] > moment:
            continue
        current = best.get(row["obs_time"])
        if current is None or row["knowledge_time"] > current[0]:
            best[row["obs_time"]] = (row["knowledge_time"], row["value"])
    return {obs: value for obs, (_, value) in best.items()}


@settings(
    # MP_PROPERTY_EXAMPLES raises the count for a deeper search (CI keeps the default).
    max_examples=int(os.environ.get("MP_PROPERTY_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    history=histories(),
    split=st.integers(0, 100),
    moments=st.lists(st.integers(0, 60), min_size=1, max_size=5),
    keep=st.booleans(),
)
def test_reads_equal_brute_force(
    engine: Engine,
    reader: Reader,
    series_ids: list[int],
    history: list[dict[str, Any]],
    split: int,
    moments: list[int],
    keep: bool,
) -> None:
    """Ingested in two batches, the as-of and latest reads match Python.

    With ``keep_republications`` the batches may arrive in any order (a partial backfill after
    later versions). Without it (the ALFRED rule: unchanged re-publications are not stored),
    versions arrive in knowledge-time order, the condition under which that rule is exact.
    """
    # Hypothesis runs many examples within one test (one database): start each empty.
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM mp.macro_observations"))
    rows = _materialize(history, series_ids)
    cut = len(rows) * split // 100
    if keep:
        # Second batch first: vintages arrive out of order (a partial backfill).
        batches = (rows[cut:], rows[:cut])
    else:
        ordered = sorted(rows, key=lambda row: row["knowledge_time"])
        batches = (ordered[:cut], ordered[cut:])
    for batch in batches:
        if batch:
            ingest(engine, "macro", batch, keep_republications=keep)
    for offset in moments:
        moment = BASE + days(offset)
        for series_id in series_ids:
            expected = _brute_as_of(rows, series_id, moment)
            got = reader.as_of(MacroObservationRow, series_id, as_of=moment)
            assert all(row.knowledge_time <= moment for row in got)
            assert {row.obs_time: row.value for row in got} == expected
            latest = reader.latest(MacroObservationRow, series_id, as_of=moment)
            if expected:
                newest = max(expected)
                assert [(row.obs_time, row.value) for row in latest] == [(newest, expected[newest])]
            else:
                assert latest == []
        for series_id in series_ids:
            first = {
                row.obs_time: row.value
                for row in reader.first_release(MacroObservationRow, series_id, as_of=moment)
            }
            earliest: dict[datetime, tuple[datetime, float]] = {}
            for row in rows:
                if row["series_id"] == series_id and row["knowledge_time"] <= moment:
                    seen = earliest.get(row["obs_time"])
                    if seen is None or row["knowledge_time"] < seen[0]:
                        earliest[row["obs_time"]] = (row["knowledge_time"], row["value"])
            assert first == {obs: value for obs, (_, value) in earliest.items()}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=histories(), spoiler=st.sampled_from(SPOILERS), where=st.integers(0, 10_000))
def test_invalid_batches_write_nothing(
    engine: Engine,
    series_ids: list[int],
    history: list[dict[str, Any]],
    spoiler: dict[str, Any],
    where: int,
) -> None:
    """A valid batch with one spoiled row is refused as a whole: the table stays as it was,
    and the problem names that row."""
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM mp.macro_observations"))
    rows = _materialize(history, series_ids) or _materialize(
        [{"series": 0, "obs": 0, "lag": 0, "value": 1.0}], series_ids
    )
    index = where % len(rows)
    rows[index] = {**rows[index], **spoiler}
    with pytest.raises(IngestValidationError) as caught:
        ingest(engine, "macro", rows)
    assert index in {problem.index for problem in caught.value.problems}
    with engine.connect() as connection:
        assert (
            connection.execute(text("SELECT count(*) FROM mp.macro_observations")).scalar_one() == 0
        )
