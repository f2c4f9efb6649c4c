"""Variants of the macro_observations hypertable, one part of today's schema each.

Every variant has today's columns (``revision`` and ``ingested_at`` with their defaults) and
the primary key (series_id, obs_time, knowledge_time) on a hypertable with 1-year chunks, as
migration 0002 creates it; each then adds one part of today's table, so a COPY into it costs
the floor plus that part. ``today`` adds all of them, as mp's migrations do (0002 and 0004).
The DDL mirrors the migrations by hand; it never touches ``mp.macro_observations``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench_db_data import COPY_COLUMNS, Version
from sqlalchemy import Engine, text

__all__ = [
    "CHECKS",
    "VARIANTS",
    "TableVariant",
    "copy_rows",
    "create_variant",
    "records_for",
    "variant",
]

SCHEMA = "bench"
#: The five CHECKs of today's table, by the name of what they guarantee.
CHECKS = {
    "check_source_enum": "knowledge_time_source IN ('vendor', 'calendar', 'rule', 'captured')",
    "check_obs_midnight_utc": "obs_time = date_trunc('day', obs_time, 'UTC')",
    "check_value_finite": "value > '-Infinity'::float8 AND value < 'Infinity'::float8",
    "check_knowledge_after_obs": "knowledge_time >= obs_time",
    "check_revision_non_negative": "revision >= 0",
}
_SOURCE_CODES = {"vendor": 1, "calendar": 2, "rule": 3, "captured": 4}


@dataclass(frozen=True)
class TableVariant:
    """One table shape.

    Attributes:
        name: key in the results and the table's name in schema ``bench``.
        label: what it adds to the bare table.
        include_value: ``INCLUDE (value)`` on the primary key.
        cross_section_index: the (obs_time, series_id, knowledge_time DESC) index.
        foreign_key: series_id references mp.series, checked per row.
        checks: names from :data:`CHECKS`.
        source_type: the SQL type of knowledge_time_source.
        ingest_id: the ``ingest_id`` column with its default ``mp.current_ingest_id()``.
        sends_ingest_id: the COPY sends ingest_id (as mp's ingest does), so the default is
            never evaluated.
        series_trigger: mp's ``series_exists`` row trigger (revision 0006), which checks each
            row's series unless the writer declared its own check.
        series_checked: the COPY's transaction declares the check
            (``SET LOCAL mp.series_checked = 'on'``, as mp's ingest does), so the trigger's
            ``WHEN`` is false on every row.
    """

    name: str
    label: str
    include_value: bool = False
    cross_section_index: bool = False
    foreign_key: bool = False
    checks: tuple[str, ...] = ()
    source_type: str = "varchar(16)"
    ingest_id: bool = False
    sends_ingest_id: bool = False
    series_trigger: bool = False
    series_checked: bool = False

    @property
    def table(self) -> str:
        """The qualified table name."""
        return f"{SCHEMA}.{self.name}"

    def statements(self) -> list[str]:
        """DDL creating the variant as a hypertable."""
        columns = [
            "series_id integer NOT NULL",
            "obs_time timestamptz NOT NULL",
            "knowledge_time timestamptz NOT NULL",
            "value double precision NOT NULL",
            "revision smallint NOT NULL DEFAULT 0",
            f"knowledge_time_source {self.source_type} NOT NULL",
            "ingested_at timestamptz NOT NULL DEFAULT now()",
        ]
        if self.ingest_id:
            columns.append("ingest_id bigint NOT NULL DEFAULT mp.current_ingest_id()")
        include = " INCLUDE (value)" if self.include_value else ""
        columns.append(f"PRIMARY KEY (series_id, obs_time, knowledge_time){include}")
        if self.foreign_key:
            columns.append("FOREIGN KEY (series_id) REFERENCES mp.series (series_id)")
        columns += [f"CONSTRAINT {name} CHECK ({CHECKS[name]})" for name in self.checks]
        statements = [
            f"DROP TABLE IF EXISTS {self.table}",
            f"CREATE TABLE {self.table} ({', '.join(columns)})",
            f"SELECT create_hypertable('{self.table}', by_range('obs_time', INTERVAL '1 year'),"
            " create_default_indexes => false)",
        ]
        if self.cross_section_index:
            statements.append(
                f"CREATE INDEX ON {self.table} (obs_time, series_id, knowledge_time DESC)"
            )
        if self.series_trigger:
            # As revision 0006 creates it (mp_schema._series_guard.table_trigger_sql).
            statements.append(
                f"CREATE TRIGGER series_exists BEFORE INSERT OR UPDATE OF series_id ON "
                f"{self.table} FOR EACH ROW WHEN (current_setting('mp.series_checked', true) "
                "IS DISTINCT FROM 'on') EXECUTE FUNCTION "
                "mp.check_series_exists('macro', 'macro_observations')"
            )
        return statements

    def copy_columns(self) -> list[str]:
        """The columns the COPY sends: :data:`COPY_COLUMNS`, plus ingest_id if sent."""
        return [*COPY_COLUMNS, *(["ingest_id"] if self.sends_ingest_id else [])]

    def copy_types(self) -> list[str]:
        """Binary COPY types of :meth:`copy_columns` (an enum takes its label as text)."""
        source = "int2" if self.source_type == "smallint" else "text"
        sent = ["int8"] if self.sends_ingest_id else []
        return ["int4", "timestamptz", "timestamptz", "float8", source, *sent]


VARIANTS = (
    TableVariant("bare", "primary key only (the floor)"),
    TableVariant("include_value", "+ INCLUDE (value) on the primary key", include_value=True),
    TableVariant("cross_section_index", "+ cross-section index", cross_section_index=True),
    TableVariant("foreign_key", "+ foreign key to mp.series", foreign_key=True),
    TableVariant(
        "series_trigger",
        "+ series trigger, run on every row (any writer but mp's ingest)",
        series_trigger=True,
    ),
    TableVariant(
        "series_trigger_skipped",
        "+ series trigger, skipped by its WHEN (the writer declared its check, as mp's ingest)",
        series_trigger=True,
        series_checked=True,
    ),
    *(TableVariant(name, f"+ CHECK {CHECKS[name]}", checks=(name,)) for name in CHECKS),
    TableVariant("all_checks", "+ all five CHECKs", checks=tuple(CHECKS)),
    TableVariant(
        "source_smallint", "knowledge_time_source as smallint (2 bytes)", source_type="smallint"
    ),
    TableVariant(
        "source_enum", "knowledge_time_source as an enum (4 bytes)", source_type="bench.source"
    ),
    TableVariant("ingest_id_default", "+ ingest_id DEFAULT mp.current_ingest_id()", ingest_id=True),
    TableVariant(
        "ingest_id_sent",
        "+ ingest_id, sent by the COPY (as mp's ingest does)",
        ingest_id=True,
        sends_ingest_id=True,
    ),
    TableVariant(
        "today",
        "revision 0005's table: FK, INCLUDE, index, CHECKs, ingest_id (varchar source)",
        include_value=True,
        cross_section_index=True,
        foreign_key=True,
        checks=tuple(CHECKS),
        ingest_id=True,
    ),
    TableVariant(
        "today_sent",
        "revision 0005's table, ingest_id sent (as mp's ingest writes it)",
        include_value=True,
        cross_section_index=True,
        foreign_key=True,
        checks=tuple(CHECKS),
        ingest_id=True,
        sends_ingest_id=True,
    ),
    TableVariant(
        "slim",
        "revision 0006's table: index, CHECKs, ingest_id sent, series trigger skipped",
        cross_section_index=True,
        checks=tuple(CHECKS),
        ingest_id=True,
        sends_ingest_id=True,
        series_trigger=True,
        series_checked=True,
    ),
)


def variant(name: str) -> TableVariant:
    """The variant called ``name``."""
    return next(item for item in VARIANTS if item.name == name)


def create_variant(engine: Engine, item: TableVariant) -> None:
    """(Re)create schema ``bench``'s enum type and the variant's table."""
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        exists = connection.execute(text("SELECT to_regtype('bench.source')")).scalar_one()
        if exists is None:
            labels = ", ".join(f"'{label}'" for label in _SOURCE_CODES)
            connection.execute(text(f"CREATE TYPE {SCHEMA}.source AS ENUM ({labels})"))
        for statement in item.statements():
            connection.execute(text(statement))


def records_for(item: TableVariant, records: Sequence[Version]) -> Sequence[tuple[Any, ...]]:
    """The rows as ``item`` takes them (a smallint source gets the source's code), prepared
    outside the timing."""
    if item.sends_ingest_id:
        # Any existing ingest_log row will do: the column has no foreign key.
        return [(*record, 1) for record in records]
    if item.source_type != "smallint":
        return records
    return [(s, obs, known, value, _SOURCE_CODES[code]) for s, obs, known, value, code in records]


def copy_rows(
    engine: Engine,
    table: str,
    records: Sequence[Any],
    types: Sequence[str] | None = None,
    columns: Sequence[str] = COPY_COLUMNS,
    *,
    series_checked: bool = False,
) -> int:
    """psycopg 3 binary COPY of prepared tuples into ``table`` (declaring the series check
    first, as mp's ingest does, when ``series_checked``)."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with engine.begin() as connection:
        if series_checked:
            connection.execute(text("SET LOCAL mp.series_checked = 'on'"))
        raw = connection.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            copy.set_types(list(types or VARIANTS[0].copy_types()))
            for record in records:
                copy.write_row(record)
    return len(records)
