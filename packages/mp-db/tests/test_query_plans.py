"""The read shapes use the index order: no Sort node, LATERAL per series (EXPLAIN-based)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import SeriesMaker, days, utc
from sqlalchemy import Engine, text

from mp_db import ingest
from mp_db._read_sql import read_sql
from mp_db._tables import resolve_table


@pytest.fixture
def loaded(engine: Engine, make_series: SeriesMaker) -> list[int]:
    """Three daily series over three years with two vintages each, analyzed."""
    ids = [make_series(frequency="daily") for _ in range(3)]
    rows = []
    for series in ids:
        for day in range(3 * 365):
            obs = utc(2020, 1, 1) + days(day)
            rows.append(
                {
                    "series_id": series,
                    "obs_time": obs,
                    "knowledge_time": obs + days(1),
                    "value": float(day),
                }
            )
            rows.append(
                {
                    "series_id": series,
                    "obs_time": obs,
                    "knowledge_time": obs + days(30),
                    "value": float(day) + 0.5,
                }
            )
    ingest(engine, "macro", rows)
    with engine.connect() as connection:
        connection.execute(text("ANALYZE mp.macro_observations"))
        connection.commit()
    return ids


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _plan(engine: Engine, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        raw = connection.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"), parameters).scalar_one()
    document = raw if isinstance(raw, list) else json.loads(raw)
    return list(_nodes(document[0]["Plan"]))


STATEMENTS = ["as_of", "first_release", "vintages", "stream", "latest", "intervals"]


@pytest.mark.parametrize("shape", STATEMENTS)
def test_no_sort_node(engine: Engine, loaded: list[int], shape: str) -> None:
    """The planner takes the order from the primary key: no Sort anywhere in the plan."""
    sql = getattr(read_sql(resolve_table("macro_observations")), shape)
    parameters = {
        "series_ids": loaded,
        "as_of": utc(2022, 6, 1),
        "start": utc(2021, 1, 1),
        "end": utc(2022, 1, 1),
    }
    kinds = {node["Node Type"] for node in _plan(engine, sql, parameters)}
    assert "Sort" not in kinds
    assert "Incremental Sort" not in kinds


def test_latest_is_a_lateral_limit_per_series(engine: Engine, loaded: list[int]) -> None:
    """Latest print per series: a nested loop over the series with a LIMIT inside."""
    sql = read_sql(resolve_table("macro_observations")).latest
    kinds = [
        node["Node Type"]
        for node in _plan(engine, sql, {"series_ids": loaded, "as_of": utc(2022, 6, 1)})
    ]
    assert "Nested Loop" in kinds
    assert "Limit" in kinds


def test_as_of_uses_the_primary_key(engine: Engine, loaded: list[int]) -> None:
    """One series' as-of read is an index scan of the primary key, never a sequential scan."""
    sql = read_sql(resolve_table("macro_observations")).as_of
    nodes = _plan(
        engine,
        sql,
        {
            "series_ids": [loaded[0]],
            "as_of": utc(2022, 6, 1),
            "start": utc(2021, 1, 1),
            "end": utc(2022, 1, 1),
        },
    )
    scans = {node["Node Type"] for node in nodes if "Scan" in node["Node Type"]}
    assert scans <= {"Index Only Scan", "Index Scan", "Custom Scan"}
    assert "Seq Scan" not in scans
