"""`mp-schema revision` writes the next frozen migration from what the models add over head."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION
from sqlalchemy.exc import IntegrityError
from test_cli import environment_for, run_script
from test_frozen_migrations import ALLOWED_IMPORTS, imported_modules

import mp_schema
from mp_schema import FactSpec, MigrationError, fact_spec, heads, revision
from mp_schema._revision import revision_config
from mp_schema.enums import Frequency, SeriesKind
from mp_schema.models import NAMING_CONVENTION
from mp_testing.fixtures import TestDatabase

pytestmark = pytest.mark.scenario("migrations")

#: The throwaway fact table's spec: an entity column, its own chunk and compression ages.
WEATHER = FactSpec(
    name="weather_readings",
    kind=SeriesKind.MACRO,
    values=(mp_schema.models.Column("value", mp_schema.models.FLOAT8),),
    entities=(mp_schema.models.Column("station", mp_schema.models.varchar(8)),),
    chunk_interval="30 days",
    compress_after="60 days",
)


def _copy_of_models() -> MetaData:
    """The real models, copied into a MetaData of this test's own (nothing global changes)."""
    copy = MetaData(schema="mp", naming_convention=NAMING_CONVENTION)
    for table in mp_schema.metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


def _with_weather_table() -> MetaData:
    """The models plus ``mp.weather_readings``, a fact table built with plain SQLAlchemy."""
    models = _copy_of_models()
    Table(
        "weather_readings",
        models,
        Column("series_id", Integer, ForeignKey("mp.series.series_id"), nullable=False),
        Column("obs_time", DateTime(timezone=True), nullable=False),
        Column("station", String(8), nullable=False),
        Column("knowledge_time", DateTime(timezone=True), nullable=False),
        Column("value", DOUBLE_PRECISION, nullable=False),
        Column("revision", SmallInteger, server_default=text("0"), nullable=False),
        Column("knowledge_time_source", String(16), nullable=False),
        Column("ingested_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column(
            "ingest_id",
            BigInteger,
            server_default=text("mp.current_ingest_id()"),
            nullable=False,
        ),
        PrimaryKeyConstraint(*WEATHER.key_columns, postgresql_include=["value"]),
        CheckConstraint("knowledge_time >= obs_time", name="knowledge_after_obs"),
        CheckConstraint("value > -100 AND value < 100", name="value_plausible"),
        info={"fact": WEATHER},
    )
    return models


def _with_hourly_frequency() -> MetaData:
    """The models with one more ``series.frequency`` value (the "add an enum value" case) and
    a new ``series.weight`` column with a CHECK."""
    models = _copy_of_models()
    series = models.tables["mp.series"]
    old = next(item for item in series.constraints if item.name == "ck_series_frequency_enum")
    series.constraints.discard(old)
    values = ", ".join(f"'{item}'" for item in [*(member.value for member in Frequency), "hourly"])
    series.append_constraint(CheckConstraint(f"frequency IN ({values})", name="frequency_enum"))
    # A new column whose CHECK can only be compared once the column exists.
    series.append_column(Column("weight", DOUBLE_PRECISION, nullable=True))
    series.append_constraint(CheckConstraint("weight > 0", name="weight_positive"))
    return models


def _written(path: Path | None) -> str:
    assert path is not None
    return path.read_text()


def _scalar(connection: Any, sql: str, *params: object) -> Any:
    row = connection.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def _assert_gone(connection: Any, table: str) -> None:
    assert _scalar(connection, "SELECT to_regclass(%s)", f"mp.{table}") is None
    assert (
        _scalar(
            connection, "SELECT count(*) FROM mp.timescale_features WHERE table_name = %s", table
        )
        == 0
    )


