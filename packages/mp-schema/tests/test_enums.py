"""The enums are the source of truth; the database's CHECK constraints follow them exactly."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

import pytest
from psycopg import errors

from mp_schema import enum_check_sql
from mp_schema.enums import (
    COUNTRY_NAMES,
    CURRENCY_NAMES,
    Country,
    Currency,
    Frequency,
    KnowledgeTimeSource,
    SeriesKind,
)
from mp_schema.models import metadata

ENUM_CHECK = re.compile(r"^ck_(?P<table>.+)_(?P<column>[a-z_]+?)_enum$")


def _enum_columns() -> dict[tuple[str, str], set[str]]:
    """(table, column) -> allowed values, read from the models' CHECK constraints."""
    found: dict[tuple[str, str], set[str]] = {}
    for table in metadata.sorted_tables:
        for constraint in table.constraints:
            name = str(constraint.name or "")
            if name.endswith("_enum"):
                text = str(constraint.sqltext)  # type: ignore[attr-defined]
                column = text.split(" IN ", 1)[0].strip()
                found[(table.name, column)] = set(re.findall(r"'([^']*)'", text))
    return found


def test_iso_enums_cover_the_standards() -> None:
    """Country has ISO 3166-1's 249 codes plus 3 aggregates; Currency has ISO 4217's codes."""
    assert len(Country) == 249 + 3
    assert {"US", "DE", "JP", "EU", "EZ", "XW"} <= {member.value for member in Country}
    assert {"USD", "EUR", "JPY", "XAU"} <= {member.value for member in Currency}
    assert set(COUNTRY_NAMES) == set(Country)
    assert set(CURRENCY_NAMES) == set(Currency)


def test_every_series_kind_has_a_fact_table() -> None:
    """Each SeriesKind maps to exactly one fact table."""
    from mp_schema import fact_table_for

    tables = {fact_table_for(kind).name for kind in SeriesKind}
    assert len(tables) == len(SeriesKind)


def test_frequency_knows_dated_data() -> None:
    """Daily-or-slower frequencies are dated (00:00 UTC); intraday and irregular are not."""
    assert Frequency.MONTHLY.daily_or_slower
    assert not Frequency.INTRADAY.daily_or_slower


def test_enum_check_refuses_unsafe_values() -> None:
    """Values are inlined into DDL, so anything but a plain word is refused."""
    with pytest.raises(ValueError, match="plain word"):
        enum_check_sql("frequency", ["daily", "x'); DROP TABLE mp.series; --"])


def test_database_checks_equal_the_enums(db: Any) -> None:
    """Every enum CHECK in the migrated database admits exactly the models' values."""
    rows = db.execute(
        "SELECT cl.relname, co.conname, pg_get_constraintdef(co.oid) FROM pg_constraint co"
        " JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace"
        " WHERE n.nspname = 'mp' AND co.contype = 'c' AND co.conname LIKE '%%\\_enum'"
    ).fetchall()
    in_database: dict[tuple[str, str], set[str]] = {}
    for table, name, definition in rows:
        match = ENUM_CHECK.match(name)
        assert match is not None, name
        column = name.removeprefix(f"ck_{table}_").removesuffix("_enum")
        in_database[(table, column)] = set(re.findall(r"'([^']*)'", definition))
    models = _enum_columns()
    assert in_database == models
    assert in_database[("series", "kind")] == {member.value for member in SeriesKind}


def test_value_outside_an_enum_is_refused_by_name(db: Any) -> None:
    """An unknown frequency is rejected by the database, naming the CHECK."""
    db.execute(
        "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
        " VALUES ('ecb', 'ECB', 'central_bank', 'full')"
    )
    with pytest.raises(errors.CheckViolation, match="ck_series_frequency_enum"):
        db.execute(
            "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
            " SELECT source_id, 'X', 'macro', 'x', 'fortnightly-ish' FROM mp.data_sources"
        )


def _apply_replace(settings: Any, values: list[str]) -> None:
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    from mp_schema import replace_enum_check
    from mp_schema._migrations import migration_engine

    engine = migration_engine(settings)
    try:
        with engine.begin() as connection:
            context = MigrationContext.configure(connection)
            with Operations.context(context):
                replace_enum_check("series", "frequency", values)
    finally:
        engine.dispose()


def test_adding_a_value_is_one_migration_step(db: Any, mp_pg_settings: Any) -> None:
    """replace_enum_check widens the CHECK so the new value is accepted, old rows stay valid."""

    class WiderFrequency(StrEnum):
        HOURLY = "hourly"

    db.execute(
        "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
        " VALUES ('bls', 'BLS', 'statistics_office', 'full')"
    )
    insert = (
        "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
        " SELECT source_id, %s, 'macro', 'x', %s FROM mp.data_sources"
    )
    db.execute(insert, ("OLD", "monthly"))
    with pytest.raises(errors.CheckViolation):
        db.execute(insert, ("NEW", "hourly"))
    _apply_replace(
        mp_pg_settings,
        [*(member.value for member in Frequency), *(member.value for member in WiderFrequency)],
    )
    db.execute(insert, ("NEW", "hourly"))
    count = db.execute("SELECT count(*) FROM mp.series").fetchone()
    assert count == (2,)


def test_removing_a_value_in_use_fails_loudly(db: Any, mp_pg_settings: Any) -> None:
    """Narrowing a CHECK while rows still use the value is refused by the database."""
    from sqlalchemy.exc import IntegrityError

    db.execute(
        "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
        " VALUES ('bls', 'BLS', 'statistics_office', 'full')"
    )
    db.execute(
        "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
        " SELECT source_id, 'A', 'macro', 'x', 'weekly' FROM mp.data_sources"
    )
    with pytest.raises(IntegrityError, match="ck_series_frequency_enum"):
        _apply_replace(mp_pg_settings, ["monthly"])


def test_knowledge_time_sources_are_documented() -> None:
    """Each knowledge-time quality level is one of the four documented ones."""
    assert {member.value for member in KnowledgeTimeSource} == {
        "vendor",
        "calendar",
        "rule",
        "captured",
    }
