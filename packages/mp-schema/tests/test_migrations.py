"""The packaged migrations run against a real TimescaleDB, up and down."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from typing import Any

import pytest

from mp_schema import (
    SchemaDriftError,
    check,
    current,
    downgrade,
    heads,
    history,
    offline_sql,
    upgrade,
)
from mp_testing.fixtures import TestDatabase

pytestmark = pytest.mark.scenario("migrations")


def test_single_head() -> None:
    """The migration tree never branches."""
    assert len(heads()) == 1


def test_history_is_linear_from_base() -> None:
    """Each revision's parent is the one before it."""
    revisions = history()
    assert revisions[0].down_revision is None
    for previous, following in itertools.pairwise(revisions):
        assert following.down_revision == previous.revision


def test_upgrade_from_empty_then_down_to_base(mp_empty_database: TestDatabase) -> None:
    """An empty database upgrades to head and downgrades to base leaving no extension."""
    settings = mp_empty_database.settings
    assert current(settings) is None
    upgrade(settings, "head")
    assert current(settings) == heads()[0]
    upgrade(settings, "head")  # a second upgrade is a no-op
    with mp_empty_database.connect() as connection:
        assert connection.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone() == (1,)
    downgrade(settings, "base")
    assert current(settings) is None
    with mp_empty_database.connect() as connection:
        assert connection.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone() == (0,)


def test_every_revision_up_down_up(mp_empty_database: TestDatabase) -> None:
    """Each revision upgrades, downgrades to its parent and upgrades again cleanly."""
    settings = mp_empty_database.settings
    for item in history():
        upgrade(settings, item.revision)
        downgrade(settings, item.down_revision or "base")
        upgrade(settings, item.revision)
        assert current(settings) == item.revision


def test_models_match_the_migrated_database(mp_pg_settings: Any) -> None:
    """Autogenerate finds no difference between the models and the migrated database."""
    check(mp_pg_settings)


def test_drift_is_reported(mp_database: TestDatabase) -> None:
    """A column added behind the migrations' back is reported by check, by name."""
    with mp_database.connect() as connection:
        connection.execute("ALTER TABLE mp.series ADD COLUMN surprise integer")
    with pytest.raises(SchemaDriftError, match="surprise"):
        check(mp_database.settings)


def test_drift_alembic_does_not_see_is_reported(mp_database: TestDatabase) -> None:
    """A CHECK dropped, a primary key rebuilt with INCLUDE and a series trigger dropped behind
    the migrations' back (none of which alembic compares) are each reported by check, with
    the statement that would put it back."""
    changes = [
        (
            "ALTER TABLE mp.macro_observations"
            " DROP CONSTRAINT ck_macro_observations_knowledge_time_source_enum",
            "ck_macro_observations_knowledge_time_source_enum",
        ),
        (
            "ALTER TABLE mp.rate_fixings DROP CONSTRAINT pk_rate_fixings,"
            " ADD CONSTRAINT pk_rate_fixings PRIMARY KEY (series_id, obs_time, knowledge_time)"
            " INCLUDE (value)",
            "pk_rate_fixings",
        ),
        ("DROP TRIGGER series_exists ON mp.curve_points", "series_exists"),
    ]
    with mp_database.connect() as connection:
        for statement, _ in changes:
            connection.execute(statement)
    with pytest.raises(SchemaDriftError) as raised:
        check(mp_database.settings)
    reported = "\n".join(raised.value.differences)
    for _, named in changes:
        assert named in reported, (named, reported)
    assert "ON mp.curve_points" in reported
    assert "mp.rate_fixings ADD CONSTRAINT pk_rate_fixings" in reported
    assert all(line.startswith("needs: ") for line in raised.value.differences)
    assert not any("RAISE EXCEPTION" in line for line in raised.value.differences)


def test_base_leaves_nothing_behind(mp_empty_database: TestDatabase) -> None:
    """Downgrading to base removes mp's schema, tables, types, functions and role grants."""
    settings = mp_empty_database.settings
    upgrade(settings, "head")
    downgrade(settings, "base")
    with mp_empty_database.connect() as connection:
        leftovers = connection.execute(
            "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'mp'),"
            " (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            "   WHERE n.nspname IN ('public', 'mp') AND c.relname <> 'alembic_version'"
            "   AND c.relkind IN ('r', 'v', 'p', 'S')),"
            " (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
            "   WHERE n.nspname = 'mp'),"
            " (SELECT count(*) FROM pg_default_acl),"
            " (SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d"
            "   ON d.oid = s.setdatabase WHERE d.datname = current_database()),"
            " (SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb')"
        ).fetchone()
    assert leftovers == (0, 0, 0, 0, 0, 0)


def test_downgrade_of_roles_revokes_every_grant(mp_database: TestDatabase) -> None:
    """Down to 0002 (before roles), neither managed role holds any privilege in schema mp."""
    settings = mp_database.settings
    downgrade(settings, "0002")
    with mp_database.connect() as connection:
        rows = connection.execute(
            "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants"
            " WHERE table_schema = 'mp' AND grantee IN (%s, %s)",
            (settings.ingest_role, settings.research_role),
        ).fetchall()
        usage = connection.execute(
            "SELECT has_schema_privilege(%s, 'mp', 'USAGE'), has_schema_privilege(%s, 'mp',"
            " 'USAGE')",
            (settings.ingest_role, settings.research_role),
        ).fetchone()
    assert rows == []
    assert usage == (False, False)
    upgrade(settings, "head")


def test_offline_sql_needs_no_server() -> None:
    """`mp-schema sql` renders the upgrade without connecting anywhere."""
    sql = offline_sql("base:head")
    assert "CREATE EXTENSION IF NOT EXISTS timescaledb" in sql


def test_cli_upgrade_and_current(mp_empty_database: TestDatabase) -> None:
    """The console script migrates the database named by MP_PG_* and reports the revision."""
    settings = mp_empty_database.settings
    environment = {
        **os.environ,
        "MP_ENV_FILE": "",
        "MP_PG_HOST": settings.host,
        "MP_PG_PORT": str(settings.port),
        "MP_PG_USER": settings.user,
        "MP_PG_PASSWORD": settings.password.get_secret_value() if settings.password else "",
        "MP_PG_DATABASE": settings.database,
    }
    upgraded = subprocess.run(
        [sys.executable, "-m", "mp_schema", "upgrade"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    reported = subprocess.run(
        [sys.executable, "-m", "mp_schema", "current"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert reported.stdout.strip() == heads()[0]
    password = environment["MP_PG_PASSWORD"]
    assert password not in upgraded.stdout + upgraded.stderr


def test_cli_reports_unreachable_server_without_traceback() -> None:
    """A server that does not answer gives one line naming host and port, and exit status 1."""
    environment = {
        **os.environ,
        "MP_ENV_FILE": "",
        "MP_PG_PORT": "1",
        "MP_PG_PASSWORD": "never-shown",
    }
    result = subprocess.run(
        [sys.executable, "-m", "mp_schema", "current"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr
    assert "never-shown" not in result.stderr
