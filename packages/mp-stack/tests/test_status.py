"""The status command's compression lines, against a database mp-testing migrated."""

from __future__ import annotations

from mp_config import PostgresSettings
from mp_stack._status import compression_lines
from mp_testing.fixtures import TestDatabase


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