def test_new_fact_table_migration_is_frozen(mp_database: TestDatabase, tmp_path: Path) -> None:
    """The migration for a new fact table is the next revision, imports nothing of mp_schema
    and holds no live object: only literal SQL and values."""
    head = heads()[0]
    path = revision(
        mp_database.settings,
        "Add weather readings",
        metadata=_with_weather_table(),
        versions_dir=tmp_path,
    )
    source = _written(path)
    assert path is not None
    assert path.name == f"{int(head) + 1:04d}_add_weather_readings.py"
    assert f'revision = "{int(head) + 1:04d}"' in source
    assert f'down_revision = "{head}"' in source
    assert imported_modules(source) <= ALLOWED_IMPORTS
    assert "FactSpec" not in source
    assert "mp_schema" not in source
    assert "INTERVAL '30 days'" in source
    assert "postgresql_include=['value']" in source  # Alembic alone drops INCLUDE
    assert (
        "('weather_readings', 'series_id', 'obs_time DESC, station, knowledge_time DESC'," in source
    )
    compile(source, str(path), "exec")


def test_new_fact_table_upgrades_like_the_others(mp_database: TestDatabase, tmp_path: Path) -> None:
    """Upgrading through the written migration makes a hypertable with the spec's chunk
    interval, its CHECKs, the roles' grants, the ingest_id default and a compression lifecycle
    row like every other fact table's; afterwards the models and the database agree, and
    downgrading removes all of it again."""
    settings = mp_database.settings
    models = _with_weather_table()
    revision(settings, "Add weather readings", metadata=models, versions_dir=tmp_path)
    config = revision_config(settings, tmp_path)
    command.upgrade(config, "head")
    with mp_database.connect() as connection:
        interval = _scalar(
            connection,
            "SELECT time_interval FROM timescaledb_information.dimensions"
            " WHERE hypertable_schema = 'mp' AND hypertable_name = 'weather_readings'",
        )
        assert interval == timedelta(days=30)
        checks = {
            row[0]
            for row in connection.execute(
                "SELECT conname FROM pg_constraint"
                " WHERE conrelid = 'mp.weather_readings'::regclass AND contype = 'c'"
            )
        }
        assert checks == {
            "ck_weather_readings_knowledge_after_obs",
            "ck_weather_readings_value_plausible",
        }
        assert (
            _scalar(
                connection,
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = 'mp.weather_readings'::regclass AND contype = 'p'",
            )
            == "PRIMARY KEY (series_id, obs_time, station, knowledge_time) INCLUDE (value)"
        )
        privileges = connection.execute(
            "SELECT has_table_privilege(%s, 'mp.weather_readings', 'INSERT'),"
            " has_table_privilege(%s, 'mp.weather_readings', 'UPDATE'),"
            " has_table_privilege(%s, 'mp.weather_readings', 'SELECT'),"
            " has_table_privilege(%s, 'mp.weather_readings', 'INSERT')",
            (
                settings.ingest_role,
                settings.ingest_role,
                settings.research_role,
                settings.research_role,
            ),
        ).fetchone()
        assert privileges == (True, False, True, False)
        states = dict(
            connection.execute(
                "SELECT table_name, status FROM mp.timescale_features"
                " WHERE feature = 'compression'"
                " AND table_name IN ('weather_readings', 'macro_observations')"
            ).fetchall()
        )
        assert states["weather_readings"] == states["macro_observations"]
        series_id = _scalar(
            connection,
            "WITH source AS (INSERT INTO mp.data_sources (code, name, source_type,"
            " vintage_capability) VALUES ('wx', 'Weather', 'internal', 'full')"
            " RETURNING source_id) INSERT INTO mp.series (source_id, source_code, kind, name,"
            " frequency) SELECT source_id, 'T2M', 'macro', 'temperature', 'daily' FROM source"
            " RETURNING series_id",
        )
        ingest_id = _scalar(
            connection,
            "INSERT INTO mp.weather_readings (series_id, obs_time, station, knowledge_time,"
            " value, knowledge_time_source) VALUES (%s, '2026-01-01', 'LHR',"
            " '2026-01-02', 4.5, 'vendor') RETURNING ingest_id",
            series_id,
        )
        assert (
            _scalar(connection, "SELECT writer FROM mp.ingest_log WHERE ingest_id = %s", ingest_id)
            == "sql"
        )
        with pytest.raises(psycopg.errors.CheckViolation, match="value_plausible"):
            connection.execute(
                "INSERT INTO mp.weather_readings (series_id, obs_time, station,"
                " knowledge_time, value, knowledge_time_source) VALUES (%s, '2026-01-01',"
                " 'LHR', '2026-01-03', 400, 'vendor')",
                (series_id,),
            )
    assert revision(settings, "again", metadata=models, versions_dir=tmp_path) is None
    command.downgrade(config, heads()[0])
    with mp_database.connect() as connection:
        _assert_gone(connection, "weather_readings")
    assert revision(settings, "nothing", versions_dir=tmp_path / "none") is None


