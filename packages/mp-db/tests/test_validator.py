"""The compiled validator: one per table, from the registry, two paths with one outcome."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from mp_db import resolve_table
from mp_db._validator import compiled_validator
from mp_db.exceptions import RowProblem
from mp_schema import FACT_TABLES

T0 = datetime(2024, 1, 1, tzinfo=UTC)
GOOD: dict[str, dict[str, Any]] = {
    "macro_observations": {"value": 1.5},
    "market_bars": {"open": 1.0, "high": 2.0, "low": 0.5, "volume": 3},
    "curve_points": {"tenor": "3M", "value": 4.2},
    "rate_fixings": {"value": 5.3},
    "release_calendar": {"scheduled_at": T0, "status": "scheduled", "consensus": 0.2},
    "positioning_flows": {"category": "managed_money", "long_positions": 10.0},
    "signal_values": {"instrument_id": 7, "value": 0.3},
}


def _row(table: str, **changes: Any) -> dict[str, Any]:
    base = {"series_id": 3, "obs_time": T0, "knowledge_time": T0 + timedelta(days=2)}
    return {**base, **GOOD[table], **changes}


def test_every_table_has_an_example() -> None:
    """The examples below cover every registered table."""
    assert set(GOOD) == set(FACT_TABLES)


@pytest.mark.parametrize("table", list(GOOD))
def test_the_fast_path_and_the_checker_agree_on_a_good_row(table: str) -> None:
    """A row of exact types is accepted by the generated path with the record the thorough
    checker builds."""
    validator = compiled_validator(resolve_table(table))
    problems: list[RowProblem] = []
    fast = validator.fast(_row(table), "vendor")
    assert fast is not None
    assert fast == validator.check(0, _row(table), "vendor", problems)
    assert problems == []


@pytest.mark.parametrize("table", list(GOOD))
@pytest.mark.parametrize(
    "changes",
    [
        {"series_id": 2.0},
        {"obs_time": date(2024, 1, 1)},
        {"knowledge_time_source": "bogus"},
        {"series_id": 0},
        {"unknown": 1},
    ],
)
def test_the_fast_path_passes_anything_unusual_to_the_checker(
    table: str, changes: dict[str, Any]
) -> None:
    """Other types and bad values get ``None`` from the generated path: the checker then
    normalizes the row or names its problems."""
    validator = compiled_validator(resolve_table(table))
    assert validator.fast(_row(table, **changes), "vendor") is None


@pytest.mark.parametrize("table", list(GOOD))
def test_the_generated_code_names_no_table(table: str) -> None:
    """The compiled function is built from the registry's steps: no table name in it, and it
    is compiled once per table."""
    fact = resolve_table(table)
    validator = compiled_validator(fact)
    assert table not in validator.source
    assert compiled_validator(fact) is validator


def test_the_checker_normalizes_unusual_types() -> None:
    """A Decimal or a numeric string, an integral float series id and a date for a dated
    table's period are accepted by the checker with the same record as exact types."""
    validator = compiled_validator(resolve_table("macro_observations"))
    problems: list[RowProblem] = []
    exact = validator.fast(_row("macro_observations"), "vendor")
    for value in (Decimal("1.5"), " 1.5 "):
        unusual = _row("macro_observations", series_id=3.0, obs_time=date(2024, 1, 1), value=value)
        assert validator.check(0, unusual, "vendor", problems) == exact
    assert problems == []
