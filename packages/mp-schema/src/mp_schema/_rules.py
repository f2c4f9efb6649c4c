"""The vocabulary of the fact-table registry: column types, columns and value rules.

A rule is written once, here, as data. The registry renders it as a CHECK constraint
(:meth:`check`), and mp-db compiles the same objects into its ingest validator, so the database
and the validator can never disagree about what a rule means. Rules name the columns they
constrain; nothing downstream branches on a table's or a column's name.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, SmallInteger, String
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION
from sqlalchemy.types import TypeEngine

from mp_schema._enum_checks import enum_check

__all__ = [
    "FLOAT8",
    "INT2",
    "INT4",
    "INT8",
    "TIMESTAMPTZ",
    "AtLeast",
    "AtLeastOne",
    "Column",
    "ColumnRule",
    "Matches",
    "NonNegative",
    "NotBelow",
    "OneOf",
    "RowRule",
    "SqlType",
    "varchar",
]


@dataclass(frozen=True, slots=True)
class SqlType:
    """A column type mp stores, with everything the layers above need to know about it.

    Attributes:
        name: the PostgreSQL type (``float8``, ``timestamptz``, ``varchar``...).
        copy_type: the type binary COPY and staging tables use (``text`` for ``varchar``).
        python: the Python type of a stored value.
        length: the ``varchar`` length; ``None`` for other types.
    """

    name: str
    copy_type: str
    python: type
    length: int | None = None

    def sqlalchemy(self) -> TypeEngine[Any]:
        """The SQLAlchemy type the derived table declares."""
        factories: dict[str, TypeEngine[Any]] = {
            "float8": DOUBLE_PRECISION(),
            "timestamptz": DateTime(timezone=True),
            "int2": SmallInteger(),
            "int4": Integer(),
            "int8": BigInteger(),
        }
        if self.name == "varchar":
            return String(self.length)
        return factories[self.name]


#: A float: mp stores finite numbers only (every ``float8`` column gets a ``_finite`` CHECK).
FLOAT8 = SqlType("float8", "float8", float)
TIMESTAMPTZ = SqlType("timestamptz", "timestamptz", datetime)
INT2 = SqlType("int2", "int2", int)
INT4 = SqlType("int4", "int4", int)
INT8 = SqlType("int8", "int8", int)


def varchar(length: int) -> SqlType:
    """``VARCHAR(length)``; ingest refuses longer strings (``too_long``) and NUL bytes."""
    return SqlType("varchar", "text", str, length)


class ColumnRule:
    """A rule about one column's values; :meth:`check` is its CHECK constraint (or None when
    something else, a foreign key for example, enforces it in the database)."""

    def check(self, column: str) -> CheckConstraint | None:
        """The CHECK constraint for ``column``."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class OneOf(ColumnRule):
    """The value is one of an enum's values (problem ``bad_enum``)."""

    enum: type[StrEnum]

    @property
    def values(self) -> frozenset[str]:
        """The allowed values."""
        return frozenset(member.value for member in self.enum)

    def check(self, column: str) -> CheckConstraint:
        """``ck_<table>_<column>_enum``."""
        return enum_check(column, self.enum)


@dataclass(frozen=True, slots=True)
class Matches(ColumnRule):
    """The whole string matches ``pattern`` (problem ``bad_format``, saying ``expected``)."""

    pattern: str
    name: str
    expected: str
    compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", re.compile(self.pattern))

    def check(self, column: str) -> CheckConstraint:
        """``column ~ '^(pattern)$'``."""
        return CheckConstraint(f"{column} ~ '^({self.pattern})$'", name=self.name)


@dataclass(frozen=True, slots=True)
class AtLeast(ColumnRule):
    """An integer at least ``minimum`` (problem ``bad_type``); ``name`` None: no CHECK."""

    minimum: int
    name: str | None = None

    def check(self, column: str) -> CheckConstraint | None:
        """``column >= minimum``, when named."""
        if self.name is None:
            return None
        return CheckConstraint(f"{column} >= {self.minimum}", name=self.name)


class RowRule:
    """A rule across the columns of one row; :meth:`check` is its CHECK constraint."""

    def check(self) -> CheckConstraint:
        """The CHECK constraint."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class NotBelow(RowRule):
    """``upper >= lower`` where both are present (problem ``high_below_low``)."""

    upper: str
    lower: str
    name: str

    def check(self) -> CheckConstraint:
        """``upper IS NULL OR lower IS NULL OR upper >= lower``."""
        upper, lower = self.upper, self.lower
        return CheckConstraint(
            f"{upper} IS NULL OR {lower} IS NULL OR {upper} >= {lower}", name=self.name
        )


@dataclass(frozen=True, slots=True)
class NonNegative(RowRule):
    """Each of ``columns`` is absent or ``>= 0`` (problem ``negative``)."""

    columns: tuple[str, ...]
    name: str

    def check(self) -> CheckConstraint:
        """One column: ``c IS NULL OR c >= 0``; several: ``coalesce(c, 0) >= 0 AND ...``."""
        if len(self.columns) == 1:
            (column,) = self.columns
            return CheckConstraint(f"{column} IS NULL OR {column} >= 0", name=self.name)
        parts = " AND ".join(f"coalesce({column}, 0) >= 0" for column in self.columns)
        return CheckConstraint(parts, name=self.name)


@dataclass(frozen=True, slots=True)
class AtLeastOne(RowRule):
    """At least one of ``columns`` is present.

    Ingest reports it (``code``, ``message``, for the row as a whole) only when nothing else is
    wrong with the row: a row whose figures failed their own checks is not also "empty".
    """

    columns: tuple[str, ...]
    name: str
    code: str
    message: str

    def check(self) -> CheckConstraint:
        """``num_nonnulls(...) > 0``."""
        return CheckConstraint(f"num_nonnulls({', '.join(self.columns)}) > 0", name=self.name)


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a fact table.

    Attributes:
        name: the column name.
        type: its :class:`SqlType`.
        nullable: whether the value may be absent (a required value missing is refused).
        rules: value rules (:class:`OneOf`, :class:`Matches`, :class:`AtLeast`).
        default: the value a row that omits the column gets (also the server default).
        server_default: a SQL expression the database fills in (columns ingest never sends).
        foreign_key: ``table.column`` this column references.
        accepts_date: a ``datetime.date`` stands for 00:00 UTC of that day, when the table is
            dated (the period column).
        references: a table this column points at without a foreign key (too costly at the
            table's volume); ingest checks the referenced rows exist. 0 means "none".
        default_from_call: a row that omits the column gets the ingest call's default (the
            knowledge-time source: ``default_source``).
    """

    name: str
    type: SqlType
    nullable: bool = False
    rules: tuple[ColumnRule, ...] = ()
    default: int | None = None
    server_default: str | None = None
    foreign_key: str | None = None
    accepts_date: bool = False
    references: str | None = None
    default_from_call: bool = False

    def rule(self, kind: builtins.type[ColumnRule]) -> ColumnRule | None:
        """This column's rule of class ``kind``, if it has one."""
        return next((rule for rule in self.rules if isinstance(rule, kind)), None)
