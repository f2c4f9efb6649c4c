"""SQLAlchemy models of mp's tables; the migrations create exactly what these describe.

Three metadata tables (:class:`DataSource`, :class:`Instrument`, :class:`Series`), seven fact
hypertables (see :data:`FACT_MODELS`) and two bookkeeping tables (:class:`TimescaleFeature`,
:class:`IngestLog`), all in schema ``mp``.
"""

from sqlalchemy import Table

from mp_schema._specs import FactSpec, fact_spec
from mp_schema.enums import SeriesKind as _SeriesKind
from mp_schema.models._base import NAMING_CONVENTION, SCHEMA, Base
from mp_schema.models._bookkeeping import IngestLog, TimescaleFeature
from mp_schema.models._catalog import DataSource, Instrument, Series
from mp_schema.models._facts import (
    FACT_MODELS,
    CurvePoint,
    FactMixin,
    MacroObservation,
    MarketBar,
    PositioningFlow,
    RateFixing,
    ReleaseCalendarEntry,
    SignalValue,
    fact_constraints,
)

metadata = Base.metadata

#: The fact tables, keyed by table name, in creation order.
FACT_TABLES: dict[str, Table] = {
    model.__table__.name: model.__table__  # type: ignore[attr-defined]
    for model in FACT_MODELS
}


def fact_table_for(kind: _SeriesKind | str) -> Table:
    """The fact table holding series of ``kind``.

    Raises:
        KeyError: no fact table holds that kind.
    """
    wanted = _SeriesKind(kind)
    for table in FACT_TABLES.values():
        if fact_spec(table).kind is wanted:
            return table
    raise KeyError(f"no fact table for series kind {kind!r}")


__all__ = [
    "FACT_MODELS",
    "FACT_TABLES",
    "NAMING_CONVENTION",
    "SCHEMA",
    "Base",
    "CurvePoint",
    "DataSource",
    "FactMixin",
    "FactSpec",
    "IngestLog",
    "Instrument",
    "MacroObservation",
    "MarketBar",
    "PositioningFlow",
    "RateFixing",
    "ReleaseCalendarEntry",
    "Series",
    "SignalValue",
    "TimescaleFeature",
    "fact_constraints",
    "fact_spec",
    "fact_table_for",
    "metadata",
]