def test_widened_enum_check_is_replaced(mp_database: TestDatabase, tmp_path: Path) -> None:
    """A value added to an enum CHECK of an existing table (which autogenerate does not
    compare) becomes a literal DROP/ADD CONSTRAINT pair, and a new column's CHECK is added after
    the column: the new value is accepted after the upgrade, a bad weight is not, and the
    downgrade refuses while a row still uses the new value."""
    settings = mp_database.settings
    models = _with_hourly_frequency()
    source = _written(revision(settings, "Hourly series", metadata=models, versions_dir=tmp_path))
    assert "DROP CONSTRAINT ck_series_frequency_enum" in source
    assert "'irregular', 'hourly')" in source
    assert "ADD CONSTRAINT ck_series_weight_positive CHECK (weight > 0)" in source
    command.upgrade(revision_config(settings, tmp_path), "head")
    assert revision(settings, "again", metadata=models, versions_dir=tmp_path) is None
    with mp_database.connect() as connection:
        connection.execute(
            "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
            " VALUES ('wx', 'Weather', 'internal', 'full')"
        )
        connection.execute(
            "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
            " SELECT source_id, 'T2M', 'macro', 'temperature', 'hourly' FROM mp.data_sources"
        )
        with pytest.raises(psycopg.errors.CheckViolation, match="weight_positive"):
            connection.execute("UPDATE mp.series SET weight = -1")
        # Narrowing the CHECK again re-validates the rows: an hourly series stops it.
        with pytest.raises(IntegrityError, match="ck_series_frequency_enum"):
            command.downgrade(revision_config(settings, tmp_path), "-1")
        connection.execute("DELETE FROM mp.series WHERE frequency = 'hourly'")
    command.downgrade(revision_config(settings, tmp_path), "-1")
    assert revision(settings, "nothing", versions_dir=tmp_path / "none") is None


