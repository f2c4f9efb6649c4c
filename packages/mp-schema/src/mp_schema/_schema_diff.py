"""What the models add over a migrated database, as operations and literal SQL.

Alembic's autogenerate compares tables, columns, indexes, keys and server defaults. What it never
sees is rendered here from the same comparison, as literal SQL a frozen migration can hold:

* hypertables: a new fact table becomes one (its ``FactSpec.chunk_interval``); a changed chunk
  interval is set again; a dropped fact table is recreated as one on downgrade;
* the compression feature function ``mp.apply_timescale_features()`` (migration 0005's shape):
  rewritten with every fact table's segmentby, orderby and ``compress_after`` when they change,
  then run, which records each new table's compression state in ``mp.timescale_features``;
* CHECK constraints and primary keys (with ``INCLUDE``) of existing tables, which autogenerate
  does not compare (see :mod:`mp_schema._constraint_diff`): an enum value added in Python is a
  CHECK change;
* the series guard (:mod:`mp_schema._series_guard`): its functions where the database has
  none, and the ``series_exists`` trigger on each fact table that lacks it (new tables too);
* grants to the ingest and research roles (migration 0003) on new tables, as templates with
  ``{ingest}`` and ``{research}`` filled in when the migration runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from alembic.autogenerate import produce_migrations
from alembic.operations.ops import CreateTableOp, DowngradeOps, UpgradeOps
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, Table, text
from sqlalchemy.engine import Connection

from mp_schema._autogenerate import include_name, include_object
from mp_schema._constraint_diff import check_differences, primary_key_differences
from mp_schema._series_guard import (
    TRIGGER_NAME,
    drop_function_statements,
    function_statements,
    grant_templates,
    table_trigger_sql,
)
from mp_schema._specs import FactSpec, fact_spec
from mp_schema.exceptions import MigrationError
from mp_schema.models import SCHEMA

__all__ = ["Comparison", "SchemaDiff", "comparison_context", "diff_schema", "features_function_sql"]

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
class Comparison:
    """What one comparison looks at: the connection, the modelled and the existing tables,
    and each existing hypertable's chunk interval."""

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
    comparison = Comparison(
        connection,
        {table.name: table for table in metadata.tables.values() if table.schema == SCHEMA},
        _existing_tables(connection),
        _chunk_intervals(connection),
    )
    _check_fact_kinds(comparison)
    _hypertables(comparison, diff)
    _features(comparison, diff)
    _series_guards(comparison, diff)
    _grants(comparison, diff)
    check_differences(comparison, diff)
    primary_key_differences(comparison, diff)
    return diff


def _existing_tables(connection: Connection) -> list[str]:
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') ORDER BY c.relname"
        ),
        {"schema": SCHEMA},
    )
    return [str(row[0]) for row in rows]


def _chunk_intervals(connection: Connection) -> dict[str, str]:
    rows = connection.execute(
        text(
            "SELECT hypertable_name, time_interval::text FROM timescaledb_information.dimensions"
            " WHERE hypertable_schema = :schema AND column_name = 'obs_time'"
        ),
        {"schema": SCHEMA},
    )
    return {str(row[0]): str(row[1]) for row in rows}


def _spec(table: Table) -> FactSpec | None:
    return fact_spec(table) if "fact" in table.info else None


def _check_fact_kinds(comparison: Comparison) -> None:
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
        f"SELECT create_hypertable('{SCHEMA}.{name}', by_range('obs_time', INTERVAL "
        f"'{interval}'), create_default_indexes => false)"
    )


def _hypertables(comparison: Comparison, diff: SchemaDiff) -> None:
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
                template.format(schema=SCHEMA, name=name, interval=spec.chunk_interval)
            )
            diff.downgrade_after.append(
                template.format(schema=SCHEMA, name=name, interval=intervals[name])
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
        {"schema": SCHEMA},
    ).scalar_one_or_none()
    found = {row[0]: (row[1], row[2], row[3]) for row in _FEATURE_ROW.findall(source or "")}
    if not found or "mp.apply_compression" not in (source or ""):
        raise MigrationError(
            "mp.apply_timescale_features() is missing or not in migration 0005's shape: "
            "upgrade the database to head before `mp-schema revision`"
        )
    return found


def _features(comparison: Comparison, diff: SchemaDiff) -> None:
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


def _series_guards(comparison: Comparison, diff: SchemaDiff) -> None:
    connection = comparison.connection
    present = connection.execute(
        text("SELECT to_regprocedure('mp.check_series_exists()') IS NOT NULL")
    ).scalar_one()
    guarded = {
        str(row[0]): str(row[1])
        for row in connection.execute(
            text(
                "SELECT c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t"
                " JOIN pg_class c ON c.oid = t.tgrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = :schema AND t.tgname = :trigger"
            ),
            {"schema": SCHEMA, "trigger": TRIGGER_NAME},
        )
    }
    if not present:
        diff.upgrade_after += function_statements()
        diff.upgrade_grants += grant_templates()
    for name, table in comparison.modelled.items():
        spec = _spec(table)
        if spec is None or name in guarded:
            continue
        diff.upgrade_after.append(table_trigger_sql(spec))
        if name in comparison.existing:
            diff.downgrade_before.append(f"DROP TRIGGER {TRIGGER_NAME} ON {SCHEMA}.{name}")
    # A dropped fact table comes back on downgrade with the trigger it has now.
    diff.downgrade_after += [guarded[name] for name in comparison.removed if name in guarded]
    if not present:
        diff.downgrade_after += drop_function_statements()


def _grants(comparison: Comparison, diff: SchemaDiff) -> None:
    for name in comparison.new:
        fact = _spec(comparison.modelled[name]) is not None
        diff.upgrade_grants += _grant_templates(name, fact=fact)
    for name in comparison.removed:
        diff.downgrade_grants += _grant_templates(name, fact=name in comparison.intervals)


def _grant_templates(name: str, *, fact: bool) -> list[str]:
    # As migration 0003: research reads everything; ingest appends facts and nothing else.
    grants = [f"GRANT SELECT ON {SCHEMA}.{name} TO {{research}}"]
    if fact:
        grants.append(f"GRANT SELECT, INSERT ON {SCHEMA}.{name} TO {{ingest}}")
    return grants
