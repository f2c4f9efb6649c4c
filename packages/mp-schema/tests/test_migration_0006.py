"""Revision 0006 (mp's fact tables slimmed to what their reads and guarantees need) upgrades
and downgrades a database holding rows, keeping them readable."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import errors
from schema_snapshots import SAMPLE_COUNTS, SAMPLE_ROWS

from mp_schema import current, downgrade, upgrade
from mp_testing.fixtures import TestDatabase

pytestmark = pytest.mark.scenario("migrations")

_ORPHAN = (
    "INSERT INTO mp.macro_observations (series_id, obs_time, knowledge_time, value,"
    " knowledge_time_source) VALUES (999999, '2024-01-01', '2024-02-01', 1.0, 'vendor')"
)


def _state(connection: Any) -> tuple[dict[str, int], Any]:
    counts = {
        table: connection.execute(f"SELECT count(*) FROM mp.{table}").fetchone()[0]  # noqa: S608 - literal table names
        for table in SAMPLE_COUNTS
    }
    # An as-of read: the value known on 2024-02-15 is the first print.
    as_of = connection.execute(
        "SELECT value, revision FROM mp.macro_observations"
        " WHERE knowledge_time <= '2024-02-15' ORDER BY knowledge_time DESC LIMIT 1"
    ).fetchone()
    return counts, as_of


def _series_triggers(connection: Any) -> int:
    row = connection.execute(
        "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'mp' AND t.tgname IN ('series_exists', 'series_in_use')"
    ).fetchone()
    return int(row[0])


def _macro_key(connection: Any) -> str:
    row = connection.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'mp.macro_observations'::regclass AND contype = 'p'"
    ).fetchone()
    return str(row[0])


def test_0006_up_down_up_with_rows(mp_empty_database: TestDatabase) -> None:
    """Rows written at 0005 survive 0006 and its downgrade; each side refuses an unknown
    series its own way (trigger at 0006, foreign key at 0005)."""
    settings = mp_empty_database.settings
    upgrade(settings, "0005")
    with mp_empty_database.connect() as connection:
        connection.execute(SAMPLE_ROWS)
    expected = (SAMPLE_COUNTS, (1.5, 0))

    upgrade(settings, "0006")
    with mp_empty_database.connect() as connection:
        assert _state(connection) == expected
        assert _series_triggers(connection) == len(SAMPLE_COUNTS) + 1
        assert _macro_key(connection) == "PRIMARY KEY (series_id, obs_time, knowledge_time)"
        with pytest.raises(errors.ForeignKeyViolation, match="no series has series_id 999999"):
            connection.execute(_ORPHAN)

    downgrade(settings, "0005")
    assert current(settings) == "0005"
    with mp_empty_database.connect() as connection:
        assert _state(connection) == expected
        assert _series_triggers(connection) == 0
        assert _macro_key(connection).endswith(" INCLUDE (value)")
        with pytest.raises(errors.ForeignKeyViolation, match="fk_macro_observations_series_id"):
            connection.execute(_ORPHAN)

    upgrade(settings, "0006")
    with mp_empty_database.connect() as connection:
        assert _state(connection) == expected
        assert _series_triggers(connection) == len(SAMPLE_COUNTS) + 1
