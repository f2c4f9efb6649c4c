"""What the models add over a migrated database, as operations and literal SQL.

Alembic's autogenerate compares tables, columns, indexes, keys and server defaults. What it never
sees is rendered here from the same comparison, as literal SQL a frozen migration can hold:

* hypertables: a new fact table becomes one (its ``FactSpec.chunk_interval``); a changed chunk
  interval is set again; a dropped fact table is recreated as one on downgrade;
* the compression feature function ``mp.apply_timescale_features()`` (migration 0005's shape):
  rewritten with every fact table's segmentby, orderby and ``compress_after`` when they change,
  then run, which records each new table's compression state in ``mp.timescale_features``;
* CHECK constraints of existing tables (autogenerate only sees them on new tables), compared as
  the server normalizes them, so an enum value added in Python is a CHECK change here;
* primary keys of existing tables, with their ``INCLUDE`` columns (reflection drops those, so a
  dropped table's downgrade gets them back from the database here);
* grants to the ingest and research roles (migration 0003) on new tables, as templates with
  ``{ingest}`` and ``{research}`` filled in when the migration runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from alembic.autogenerate import produce_migrations
from alembic.operations.ops import CreateTableOp, DowngradeOps, UpgradeOps
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, MetaData, PrimaryKeyConstraint, Table, text
from sqlalchemy.engine import Connection

from mp_schema._autogenerate import include_name, include_object
from mp_schema._specs import FactSpec, fact_spec
from mp_schema.exceptions import MigrationError

__all__ = ["SchemaDiff", "diff_schema", "features_function_sql"]

_SCHEMA = "mp"

#: One (table, segmentby, orderby, compress_after) row of the feature function's VALUES list.
_FEATURE_ROW = re.compile(
    r"\(\s*'([a-z_][a-z0-9_]*)',\s*'([^']*)',\s*'([^']*)',\s*'([^']*)'\s*\)", re.MULTILINE
)

Compression = tuple[str, str, str]


@dataclass
class SchemaDiff:
    """The difference between models and database, split by when each part must run.

    ``*_before`` statements run before autogenerate's operations (they take away what those
    operations remove), ``*_after`` ones after them (they finish what those operations add).
    Grants are templates with ``{ingest}`` and ``{research}`` placeholders.
    """

    upgrade_ops: UpgradeOps
    downgrade_ops: DowngradeOps
    upgrade_before: list[str] = field(default_factory=list)
    upgrade_after: list[str] = field(default_factory=list)
    upgrade_grants: list[str] = field(default_factory=list)
    downgrade_before: list[str] = field(default_factory=list)
    downgrade_after: list[str] = field(default_factory=list)
    downgrade_grants: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Nothing differs: no migration is needed."""
        return self.upgrade_ops.is_empty() and not (
            self.upgrade_before or self.upgrade_after or self.upgrade_grants
        )


def comparison_context(connection: Connection, metadata: MetaData) -> MigrationContext:
    """A migration context comparing as ``mp-schema check`` does (types, defaults, schemas)."""
    return MigrationContext.configure(
        connection,
        opts={
            "target_metadata": metadata,
            "compare_type": True,
            "compare_server_default": True,
            "include_schemas": True,
            "include_name": include_name,
            "include_object": include_object,
        },
    )


@dataclass(frozen=True)
class _Comparison:
    connection: Connection
    modelled: dict[str, Table]
    existing: list[str]
    intervals: dict[str, str]

    @property
    def new(self) -> list[str]:
        return [name for name in self.modelled if name not in self.existing]

    @property
    def removed(self) -> list[str]:
        return [name for name in self.existing if name not in self.modelled]

    @property
    def kept(self) -> list[str]:
        return [name for name in self.modelled if name in self.existing]


