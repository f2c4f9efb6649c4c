"""Helpers for mp-schema's tests: connections to the per-test database and seed rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from mp_testing.fixtures import TestDatabase


@pytest.fixture
def db(mp_database: TestDatabase) -> Iterator[Any]:
    """An autocommit psycopg connection, as the owner, to this test's migrated database."""
    with mp_database.connect() as connection:
        yield connection


class SeriesMaker(Protocol):
    """Creates a series and returns its id."""

    def __call__(self, *, kind: str = ..., frequency: str = ..., code: str = ...) -> int: ...


@pytest.fixture
def make_series(db: Any) -> SeriesMaker:
    """A function that inserts a data source (once) and a series, returning the series id."""

    def make(*, kind: str = "macro", frequency: str = "monthly", code: str = "CPIAUCSL") -> int:
        return _insert_series(db, kind=kind, frequency=frequency, code=code)

    return make


def _insert_series(connection: Any, *, kind: str, frequency: str, code: str) -> int:
    connection.execute(
        "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
        " VALUES ('fred', 'FRED', 'central_bank', 'full') ON CONFLICT (code) DO NOTHING"
    )
    row = connection.execute(
        "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
        " SELECT source_id, %s, %s, %s, %s FROM mp.data_sources WHERE code = 'fred'"
        " RETURNING series_id",
        (code, kind, f"{code} test series", frequency),
    ).fetchone()
    assert row is not None
    return int(row[0])
