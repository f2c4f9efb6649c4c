"""The constraints autogenerate does not compare: CHECKs and primary keys of existing tables.

CHECKs are compared in the server's printed form (``pg_get_constraintdef``) of the models' text,
reached through an empty temporary copy of the table that is rolled back. Primary keys are
compared with their ``INCLUDE`` columns, and a dropped table's downgrade gets its key's
``INCLUDE`` back from the database (reflection loses it). Every difference becomes literal
``DROP CONSTRAINT`` / ``ADD CONSTRAINT`` SQL in :class:`~mp_schema._schema_diff.SchemaDiff`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from alembic.operations.ops import CreateTableOp
from sqlalchemy import CheckConstraint, PrimaryKeyConstraint, Table, text
from sqlalchemy.engine import Connection

from mp_schema.models import SCHEMA

if TYPE_CHECKING:
    from mp_schema._schema_diff import Comparison, SchemaDiff

__all__ = ["check_differences", "primary_key_differences"]


def check_differences(comparison: Comparison, diff: SchemaDiff) -> None:
    """Add the CHECK changes of the tables both sides have to ``diff``."""
    connection = comparison.connection
    current = _current_constraints(connection, "c")
    for name in comparison.kept:
        table = comparison.modelled[name]
        written = _model_checks(connection, table)
        have = current.get(name, {})
        # The server's printed form of a CHECK, parsed again, prints differently once more and
        # then stays: both sides are compared in that settled form.
        wanted = _normalized(connection, table, _normalized(connection, table, written))
        settled = _normalized(connection, table, have)
        for constraint in sorted(set(wanted) | set(settled)):
            if wanted.get(constraint) == settled.get(constraint):
                continue
            drop = f"ALTER TABLE {SCHEMA}.{name} DROP CONSTRAINT {constraint}"
            if constraint in have:
                diff.upgrade_before.append(drop)
                diff.downgrade_after.append(
                    f"ALTER TABLE {SCHEMA}.{name} ADD CONSTRAINT {constraint} {have[constraint]}"
                )
            if constraint in written:
                # Existing rows are validated: a CHECK that rows break fails the upgrade.
                diff.upgrade_after.append(
                    f"ALTER TABLE {SCHEMA}.{name} ADD CONSTRAINT {constraint} {written[constraint]}"
                )
                diff.downgrade_before.append(drop)


def _current_constraints(connection: Connection, kind: str) -> dict[str, dict[str, str]]:
    """Table name to constraint name to definition, for constraints of ``kind`` (contype)."""
    rows = connection.execute(
        text(
            "SELECT c.relname, con.conname, pg_get_constraintdef(con.oid) FROM pg_constraint con"
            " JOIN pg_class c ON c.oid = con.conrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = :schema AND con.contype = :kind"
        ),
        {"schema": SCHEMA, "kind": kind},
    )
    found: dict[str, dict[str, str]] = {}
    for table, name, definition in rows:
        found.setdefault(str(table), {})[str(name)] = str(definition)
    return found


def _model_checks(connection: Connection, table: Table) -> dict[str, str]:
    """The table's CHECKs as the models write them: name to ``CHECK (condition)``."""
    dialect = connection.dialect
    found = {}
    for constraint in table.constraints:
        if isinstance(constraint, CheckConstraint):
            name = dialect.identifier_preparer.format_constraint(constraint)
            assert isinstance(name, str)
            condition = constraint.sqltext.compile(
                dialect=dialect, compile_kwargs={"literal_binds": True}
            )
            found[name] = f"CHECK ({condition})"
    return found


