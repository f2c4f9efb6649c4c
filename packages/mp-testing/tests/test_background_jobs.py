"""Test databases run no background jobs."""

from __future__ import annotations

import pytest

from mp_testing.fixtures import TestDatabase

_SCHEDULED = "SELECT count(*) FROM timescaledb_information.jobs WHERE scheduled"


@pytest.mark.timescale_license
def test_test_databases_have_no_scheduled_jobs(mp_database: TestDatabase) -> None:
    """The template's jobs (compression policies and TimescaleDB's own) are unscheduled, so
    each clone has none; the policies exist (the schema is complete)."""
    with mp_database.connect() as connection:
        assert connection.execute(_SCHEDULED).fetchone() == (0,)
        policies = connection.execute(
            "SELECT count(*) FROM timescaledb_information.jobs"
            " WHERE proc_name = 'policy_compression'"
        ).fetchone()
    assert policies == (7,)
