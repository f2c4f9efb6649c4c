"""Least privilege, checked as the roles themselves: what each may and may not do."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import SeriesMaker
from psycopg import errors, sql

from mp_config import PostgresSettings
from mp_schema import MigrationError, upgrade
from mp_testing.fixtures import TestDatabase

INSERT = (
    "INSERT INTO mp.macro_observations (series_id, obs_time, knowledge_time, value,"
    " knowledge_time_source) VALUES (%s, '2024-03-01 00:00+00', '2024-04-10 12:30+00', 1.0,"
    " 'vendor')"
)

pytestmark = pytest.mark.scenario("security")


@pytest.fixture
def as_role(db: Any, mp_pg_settings: PostgresSettings) -> Iterator[Any]:
    """A function that switches the connection to a role (owner becomes a member first)."""

    def switch(role: str) -> None:
        db.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
        db.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))

    yield switch
    db.execute("RESET ROLE")


def test_ingest_inserts_facts_and_registers_series(
    db: Any, as_role: Any, mp_pg_settings: PostgresSettings, make_series: SeriesMaker
) -> None:
    """The ingest role can INSERT facts (into a new chunk too) and metadata, and SELECT."""
    as_role(mp_pg_settings.ingest_role)
    series_id = make_series()
    db.execute(INSERT, (series_id,))
    db.execute(INSERT.replace("2024-", "1991-"), (series_id,))
    assert db.execute("SELECT count(*) FROM mp.macro_observations").fetchone() == (2,)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE mp.macro_observations SET value = 2",
        "DELETE FROM mp.macro_observations",
        "TRUNCATE mp.macro_observations",
        "UPDATE mp.series SET name = 'changed'",
        "DELETE FROM mp.series",
        "CREATE TABLE mp.sneaky (id int)",
        "CREATE TABLE public.sneaky (id int)",
        "DROP TABLE mp.macro_observations",
        "SELECT * FROM mp.apply_timescale_features()",
    ],
)
def test_ingest_cannot_change_or_remove(
    db: Any,
    as_role: Any,
    mp_pg_settings: PostgresSettings,
    statement: str,
    make_series: SeriesMaker,
) -> None:
    """No UPDATE, DELETE, TRUNCATE, DDL or feature changes for the ingest role."""
    series_id = make_series()
    db.execute(INSERT, (series_id,))
    as_role(mp_pg_settings.ingest_role)
    with pytest.raises(errors.InsufficientPrivilege):
        db.execute(statement)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
        " VALUES ('x', 'x', 'vendor', 'full')",
        "UPDATE mp.macro_observations SET value = 2",
        "DELETE FROM mp.macro_observations",
        "TRUNCATE mp.series CASCADE",
        "CREATE TABLE mp.notes (id int)",
    ],
)
def test_research_cannot_write(
    db: Any, as_role: Any, mp_pg_settings: PostgresSettings, statement: str
) -> None:
    """The research role reads and nothing else."""
    as_role(mp_pg_settings.research_role)
    assert db.execute("SELECT count(*) FROM mp.series").fetchone() == (0,)
    with pytest.raises(errors.InsufficientPrivilege):
        db.execute(statement)


def test_research_has_a_statement_timeout_here(mp_empty_database: TestDatabase) -> None:
    """Migrating a database gives the research role a statement timeout in that database.

    (A per-database role setting belongs to the database it was set in, so a clone of a
    migrated template does not carry it: this test migrates a database of its own.)
    """
    settings = mp_empty_database.settings
    upgrade(settings, "head")
    with mp_empty_database.connect() as connection:
        row = connection.execute(
            "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole"
            " JOIN pg_database d ON d.oid = s.setdatabase"
            " WHERE r.rolname = %s AND d.datname = current_database()",
            (settings.research_role,),
        ).fetchone()
    assert row is not None
    assert f"statement_timeout={settings.research_statement_timeout_ms}ms" in row[0]


def test_public_gets_nothing(db: Any) -> None:
    """A role with no grants cannot even see into schema mp."""
    name = f"mp_nobody_{secrets.token_hex(3)}"
    db.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
    try:
        db.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(name)))
        db.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(name)))
        with pytest.raises(errors.InsufficientPrivilege, match="schema mp"):
            db.execute("SELECT count(*) FROM mp.series")
    finally:
        db.execute("RESET ROLE")
        db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_migrating_without_createrole_says_what_to_do(mp_empty_database: TestDatabase) -> None:
    """Missing roles and no CREATEROLE: the migration fails naming the role and the fix."""
    limited = f"mp_limited_{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(12)
    with mp_empty_database.connect() as connection:
        connection.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(limited), sql.Literal(password)
            )
        )
        connection.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(limited)))
        connection.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(mp_empty_database.name), sql.Identifier(limited)
            )
        )
    base = mp_empty_database.settings
    settings = PostgresSettings.load(
        env_file=None,
        host=base.host,
        port=base.port,
        database=base.database,
        user=limited,
        password=password,
        ingest_role=f"mp_ingest_{secrets.token_hex(3)}",
    )
    try:
        with pytest.raises(MigrationError, match="may not create roles") as caught:
            upgrade(settings, "head")
        assert settings.ingest_role in str(caught.value)
    finally:
        with mp_empty_database.connect() as connection:
            connection.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO CURRENT_USER").format(
                    sql.Identifier(mp_empty_database.name)
                )
            )
            connection.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(limited)))
            connection.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(limited)))