def diff_schema(connection: Connection, metadata: MetaData) -> SchemaDiff:
    """Compare ``metadata`` with the database on ``connection`` (which nothing here changes).

    Raises:
        MigrationError: the database has no feature function of migration 0005's shape, or an
            existing plain table became a fact table (or the reverse), which this command does
            not convert.
    """
    script = produce_migrations(comparison_context(connection, metadata), metadata)
    assert script.upgrade_ops is not None
    assert script.downgrade_ops is not None
    for operation in [*script.upgrade_ops.ops, *script.downgrade_ops.ops]:
        if isinstance(operation, CreateTableOp):
            # Table.info holds live objects (the FactSpec); a frozen migration holds none.
            operation.info = {}
    diff = SchemaDiff(script.upgrade_ops, script.downgrade_ops)
    comparison = _Comparison(
        connection,
        {table.name: table for table in metadata.tables.values() if table.schema == _SCHEMA},
        _existing_tables(connection),
        _chunk_intervals(connection),
    )
    _check_fact_kinds(comparison)
    _hypertables(comparison, diff)
    _features(comparison, diff)
    _grants(comparison, diff)
    _checks(comparison, diff)
    _primary_keys(comparison, diff)
    return diff


def _existing_tables(connection: Connection) -> list[str]:
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') ORDER BY c.relname"
        ),
        {"schema": _SCHEMA},
    )
    return [str(row[0]) for row in rows]


def _chunk_intervals(connection: Connection) -> dict[str, str]:
    rows = connection.execute(
        text(
            "SELECT hypertable_name, time_interval::text FROM timescaledb_information.dimensions"
            " WHERE hypertable_schema = :schema AND column_name = 'obs_time'"
        ),
        {"schema": _SCHEMA},
    )
    return {str(row[0]): str(row[1]) for row in rows}


def _spec(table: Table) -> FactSpec | None:
    return fact_spec(table) if "fact" in table.info else None


def _check_fact_kinds(comparison: _Comparison) -> None:
    for name in comparison.kept:
        is_fact = _spec(comparison.modelled[name]) is not None
        if is_fact != (name in comparison.intervals):
            now, was = ("a fact table", "plain") if is_fact else ("plain", "a hypertable")
            raise MigrationError(
                f"mp.{name} is {now} in the models but {was} in the database; "
                "`mp-schema revision` does not convert tables: write that migration by hand"
            )


def _hypertable_sql(name: str, interval: str) -> str:
    return (
        f"SELECT create_hypertable('{_SCHEMA}.{name}', by_range('obs_time', INTERVAL "
        f"'{interval}'), create_default_indexes => false)"
    )


def _hypertables(comparison: _Comparison, diff: SchemaDiff) -> None:
    modelled, intervals = comparison.modelled, comparison.intervals
    for name in comparison.new:
        spec = _spec(modelled[name])
        if spec is not None:
            diff.upgrade_after.append(_hypertable_sql(name, spec.chunk_interval))
    for name in comparison.removed:
        if name in intervals:
            diff.downgrade_after.append(_hypertable_sql(name, intervals[name]))
    for name, table in modelled.items():
        spec = _spec(table)
        if spec is None or name not in intervals:
            continue
        same = comparison.connection.execute(
            text("SELECT CAST(:wanted AS interval) = CAST(:current AS interval)"),
            {"wanted": spec.chunk_interval, "current": intervals[name]},
        ).scalar_one()
        if not same:
            # Applies to chunks created from now on; existing chunks keep their range.
            template = "SELECT set_chunk_time_interval('{schema}.{name}', INTERVAL '{interval}')"
            diff.upgrade_after.append(
                template.format(schema=_SCHEMA, name=name, interval=spec.chunk_interval)
            )
            diff.downgrade_after.append(
                template.format(schema=_SCHEMA, name=name, interval=intervals[name])
            )