def test_dropped_fact_table_and_changed_spec(mp_database: TestDatabase, tmp_path: Path) -> None:
    """Dropping a fact table forgets its compression row and takes it out of the feature
    function; a changed chunk interval, compress_after and primary key INCLUDE (which
    autogenerate does not compare) are set again. The downgrade brings the hypertable back with
    its old chunk interval, key INCLUDE and grants, and the database matches the real models
    again."""
    settings = mp_database.settings
    models = _copy_of_models()
    models.remove(models.tables["mp.signal_values"])
    fixings = models.tables["mp.rate_fixings"]
    fixings.info["fact"] = replace(
        fact_spec(fixings), chunk_interval="90 days", compress_after="400 days"
    )
    fixings.primary_key.dialect_options["postgresql"]["include"] = ["value"]
    source = _written(revision(settings, "Drop signals", metadata=models, versions_dir=tmp_path))
    assert "set_chunk_time_interval('mp.rate_fixings', INTERVAL '90 days')" in source
    assert (
        "('rate_fixings', 'series_id', 'obs_time DESC, knowledge_time DESC', '400 days')" in source
    )
    assert (
        "ADD CONSTRAINT pk_rate_fixings PRIMARY KEY (series_id, obs_time, knowledge_time)"
        ' INCLUDE (value)"' in source
    )
    assert "mp.rate_fixings has compressed chunks: its primary key cannot be rebuilt" in source
    real_key = mp_schema.FACT_TABLES["rate_fixings"].primary_key
    assert real_key.dialect_options["postgresql"]["include"] == []  # only the copy changed
    config = revision_config(settings, tmp_path)
    command.upgrade(config, "head")
    assert revision(settings, "again", metadata=models, versions_dir=tmp_path) is None
    with mp_database.connect() as connection:
        _assert_gone(connection, "signal_values")
        assert "signal_values" not in _scalar(
            connection, "SELECT prosrc FROM pg_proc WHERE proname = 'apply_timescale_features'"
        )
    command.downgrade(config, heads()[0])
    with mp_database.connect() as connection:
        intervals = dict(
            connection.execute(
                "SELECT hypertable_name, time_interval FROM timescaledb_information.dimensions"
                " WHERE hypertable_name IN ('signal_values', 'rate_fixings')"
            ).fetchall()
        )
        assert intervals == {
            "signal_values": timedelta(days=7),
            "rate_fixings": timedelta(days=360),
        }
        keys = dict(
            connection.execute(
                "SELECT (SELECT relname FROM pg_class WHERE oid = conrelid),"
                " pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid IN ('mp.signal_values'::regclass, 'mp.rate_fixings'::regclass)"
                " AND contype = 'p'"
            ).fetchall()
        )
        assert keys == {
            "signal_values": "PRIMARY KEY (series_id, obs_time, instrument_id, knowledge_time)",
            "rate_fixings": "PRIMARY KEY (series_id, obs_time, knowledge_time)",
        }
        assert _scalar(
            connection,
            "SELECT has_table_privilege(%s, 'mp.signal_values', 'INSERT')",
            settings.ingest_role,
        )
    assert revision(settings, "nothing", versions_dir=tmp_path / "none") is None


def test_no_model_change_writes_nothing(mp_database: TestDatabase, tmp_path: Path) -> None:
    """With the models as the migrations left them, nothing is written (an empty migration
    would only lengthen the frozen chain), and the command line says so."""
    assert revision(mp_database.settings, "nothing", versions_dir=tmp_path) is None
    assert list(tmp_path.iterdir()) == []
    ran = run_script(
        "revision",
        "-m",
        "nothing",
        "--versions-dir",
        str(tmp_path),
        environment=environment_for(mp_database.settings),
    )
    assert ran.returncode == 0, ran.stderr
    assert "nothing written" in ran.stdout
    assert list(tmp_path.iterdir()) == []


def test_database_behind_head_is_refused(mp_empty_database: TestDatabase, tmp_path: Path) -> None:
    """Comparing against a database that is not at head would write a wrong migration: it is
    refused with what to do."""
    with pytest.raises(MigrationError, match=r"is at revision base.*mp-schema upgrade"):
        revision(mp_empty_database.settings, "x", versions_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    """With no server answering, the command line prints one line naming the database (no
    traceback) and exits 1, writing nothing."""
    ran = run_script(
        "revision",
        "-m",
        "x",
        "--versions-dir",
        str(tmp_path),
        environment={**os.environ, "MP_ENV_FILE": "", "MP_PG_PORT": "1"},
    )
    assert ran.returncode == 1
    assert "compare the models with the database against" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("message", ["", "two\nlines", 'quote """ in it'])
def test_message_must_be_one_plain_line(message: str, tmp_path: Path) -> None:
    """The message becomes the docstring and file name: anything else is refused up front."""
    with pytest.raises(MigrationError, match="one line"):
        revision(None, message, versions_dir=tmp_path)


def test_slug_names_the_file() -> None:
    """File names are the revision and the message in lower-case words."""
    from mp_schema._revision import _slug

    assert _slug("Add weather readings (hourly)!") == "add_weather_readings_hourly"
    assert re.fullmatch(r"[a-z0-9_]{1,40}", _slug("x" * 80))
