"""Typed rows built in bulk (:func:`mp_db._rows.build`) are the rows their ``__init__`` makes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mp_db import ROW_TYPES, AlfredInterval, AsOfValue
from mp_db._rows import build, derive_row_type
from mp_schema import FACT_TABLES

START = datetime(2024, 1, 2, tzinfo=UTC)


def _values(kind: type[Any], count: int) -> list[tuple[Any, ...]]:
    # Distinct values in every field of every row; neither way of building checks types.
    width = len(dataclasses.fields(kind))
    return [
        tuple(START + timedelta(days=row, seconds=field) for field in range(width))
        for row in range(count)
    ]


KINDS = [
    *(ROW_TYPES[name] for name in FACT_TABLES),
    *(derive_row_type(name) for name in FACT_TABLES),
    AsOfValue,
    AlfredInterval,
]


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_bulk_rows_equal_the_rows_init_makes(kind: type[Any]) -> None:
    rows = _values(kind, 1_100)  # three blocks of build's, the last one short
    built = build(kind, rows)
    expected = [kind(*row) for row in rows]
    assert built == expected
    assert [type(item) for item in built] == [kind] * len(rows)
    assert [hash(item) for item in built] == [hash(item) for item in expected]
    assert [dataclasses.astuple(item) for item in built] == rows
    first = dataclasses.fields(kind)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built[0], first, None)


def test_no_rows_build_nothing() -> None:
    assert build(AsOfValue, []) == []


@pytest.mark.parametrize(
    "rows",
    [
        [(START, 1, None), (START, 1)],
        [(START, 1, None)] * 600 + [(START, 1, None, 4)],
        [(START, 1, None, 4)],
        [(START, 1)],
        [()],
    ],
    ids=["ragged", "ragged in a later block", "a value too many", "a value too few", "empty row"],
)
def test_rows_not_one_value_per_field_are_refused(rows: list[tuple[Any, ...]]) -> None:
    with pytest.raises(ValueError, match=r"zip\(\) argument"):
        build(AsOfValue, rows)
