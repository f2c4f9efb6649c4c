"""CHECK constraints generated from Python enums, and the migration step that widens them.

Each enum column is ``VARCHAR`` with a CHECK named ``ck_<table>_<column>_enum`` listing the
enum's values. Adding a value to an enum is one migration::

    from mp_schema import replace_enum_check
    from mp_schema.enums import Frequency

    def upgrade() -> None:
        replace_enum_check("series", "frequency", Frequency)

Alembic's autogenerate does not compare CHECK constraints, so mp's tests compare each enum
CHECK in the migrated database with its enum instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import CheckConstraint

__all__ = ["enum_check", "enum_check_name", "enum_check_sql", "replace_enum_check"]

_SAFE_VALUE = re.compile(r"[A-Za-z0-9_]{1,64}")
_SAFE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _literals(values: Iterable[str]) -> str:
    checked = []
    for value in values:
        # Values are inlined into DDL, so only plain identifiers-like strings are allowed.
        if not _SAFE_VALUE.fullmatch(value):
            raise ValueError(f"enum value {value!r} is not a plain word")
        checked.append(f"'{value}'")
    if not checked:
        raise ValueError("an enum CHECK needs at least one value")
    return ", ".join(checked)


def enum_check_name(column: str) -> str:
    """The constraint's short name; the naming convention prefixes ``ck_<table>_``."""
    if not _SAFE_NAME.fullmatch(column):
        raise ValueError(f"column name {column!r} is not a plain identifier")
    return f"{column}_enum"


def enum_check_sql(column: str, values: Iterable[str]) -> str:
    """The CHECK's condition: ``column IN ('a', 'b', ...)`` (NULL passes, as SQL does)."""
    enum_check_name(column)
    return f"{column} IN ({_literals(values)})"


def enum_check(column: str, enum: type[StrEnum]) -> CheckConstraint:
    """A CHECK constraint admitting exactly the values of ``enum`` in ``column``."""
    return CheckConstraint(
        enum_check_sql(column, [member.value for member in enum]), name=enum_check_name(column)
    )


def replace_enum_check(
    table: str, column: str, enum: type[StrEnum] | Iterable[str], *, schema: str = "mp"
) -> None:
    """Migration step: replace the enum CHECK of ``table.column`` with the given values.

    Runs inside an Alembic migration (uses ``alembic.op``). Existing rows are re-validated
    against the new list, so removing a value still in use fails loudly.
    """
    from alembic import op

    values = [member.value for member in enum] if isinstance(enum, type) else list(enum)
    name = f"ck_{table}_{enum_check_name(column)}"
    op.drop_constraint(name, table, schema=schema, type_="check")
    op.create_check_constraint(name, table, enum_check_sql(column, values), schema=schema)
