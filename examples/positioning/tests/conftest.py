"""mp-testing's plugin gives each test a migrated database (mp_db_client); this, the connector."""

from __future__ import annotations

import pytest

from cot_example import Positioning
from mp_db import Database


@pytest.fixture
def positioning(mp_db_client: Database) -> Positioning:
    """The connector, registered in this test's database."""
    return Positioning(mp_db_client)