def _normalized(connection: Connection, table: Table, checks: dict[str, str]) -> dict[str, str]:
    """``checks`` as the server prints them (``pg_get_constraintdef``).

    Each is added to an empty temporary copy of the table (with the columns the models add to
    it) inside a savepoint that is rolled back, so nothing in the database changes.
    """
    if not checks:
        return {}
    savepoint = connection.begin_nested()
    try:
        connection.execute(
            text(f"CREATE TEMPORARY TABLE mp_revision_probe (LIKE {SCHEMA}.{table.name})")
        )
        present = set(
            connection.execute(
                text(
                    "SELECT attname FROM pg_attribute WHERE attnum > 0"
                    " AND attrelid = 'mp_revision_probe'::regclass"
                )
            ).scalars()
        )
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=connection.dialect)
                connection.execute(
                    text(f"ALTER TABLE mp_revision_probe ADD COLUMN {column.name} {kind}")
                )
        for name, definition in checks.items():
            connection.execute(
                text(f"ALTER TABLE mp_revision_probe ADD CONSTRAINT {name} {definition}")
            )
        rows = connection.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = 'mp_revision_probe'::regclass AND contype = 'c'"
            )
        )
        return {str(row[0]): str(row[1]) for row in rows}
    finally:
        savepoint.rollback()


_PRIMARY_KEY = re.compile(r"PRIMARY KEY \((?P<columns>[^)]*)\)(?: INCLUDE \((?P<include>[^)]*)\))?")


def _model_primary_key(table: Table) -> str:
    key = table.primary_key
    columns = ", ".join(column.name for column in key.columns)
    listed = key.dialect_options["postgresql"]["include"] or []
    include = [getattr(item, "name", item) for item in listed]
    return f"PRIMARY KEY ({columns})" + (f" INCLUDE ({', '.join(include)})" if include else "")


def _no_compressed_chunks(name: str) -> str:
    # TimescaleDB refuses to rebuild a key over compressed chunks (TSL builds only; the Apache
    # build never compresses): say what to do instead of failing half-way.
    return f"""DO $mp$
BEGIN
    IF EXISTS (SELECT 1 FROM timescaledb_information.chunks WHERE hypertable_schema = '{SCHEMA}'
            AND hypertable_name = '{name}' AND is_compressed) THEN
        RAISE EXCEPTION '{SCHEMA}.{name} has compressed chunks: its primary key cannot be rebuilt'
            USING HINT = 'pause compression (mp-schema compression pause {name}), decompress '
                'its chunks (decompress_chunk), then run this migration again';
    END IF;
END
$mp$"""  # noqa: S608 - the name is a modelled table's, not input


def primary_key_differences(comparison: Comparison, diff: SchemaDiff) -> None:
    """Add primary key changes (columns, INCLUDE) to ``diff``; restore INCLUDE on the keys of
    tables a downgrade recreates."""
    current = {
        table: next(iter(keys.items()))
        for table, keys in _current_constraints(comparison.connection, "p").items()
    }
    preparer = comparison.connection.dialect.identifier_preparer
    for name in comparison.kept:
        table = comparison.modelled[name]
        wanted = _model_primary_key(table) if table.primary_key.columns else None
        old_name, have = current.get(name, (None, None))
        if wanted == have:
            continue
        new_name = preparer.format_constraint(table.primary_key) if wanted else None
        qualified = f"{SCHEMA}.{name}"
        if name in comparison.intervals:
            diff.upgrade_before.append(_no_compressed_chunks(name))
            diff.downgrade_before.append(_no_compressed_chunks(name))
        if have is not None:
            diff.upgrade_before.append(f"ALTER TABLE {qualified} DROP CONSTRAINT {old_name}")
            diff.downgrade_after.append(f"ALTER TABLE {qualified} ADD CONSTRAINT {old_name} {have}")
        if wanted is not None:
            # Rebuilds the key's index over every row (and chunk): slow on a large table.
            diff.upgrade_after.append(f"ALTER TABLE {qualified} ADD CONSTRAINT {new_name} {wanted}")
            diff.downgrade_before.append(f"ALTER TABLE {qualified} DROP CONSTRAINT {new_name}")
    for operation in diff.downgrade_ops.ops:
        if isinstance(operation, CreateTableOp) and operation.table_name in current:
            found = _PRIMARY_KEY.fullmatch(current[operation.table_name][1])
            include = found.group("include") if found else None
            for item in operation.columns:
                if include and isinstance(item, PrimaryKeyConstraint):
                    item.dialect_kwargs["postgresql_include"] = include.split(", ")
