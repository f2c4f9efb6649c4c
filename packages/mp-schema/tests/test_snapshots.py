"""Old schemas, rows included, upgrade to exactly the schema a fresh ``upgrade head`` makes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from schema_snapshots import (
    SAMPLE_COUNTS,
    SAMPLE_ROWS,
    restore_snapshot,
    snapshot_timescaledb_version,
    stored_revisions,
)

from mp_config import PostgresSettings
from mp_schema import check, current, history, upgrade
from mp_schema import revision as revision_command
from mp_stack.native import SUPERUSER
from mp_testing import ThrowawayPostgres, start_throwaway_postgres
from mp_testing.exceptions import MpTestingError
from mp_testing.fixtures import TestDatabase

pytestmark = pytest.mark.scenario("migrations")

#: The schema as the catalog describes it: everything mp creates, nothing that is state
#: (sequence positions, timestamps) or the server's own (TimescaleDB's schemas).
_CATALOG = {
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '')
        FROM information_schema.columns WHERE table_schema = 'mp'""",
    # A CHECK printed by pg_dump and parsed again prints differently (an IN list's casts move),
    # so CHECKs are listed by name here and compared in the server's settled form by
    # `revision`, which finds nothing to write for a database equal to the models.
    "constraints": """
        SELECT c.relname, con.conname, con.contype,
               CASE WHEN con.contype = 'c' THEN '' ELSE pg_get_constraintdef(con.oid) END
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'mp'""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'mp'",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(p.prosrc)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'mp'""",
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'mp' AND NOT t.tgisinternal""",
    "sequences": "SELECT sequencename, data_type::text FROM pg_sequences WHERE schemaname = 'mp'",
    "hypertables": """
        SELECT d.hypertable_name, d.column_name, d.time_interval::text
        FROM timescaledb_information.dimensions d WHERE d.hypertable_schema = 'mp'""",
    "features": "SELECT table_name, feature, status, reason FROM mp.timescale_features",
}


def _schema(connection: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: sorted(tuple(row) for row in connection.execute(query).fetchall())
        for name, query in _CATALOG.items()
    }


def _fact_counts(connection: Any) -> dict[str, int]:
    return {
        table: connection.execute(f"SELECT count(*) FROM mp.{table}").fetchone()[0]  # noqa: S608 - literal table names
        for table in SAMPLE_COUNTS
    }


def _connect(settings: PostgresSettings) -> Any:
    return psycopg.connect(**settings.psycopg_kwargs(), autocommit=True)


def _assert_upgraded_like_fresh(
    old: PostgresSettings, fresh: PostgresSettings, revision: str, scratch: Path
) -> None:
    upgrade(old, "head")
    check(old)  # autogenerate finds no difference with the models,
    assert revision_command(old, "nothing", versions_dir=scratch) is None  # nor do CHECKs
    with _connect(old) as connection, _connect(fresh) as reference:
        assert _schema(connection) == _schema(reference)
        assert _fact_counts(connection) == SAMPLE_COUNTS
        vintages = connection.execute(
            "SELECT value, revision FROM mp.macro_observations ORDER BY knowledge_time"
        ).fetchall()
        assert vintages == [(1.5, 0), (1.75, 1)]
        if int(revision) < 4:
            # Rows stored before the ingest log (revision 0004) carry ingest 0.
            ingests = connection.execute(
                "SELECT DISTINCT ingest_id FROM mp.macro_observations"
            ).fetchall()
            assert ingests == [(0,)]


class _RestoreServer:
    """A throwaway cluster whose superuser restores snapshots (TimescaleDB's pre/post restore
    steps set a superuser-only parameter and write its catalog), with a fresh database at
    head to compare with."""

    def __init__(self, server: ThrowawayPostgres) -> None:
        self.server = server
        self.superuser = server.settings.model_copy(
            update={"host": str(server.cluster.socket_dir), "user": SUPERUSER}
        )
        self.fresh = self.database("fresh")
        upgrade(self.fresh, "head")

    def database(self, name: str) -> PostgresSettings:
        with _connect(self.superuser) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.superuser.model_copy(update={"database": name})


@pytest.fixture(scope="module")
def restore_server(mp_testing_settings: Any) -> Iterator[_RestoreServer]:
    """One throwaway cluster for this module's restores (about 3 s to start)."""
    try:
        server = start_throwaway_postgres(migrate=lambda settings: None)
    except MpTestingError as error:
        if mp_testing_settings.require_services:
            pytest.fail(str(error), pytrace=False)
        pytest.skip(f"no cluster of our own to restore into as a superuser: {error}")
    try:
        yield _RestoreServer(server)
    finally:
        server.destroy()


@pytest.mark.parametrize("revision", stored_revisions())
def test_stored_snapshot_upgrades_to_head(
    revision: str, restore_server: _RestoreServer, tmp_path: Path
) -> None:
    """A pg_dump of a database at an old revision (with rows), restored by TimescaleDB's
    pre/post restore procedure, upgrades to head with its rows intact and then has exactly the
    schema of a freshly migrated database."""
    dumped_by = snapshot_timescaledb_version()
    with _connect(restore_server.fresh) as connection:
        version = connection.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
    if version != (dumped_by,):
        pytest.skip(
            f"the snapshots were dumped by TimescaleDB {dumped_by} and restore only into that "
            f"version; this server has {version}"
        )
    old = restore_server.database(f"snapshot_{revision}")
    with _connect(old) as connection:
        restore_snapshot(connection, revision)
    assert current(old) == revision
    _assert_upgraded_like_fresh(old, restore_server.fresh, revision, tmp_path)


def test_snapshots_cover_the_old_revisions() -> None:
    """Every revision after 0001 (which only creates the extension) has a stored snapshot,
    so a new revision is added with its own (``tests/schema_snapshots.py REVISION``), and
    every snapshot is of a known revision."""
    revisions = [item.revision for item in history()]
    stored = stored_revisions()
    assert revisions[0] == "0001"
    assert {"0002", "0003", "0004", "0005", "0006"} <= set(revisions[1:]) <= set(stored)
    assert set(stored) <= set(revisions)


@pytest.mark.parametrize("revision", [item.revision for item in history()][1:-1])
def test_rows_written_at_an_old_revision_upgrade_to_head(
    revision: str, mp_empty_database: TestDatabase, mp_database: TestDatabase, tmp_path: Path
) -> None:
    """Migrating to an old revision, writing rows, then upgrading to head (the same check as
    the snapshots, on any TimescaleDB version) keeps the rows and ends at the fresh schema."""
    upgrade(mp_empty_database.settings, revision)
    with mp_empty_database.connect() as connection:
        connection.execute(SAMPLE_ROWS)
    _assert_upgraded_like_fresh(
        mp_empty_database.settings, mp_database.settings, revision, tmp_path
    )
