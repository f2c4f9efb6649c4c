"""An eighth fact table is a registry entry: mp-db ingests and reads it with no other code.

The throwaway table below is registered for one test, created in that test's own database from
the DDL the registry derives (table, CHECKs, hypertable, grants), then written and read through
both drivers with mp-db's normal API.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from dataclasses import fields
from enum import StrEnum
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
from conftest import Driver, utc
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from mp_config import PostgresSettings
from mp_db import ROW_TYPES, IngestValidationError, ingest, resolve_table
from mp_db._rows import FactRow
from mp_schema import FACT_TABLES, FactSpec, enum_check_sql, fact_spec
from mp_schema._roles import RoleNames, fact_table_grant_statements
from mp_schema.enums import SeriesKind
from mp_schema.models import (
    FLOAT8,
    Column,
    Matches,
    NonNegative,
    fact_table_ddl,
    register_fact_table,
    unregister_fact_table,
    varchar,
)


class _Kind(StrEnum):
    """The throwaway table's series kind (a real table adds it to ``SeriesKind``)."""

    WEATHER = "weather"


WEATHER = FactSpec(
    name="weather_readings",
    kind=_Kind.WEATHER,
    entities=(
        Column(
            "station",
            varchar(8),
            rules=(Matches("[A-Z]{4}", name="station_format", expected="an ICAO code"),),
        ),
    ),
    values=(Column("temperature", FLOAT8), Column("rainfall", FLOAT8, nullable=True)),
    rules=(NonNegative(("rainfall",), name="rainfall_non_negative"),),
    key_include=("temperature",),
    dated=False,
    chunk_interval="30 days",
)


@pytest.fixture
def weather(engine: Engine, mp_pg_settings: PostgresSettings) -> Iterator[int]:
    """Register the throwaway table, create it from the registry's DDL in this test's
    database, and yield a series of its kind; unregister it afterwards."""
    register_fact_table(WEATHER)
    try:
        kinds = [*(kind.value for kind in SeriesKind), _Kind.WEATHER.value]
        statements = [
            *fact_table_ddl(WEATHER.name),
            *fact_table_grant_statements(RoleNames.from_settings(mp_pg_settings), WEATHER),
            "ALTER TABLE mp.series DROP CONSTRAINT ck_series_kind_enum",
            "ALTER TABLE mp.series ADD CONSTRAINT ck_series_kind_enum CHECK "
            f"({enum_check_sql('kind', kinds)})",
        ]
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
            connection.execute(
                text(
                    "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
                    " VALUES ('wx', 'Weather', 'vendor', 'full')"
                )
            )
            series_id = connection.execute(
                text(
                    "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
                    " SELECT source_id, 'WX_1', 'weather', 'readings', 'daily'"
                    " FROM mp.data_sources WHERE code = 'wx' RETURNING series_id"
                )
            ).scalar_one()
        yield int(series_id)
    finally:
        unregister_fact_table(WEATHER.name)


@pytest.mark.parametrize("driver", ["sync", "async"], indirect=True)
def test_an_eighth_table_ingests_and_reads_through_the_normal_api(
    weather: int, driver: Driver
) -> None:
    """Ingest counts first prints, revisions and unchanged re-publications; as_of and latest
    answer per station, as they do for the built-in tables."""
    first, second = utc(2024, 3, 4, 6), utc(2024, 3, 4, 7)
    rows = [
        {"series_id": weather, "obs_time": first, "station": "EGLL", "knowledge_time": first,
         "temperature": 7.5, "rainfall": 0.2},
        {"series_id": weather, "obs_time": first, "station": "EGLL", "knowledge_time": second,
         "temperature": 7.9, "rainfall": 0.2},
        {"series_id": weather, "obs_time": first, "station": "LFPG", "knowledge_time": second,
         "temperature": 9.0},
    ]  # fmt: skip
    report = driver.ingest("weather_readings", rows)
    assert (report.inserted, report.revisions, report.unchanged) == (3, 1, 0)
    again = driver.ingest("weather_readings", rows[1:])
    assert (again.inserted, again.already_stored) == (0, 2)

    before = driver.read("as_of", "weather_readings", weather, as_of=first)
    assert [(row.station, row.temperature) for row in before] == [("EGLL", 7.5)]
    latest = driver.read("latest", "weather_readings", weather, as_of=utc(2024, 3, 5))
    assert [(row.station, row.temperature, row.rainfall) for row in latest] == [
        ("EGLL", 7.9, 0.2),
        ("LFPG", 9.0, None),
    ]
    assert type(latest[0]).__name__ == "WeatherReadingsRow"


def test_the_eighth_tables_rules_are_checked_by_ingest_and_by_the_database(
    weather: int, engine: Engine
) -> None:
    """The registry's rules reach both the compiled validator (problem codes) and the CHECKs
    in the database (a row inserted by hand past ingest is refused)."""
    bad = {
        "series_id": weather,
        "obs_time": utc(2024, 3, 4, 6),
        "station": "egll",
        "knowledge_time": utc(2024, 3, 4, 6),
        "temperature": 1.0,
        "rainfall": -1.0,
    }
    with pytest.raises(IngestValidationError) as caught:
        ingest(engine, "weather_readings", [bad])
    assert [(problem.field, problem.code) for problem in caught.value.problems] == [
        ("station", "bad_format"),
        ("rainfall", "negative"),
    ]
    refused = pytest.raises(IntegrityError, match="ck_weather_readings_rainfall_non_negative")
    with refused, engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO mp.weather_readings (series_id, obs_time, station, knowledge_time,"
                " temperature, rainfall, knowledge_time_source) VALUES (:series, now(), 'EGLL',"
                " now(), 1.0, -1.0, 'vendor')"
            ),
            {"series": weather},
        )


def test_unregistering_removes_the_table_from_mp_db() -> None:
    """After its test, the throwaway table is gone: naming it is an unknown table again."""
    assert "weather_readings" not in FACT_TABLES
    with pytest.raises(KeyError, match="weather_readings"):
        resolve_table("weather_readings")


def _python_type(column: Column) -> Any:
    return column.type.python | None if column.nullable else column.type.python


@pytest.mark.parametrize("table", list(FACT_TABLES))
def test_row_class_fields_are_the_tables_columns(table: str) -> None:
    """Each written-out row class has exactly its table's columns, with the registry's types
    (``X | None`` for nullable columns), so the typed classes cannot drift from the registry."""
    row_type = ROW_TYPES[table]
    spec = fact_spec(FACT_TABLES[table])
    hints = get_type_hints(row_type)
    assert {item.name for item in fields(row_type)} == {column.name for column in spec.columns}
    for column in spec.columns:
        hint = hints[column.name]
        if get_origin(hint) in {Union, types.UnionType}:
            hint = get_args(hint)[0] | get_args(hint)[1]
        assert hint == _python_type(column), (table, column.name)
    assert issubclass(row_type, FactRow)
    assert row_type.table == table
