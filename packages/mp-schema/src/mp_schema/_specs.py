"""The registry entry of one fact table: :class:`FactSpec`, the single source of its shape.

A spec lists the table's entity and value columns (with their types and value rules), its row
rules, its point-in-time settings (knowledge after observation, midnight rule), its hypertable
settings (chunk interval, compression) and its grants. Everything else is derived from it: the
SQLAlchemy table and model (:mod:`mp_schema._registry`), the migrations' hypertable and grant
SQL, and mp-db's row classes, staging types and compiled validator. ``Table.info["fact"]``
holds the spec of each derived table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Table

from mp_schema._rules import (
    INT2,
    INT4,
    INT8,
    TIMESTAMPTZ,
    AtLeast,
    Column,
    OneOf,
    RowRule,
    varchar,
)
from mp_schema.enums import KnowledgeTimeSource

__all__ = ["BOOKKEEPING_COLUMNS", "COMMON_COLUMNS", "FactSpec", "fact_spec"]

#: No foreign key (it made COPY 2-3x slower and served no read): ingest checks the series, and a
#: trigger checks them for every other writer (:mod:`mp_schema._series_guard`).
SERIES_ID = Column("series_id", INT4, rules=(AtLeast(1),), references="series")
OBS_TIME = Column("obs_time", TIMESTAMPTZ, accepts_date=True)
KNOWLEDGE_TIME = Column("knowledge_time", TIMESTAMPTZ)
#: 0 for the first print, then 1, 2... in knowledge_time order.
REVISION = Column(
    "revision", INT2, rules=(AtLeast(0, name="revision_non_negative"),), server_default="0"
)
KNOWLEDGE_TIME_SOURCE = Column(
    "knowledge_time_source",
    varchar(16),
    rules=(OneOf(KnowledgeTimeSource),),
    default_from_call=True,
)
INGESTED_AT = Column("ingested_at", TIMESTAMPTZ, server_default="now()")
#: The ingest (``mp.ingest_log``) that stored the row; 0 for rows older than the log.
INGEST_ID = Column("ingest_id", INT8, server_default="mp.current_ingest_id()")

#: After the values, in this order: the bookkeeping columns every fact table has.
_BOOKKEEPING = (REVISION, KNOWLEDGE_TIME_SOURCE, INGESTED_AT, INGEST_ID)

#: The names of the bookkeeping columns: how and when a version was stored, not what it says
#: (a frame read leaves them out when asked to, ``FrameReader(..., bookkeeping=False)``).
BOOKKEEPING_COLUMNS: tuple[str, ...] = tuple(column.name for column in _BOOKKEEPING)

#: The columns every fact table has, by name.
COMMON_COLUMNS: dict[str, Column] = {
    column.name: column for column in (SERIES_ID, OBS_TIME, KNOWLEDGE_TIME, *_BOOKKEEPING)
}


@dataclass(frozen=True, slots=True)
class FactSpec:
    """The declaration of one fact hypertable (its registry entry).

    Attributes:
        name: the table's name in schema ``mp``.
        kind: the series kind whose observations live here.
        values: columns compared to decide whether a new vintage really changed anything
            (an unchanged re-publication inserts nothing), with their types and rules.
        entities: key parts between ``obs_time`` and ``knowledge_time`` (tenor, category,
            instrument); empty for most tables.
        rules: rules across columns (:class:`~mp_schema._rules.NotBelow`, ...), CHECKs in
            this order after the column rules'.
        key_include: non-key columns carried in the primary key index (``INCLUDE``), for a
            table whose reads select only the key and these (index-only scans); the built-in
            tables carry none, since mp's reads select the bookkeeping columns too.
        indexes: extra indexes, ``(name, columns)``; a column may carry ``DESC``.
        knowledge_after_obs: enforce ``knowledge_time >= obs_time`` (not for the release
            calendar, where consensus is known before the period).
        dated: ``obs_time`` must be 00:00 UTC (daily-or-slower data).
        chunk_interval: TimescaleDB chunk interval, a PostgreSQL interval literal.
        compress_after: age after which chunks are compressed (TSL builds only, once the
            operator enables compression for the table; see ``mp-schema compression``). Chosen
            per table from how long its data keeps being revised: writing into compressed
            chunks is several times slower and has had bugs.
        ingest_privileges: what the ingest role may do on the table (append-only: never
            UPDATE or DELETE). The research role reads every table of the schema.
        model: the name of the derived SQLAlchemy model class.
        doc: what the table holds (the model's docstring).
    """

    name: str
    kind: StrEnum
    values: tuple[Column, ...]
    entities: tuple[Column, ...] = ()
    rules: tuple[RowRule, ...] = ()
    key_include: tuple[str, ...] = ()
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    knowledge_after_obs: bool = True
    dated: bool = True
    chunk_interval: str = "1 year"
    compress_after: str = "730 days"
    ingest_privileges: tuple[str, ...] = ("SELECT", "INSERT")
    model: str = ""
    doc: str = ""

    @property
    def entity_columns(self) -> tuple[str, ...]:
        """Names of the entity columns."""
        return tuple(column.name for column in self.entities)

    @property
    def value_columns(self) -> tuple[str, ...]:
        """Names of the value columns."""
        return tuple(column.name for column in self.values)

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The primary key: series, period, entity parts, knowledge time."""
        return ("series_id", "obs_time", *self.entity_columns, "knowledge_time")

    @property
    def observation_columns(self) -> tuple[str, ...]:
        """What identifies one observation across its vintages (the key minus knowledge_time)."""
        return ("series_id", "obs_time", *self.entity_columns)

    @property
    def columns(self) -> tuple[Column, ...]:
        """Every column, in table order: key, values, then bookkeeping."""
        return (SERIES_ID, OBS_TIME, *self.entities, KNOWLEDGE_TIME, *self.values, *_BOOKKEEPING)

    @property
    def staged_columns(self) -> tuple[str, ...]:
        """Columns a batch supplies: key, values and the knowledge-time quality."""
        return (*self.key_columns, *self.value_columns, "knowledge_time_source")

    @property
    def ignored_on_input(self) -> tuple[str, ...]:
        """Columns a batch may carry but mp computes (rows read back can be re-ingested)."""
        return ("revision", "ingested_at")

    def column(self, name: str) -> Column:
        """The column called ``name``.

        Raises:
            KeyError: the table has no such column.
        """
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def compress_segment_by(self) -> str:
        """Compression ``segmentby``: uniform across tables."""
        return "series_id"

    @property
    def compress_order_by(self) -> str:
        """Compression ``orderby``: the as-of read order."""
        entities = "".join(f"{column}, " for column in self.entity_columns)
        return f"obs_time DESC, {entities}knowledge_time DESC"


def fact_spec(table: Table) -> FactSpec:
    """The :class:`FactSpec` of a fact table.

    Raises:
        KeyError: ``table`` is not a fact table.
    """
    spec = table.info["fact"]
    assert isinstance(spec, FactSpec)
    return spec