def features_function_sql(compression: dict[str, Compression]) -> str:
    """``mp.apply_timescale_features()`` over these tables, in migration 0005's shape.

    Args:
        compression: table name to (segmentby, orderby, compress_after).
    """
    rows = ",\n".join(
        f"    ('{name}', '{segment_by}', '{order_by}', '{after}')"
        for name, (segment_by, order_by, after) in sorted(compression.items())
    )
    return f"""
CREATE OR REPLACE FUNCTION mp.apply_timescale_features()
RETURNS TABLE (hypertable text, feature_name text, outcome text, detail text)
LANGUAGE sql
AS $mp_features$
    SELECT a.* FROM (VALUES
{rows}
    ) AS t(name, segmentby, orderby, compress_after)
    CROSS JOIN LATERAL mp.apply_compression(t.name, t.segmentby, t.orderby,
        t.compress_after::interval) AS a
    ORDER BY 1
$mp_features$
"""  # noqa: S608 - names and settings come from the models' specs, not from input


def _current_compression(connection: Connection) -> dict[str, Compression]:
    source = connection.execute(
        text(
            "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = :schema AND p.proname = 'apply_timescale_features'"
            " AND p.pronargs = 0"
        ),
        {"schema": _SCHEMA},
    ).scalar_one_or_none()
    found = {row[0]: (row[1], row[2], row[3]) for row in _FEATURE_ROW.findall(source or "")}
    if not found or "mp.apply_compression" not in (source or ""):
        raise MigrationError(
            "mp.apply_timescale_features() is missing or not in migration 0005's shape: "
            "upgrade the database to head before `mp-schema revision`"
        )
    return found


def _features(comparison: _Comparison, diff: SchemaDiff) -> None:
    current = _current_compression(comparison.connection)
    wanted: dict[str, Compression] = {}
    for name, table in comparison.modelled.items():
        spec = _spec(table)
        if spec is not None:
            wanted[name] = (spec.compress_segment_by, spec.compress_order_by, spec.compress_after)
    if wanted == current:
        return
    run = "SELECT * FROM mp.apply_timescale_features()"
    forget = "DELETE FROM mp.timescale_features WHERE table_name = '{name}'"
    diff.upgrade_before += [
        forget.format(name=name) for name in comparison.removed if name in current
    ]
    diff.upgrade_after += [features_function_sql(wanted), run]
    diff.downgrade_before += [forget.format(name=name) for name in comparison.new if name in wanted]
    diff.downgrade_after += [features_function_sql(current), run]


def _grants(comparison: _Comparison, diff: SchemaDiff) -> None:
    for name in comparison.new:
        fact = _spec(comparison.modelled[name]) is not None
        diff.upgrade_grants += _grant_templates(name, fact=fact)
    for name in comparison.removed:
        diff.downgrade_grants += _grant_templates(name, fact=name in comparison.intervals)


def _grant_templates(name: str, *, fact: bool) -> list[str]:
    # As migration 0003: research reads everything; ingest appends facts and nothing else.
    grants = [f"GRANT SELECT ON {_SCHEMA}.{name} TO {{research}}"]
    if fact:
        grants.append(f"GRANT SELECT, INSERT ON {_SCHEMA}.{name} TO {{ingest}}")
    return grants


def _checks(comparison: _Comparison, diff: SchemaDiff) -> None:
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
            drop = f"ALTER TABLE {_SCHEMA}.{name} DROP CONSTRAINT {constraint}"
            if constraint in have:
                diff.upgrade_before.append(drop)
                diff.downgrade_after.append(
                    f"ALTER TABLE {_SCHEMA}.{name} ADD CONSTRAINT {constraint} {have[constraint]}"
                )
            if constraint in written:
                # Existing rows are validated: a CHECK that rows break fails the upgrade.
                diff.upgrade_after.append(
                    f"ALTER TABLE {_SCHEMA}.{name} ADD CONSTRAINT {constraint} "
                    f"{written[constraint]}"
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
        {"schema": _SCHEMA, "kind": kind},
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
            text(f"CREATE TEMPORARY TABLE mp_revision_probe (LIKE {_SCHEMA}.{table.name})")
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


def _primary_keys(comparison: _Comparison, diff: SchemaDiff) -> None:
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
        qualified = f"{_SCHEMA}.{name}"
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
