"""Property: for random vintaged histories and random T, reads equal a brute force in Python,
and nothing known after T ever comes back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from conftest import days, utc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from mp_db import MacroObservationRow, Reader, ingest

SERIES = 3
BASE = utc(2020, 1, 1)


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
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    history=histories(),
    split=st.integers(0, 100),
    moments=st.lists(st.integers(0, 60), min_size=1, max_size=5),
)
def test_reads_equal_brute_force(
    engine: Engine,
    reader: Reader,
    series_ids: list[int],
    history: list[dict[str, Any]],
    split: int,
    moments: list[int],
) -> None:
    """Ingested in two batches in any order, the as-of and latest reads match Python."""
    # Hypothesis runs many examples within one test (one database): start each empty.
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM mp.macro_observations"))
    rows = _materialize(history, series_ids)
    cut = len(rows) * split // 100
    # Second batch first: vintages may arrive out of order (backfills).
    for batch in (rows[cut:], rows[:cut]):
        if batch:
            ingest(engine, "macro", batch)
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
