"""SQLAlchemy models of mp's tables; the migrations create exactly what these describe.

Three metadata tables (:class:`DataSource`, :class:`Instrument`, :class:`Series`), seven fact
hypertables (see :data:`FACT_MODELS`) and two bookkeeping tables (:class:`TimescaleFeature`,
:class:`IngestLog`), all in schema ``mp``.

The fact tables are derived from their registry entries (:class:`FactSpec`, built from
:class:`Column`, the column types and the rules exported here); :func:`register_fact_table`
adds one (docs/registry.md).
"""

from mp_schema._rules import (
    FLOAT8,
    INT2,
    INT4,
    INT8,
    TIMESTAMPTZ,
    AtLeast,
    AtLeastOne,
    Column,
    ColumnRule,
    Matches,
    NonNegative,
    NotBelow,
    OneOf,
    RowRule,
    SqlType,
    varchar,
)
from mp_schema._specs import BOOKKEEPING_COLUMNS, COMMON_COLUMNS, FactSpec, fact_spec
from mp_schema.models._base import NAMING_CONVENTION, SCHEMA, Base
from mp_schema.models._bookkeeping import IngestLog, TimescaleFeature
from mp_schema.models._catalog import DataSource, Instrument, Series
from mp_schema.models._facts import (
    FACT_MODELS,
    FACT_SPECS,
    CurvePoint,
    MacroObservation,
    MarketBar,
    PositioningFlow,
    RateFixing,
    ReleaseCalendarEntry,
    SignalValue,
)
from mp_schema.models._registry import (
    FACT_TABLES,
    FactMixin,
    fact_constraints,
    fact_model,
    fact_table_ddl,
    fact_table_for,
    register_fact_table,
    unregister_fact_table,
)

metadata = Base.metadata


__all__ = [
    "BOOKKEEPING_COLUMNS",
    "COMMON_COLUMNS",
    "FACT_MODELS",
    "FACT_SPECS",
    "FACT_TABLES",
    "FLOAT8",
    "INT2",
    "INT4",
    "INT8",
    "NAMING_CONVENTION",
    "SCHEMA",
    "TIMESTAMPTZ",
    "AtLeast",
    "AtLeastOne",
    "Base",
    "Column",
    "ColumnRule",
    "CurvePoint",
    "DataSource",
    "FactMixin",
    "FactSpec",
    "IngestLog",
    "Instrument",
    "MacroObservation",
    "MarketBar",
    "Matches",
    "NonNegative",
    "NotBelow",
    "OneOf",
    "PositioningFlow",
    "RateFixing",
    "ReleaseCalendarEntry",
    "RowRule",
    "Series",
    "SignalValue",
    "SqlType",
    "TimescaleFeature",
    "fact_constraints",
    "fact_model",
    "fact_spec",
    "fact_table_ddl",
    "fact_table_for",
    "metadata",
    "register_fact_table",
    "unregister_fact_table",
    "varchar",
]
