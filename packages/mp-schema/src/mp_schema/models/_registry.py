"""The fact-table registry: each :class:`~mp_schema.FactSpec` becomes a table and a model.

:func:`register_fact_table` derives the SQLAlchemy ``Table`` (columns, primary key, every
CHECK, indexes) from a spec, adds it to mp's metadata and to :data:`FACT_TABLES`, and, when the
spec names one, maps a model class onto it. The seven tables of ``models/_facts.py`` are
registered on import; a test (or a downstream experiment) may register one more and remove it
again with :func:`unregister_fact_table`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, PrimaryKeyConstraint, Table, text
from sqlalchemy import Column as SqlColumn
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from mp_schema._rules import FLOAT8, Column
from mp_schema._series_guard import table_trigger_sql
from mp_schema._specs import COMMON_COLUMNS, FactSpec, fact_spec
from mp_schema._timescale import create_hypertable_sql
from mp_schema.models._base import Base

__all__ = [
    "FACT_TABLES",
    "FactMixin",
    "fact_constraints",
    "fact_model",
    "fact_table_ddl",
    "fact_table_for",
    "register_fact_table",
    "unregister_fact_table",
]

#: The fact tables, keyed by table name, in registration (creation) order.
FACT_TABLES: dict[str, Table] = {}

_MODELS: dict[str, type[FactMixin]] = {}


class FactMixin:
    """Base of every fact model; the columns come from the table's :class:`FactSpec`."""


def fact_model(name: str) -> type[FactMixin]:
    """The model class derived for the fact table ``name``.

    Raises:
        KeyError: no such table, or it was registered without a model.
    """
    return _MODELS[name]


def _finite(column: str) -> str:
    # NaN sorts above every number in PostgreSQL, so these two bounds exclude NaN and both
    # infinities at once; NULL passes (nullable columns decide that separately).
    return f"{column} > '-Infinity'::float8 AND {column} < 'Infinity'::float8"


def _column_checks(columns: tuple[Column, ...]) -> list[CheckConstraint]:
    checks = (rule.check(column.name) for column in columns for rule in column.rules)
    return [check for check in checks if check is not None]


def fact_constraints(spec: FactSpec) -> list[Any]:
    """The primary key and every CHECK of ``spec``'s table, in DDL order.

    Point-in-time rules first (revision, knowledge-time source, knowledge after observation,
    midnight, finite floats), then the entity and value columns' rules, then the row rules.
    """
    items: list[Any] = [
        PrimaryKeyConstraint(*spec.key_columns, postgresql_include=list(spec.key_include)),
        *_column_checks((COMMON_COLUMNS["revision"], COMMON_COLUMNS["knowledge_time_source"])),
    ]
    if spec.knowledge_after_obs:
        items.append(CheckConstraint("knowledge_time >= obs_time", name="knowledge_after_obs"))
    if spec.dated:
        items.append(
            CheckConstraint(
                "obs_time = date_trunc('day', obs_time, 'UTC')", name="obs_time_midnight_utc"
            )
        )
    for column in spec.values:
        if column.type == FLOAT8:
            items.append(CheckConstraint(_finite(column.name), name=f"{column.name}_finite"))
    items += _column_checks((*spec.entities, *spec.values))
    items += [rule.check() for rule in spec.rules]
    return items


def _sql_column(column: Column) -> SqlColumn[Any]:
    extra: list[Any] = [ForeignKey(column.foreign_key)] if column.foreign_key else []
    default = column.server_default
    if default is None and column.default is not None:
        default = str(column.default)
    return SqlColumn(
        column.name,
        column.type.sqlalchemy(),
        *extra,
        nullable=column.nullable,
        server_default=None if default is None else text(default),
    )


def _index(name: str, columns: tuple[str, ...]) -> Index:
    # A part with a space ("knowledge_time DESC") is an expression, not a column name.
    return Index(name, *(text(part) if " " in part else part for part in columns))


def register_fact_table(spec: FactSpec) -> Table:
    """Derive ``spec``'s table (and model, when ``spec.model`` names one) and register it.

    Afterwards :data:`FACT_TABLES`, :func:`fact_table_for`, mp's metadata and mp-db see the
    table. Creating it in a database is a migration's job (``docs/registry.md``).

    Raises:
        ValueError: a table of that name is already registered.
    """
    if spec.name in FACT_TABLES:
        raise ValueError(f"fact table {spec.name!r} is already registered")
    table = Table(
        spec.name,
        Base.metadata,
        *(_sql_column(column) for column in spec.columns),
        *fact_constraints(spec),
        *(_index(name, columns) for name, columns in spec.indexes),
        info={"fact": spec},
    )
    if spec.model:
        attributes = {"__table__": table, "__doc__": spec.doc, "__module__": "mp_schema.models"}
        _MODELS[spec.name] = type(spec.model, (FactMixin, Base), attributes)
    FACT_TABLES[spec.name] = table
    return table


def unregister_fact_table(name: str) -> None:
    """Remove a table registered without a model (a test's throwaway table) again.

    Raises:
        KeyError: no such fact table.
        ValueError: the table has a model class (mapped classes cannot be unmapped one by one).
    """
    table = FACT_TABLES[name]
    if fact_spec(table).model:
        raise ValueError(f"{name} has a model class and cannot be unregistered")
    del FACT_TABLES[name]
    Base.metadata.remove(table)


def fact_table_for(kind: StrEnum | str) -> Table:
    """The fact table holding series of ``kind``.

    Raises:
        KeyError: no fact table holds that kind.
    """
    wanted = str(getattr(kind, "value", kind))
    for table in FACT_TABLES.values():
        if fact_spec(table).kind.value == wanted:
            return table
    raise KeyError(f"no fact table for series kind {kind!r}")


def fact_table_ddl(name: str) -> list[str]:
    """The DDL that creates the registered fact table ``name`` as its spec describes it:
    ``CREATE TABLE`` (columns, key, every CHECK), its indexes, the hypertable and its
    series trigger (which needs :func:`mp_schema._series_guard.function_statements`).

    A migration pastes this output as literal SQL (migrations are frozen); a test may run it
    on a throwaway database. Grants: :func:`mp_schema._roles.fact_table_grant_statements`.

    Raises:
        KeyError: no such fact table.
    """
    table = FACT_TABLES[name]
    # SQLAlchemy's dialect factory has no type annotations.
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    statements = [str(CreateTable(table).compile(dialect=dialect)).strip()]
    indexes = sorted(table.indexes, key=lambda index: str(index.name))
    statements += [str(CreateIndex(index).compile(dialect=dialect)) for index in indexes]
    statements.append(create_hypertable_sql(name, fact_spec(table)))
    statements.append(table_trigger_sql(fact_spec(table)))
    return statements
