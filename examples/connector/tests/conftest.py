"""Fixtures of the example's tests: mp-testing's plugin gives the servers, these the objects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fred_example import Connector
from mp_config import PostgresSettings
from mp_db import Database


@pytest.fixture
def database(mp_pg_settings: PostgresSettings) -> Iterator[Database]:
    """An mp_db.Database on this test's fresh, migrated database (mp-testing's fixture)."""
    with Database(mp_pg_settings) as database:
        yield database


@pytest.fixture
def connector(database: Database) -> Connector:
    """A connector without Redis."""
    return Connector(database)
