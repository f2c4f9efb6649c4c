"""Test databases run no background jobs, and the stack status shows compression's state."""

from __future__ import annotations

import pytest

from mp_config import PostgresSettings
from mp_testing.fixtures import TestDatabase
from mp_testing.stack._status import compression_lines

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


def test_compression_lines_show_each_table(
    mp_pg_settings: PostgresSettings, mp_timescaledb_license: str
) -> None:
    """Deferred with the license on Apache, backfilling on TSL; one line per fact table."""
    header, *tables = compression_lines(mp_pg_settings)
    assert header.startswith("compression")
    assert len(tables) == 7
    expected = " backfilling " if mp_timescaledb_license == "timescale" else " deferred "
    assert all(expected in line for line in tables), tables
    if mp_timescaledb_license != "timescale":
        assert all(f"license is {mp_timescaledb_license}" in line for line in tables)


def test_compression_lines_on_an_unmigrated_database(mp_empty_database: TestDatabase) -> None:
    """A database without mp's schema says so instead of failing the status command."""
    (line,) = compression_lines(mp_empty_database.settings)
    assert line.startswith("compression: unknown (")
    assert "migrated" in line
