"""The declarative base: one ``MetaData`` for schema ``mp`` with stable constraint names."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

__all__ = ["NAMING_CONVENTION", "SCHEMA", "Base"]

#: Every mp table lives in this PostgreSQL schema, so privileges can be granted per schema.
SCHEMA = "mp"

#: Constraint names are predictable: tests and error messages match on them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every mp model."""

    metadata = MetaData(schema=SCHEMA, naming_convention=NAMING_CONVENTION)
