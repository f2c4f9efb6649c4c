"""TimescaleDB DDL that autogenerate never sees, built from each fact table's :class:`FactSpec`.

Migrations call these builders with the specs *as they were* when the migration was written
(the SQL is then frozen in the migration file); tests compare the migrated database with the
current specs, so a spec change without a migration is caught.
"""

from __future__ import annotations

from collections.abc import Mapping

from mp_schema._specs import FactSpec

__all__ = [
    "APPLY_FUNCTION",
    "LICENSE_EXPRESSION",
    "apply_features_function_sql",
    "create_hypertable_sql",
    "drop_features_function_sql",
]

#: The server's TimescaleDB license: ``timescale`` (community) or ``apache``.
LICENSE_EXPRESSION = "coalesce(current_setting('timescaledb.license', true), 'unknown')"

#: The function that applies license-dependent features (compression and its policy).
APPLY_FUNCTION = "mp.apply_timescale_features"


def create_hypertable_sql(table: str, spec: FactSpec, *, schema: str = "mp") -> str:
    """Turn an empty table into a hypertable partitioned on obs_time, without default indexes.

    The default time-only index helps no point-in-time query (they all lead with series_id) and
    autogenerate would keep proposing to drop it.
    """
    return (
        f"SELECT create_hypertable('{schema}.{table}', "
        f"by_range('obs_time', INTERVAL '{spec.chunk_interval}'), "
        "create_default_indexes => false)"
    )


def _table_block(table: str, spec: FactSpec, schema: str) -> str:
    qualified = f"{schema}.{table}"
    return f"""
    IF {LICENSE_EXPRESSION} = 'timescale' THEN
        IF NOT (SELECT compression_enabled FROM timescaledb_information.hypertables
                WHERE hypertable_schema = '{schema}' AND hypertable_name = '{table}') THEN
            ALTER TABLE {qualified} SET (
                timescaledb.compress,
                timescaledb.compress_segmentby = '{spec.compress_segment_by}',
                timescaledb.compress_orderby = '{spec.compress_order_by}'
            );
        END IF;
        PERFORM add_compression_policy('{qualified}', compress_after => INTERVAL
            '{spec.compress_after}', if_not_exists => true);
        outcome := 'applied';
        detail := 'compression segmentby {spec.compress_segment_by}, compress_after '
            || '{spec.compress_after}';
    ELSE
        outcome := 'deferred';
        detail := 'TimescaleDB license is ' || {LICENSE_EXPRESSION}
            || '; compression and its policy need the timescale license. Run `mp-schema '
            || 'apply-timescale-features` once the server has it.';
    END IF;
    INSERT INTO {schema}.timescale_features AS f (table_name, feature, status, reason)
        VALUES ('{table}', 'compression', outcome, detail)
        ON CONFLICT (table_name, feature) DO UPDATE
        SET status = EXCLUDED.status, reason = EXCLUDED.reason, recorded_at = now();
    hypertable := '{table}';
    feature_name := 'compression';
    RETURN NEXT;"""


def apply_features_function_sql(specs: Mapping[str, FactSpec], *, schema: str = "mp") -> str:
    """``CREATE OR REPLACE FUNCTION mp.apply_timescale_features()``.

    One function holds both branches, so the same SQL serves the migration, the later
    ``mp-schema apply-timescale-features`` call and offline rendering (where both branches are
    visible). It is idempotent: settings are applied only where missing and policies use
    ``if_not_exists``. It returns one row per table and feature with the outcome.
    """
    blocks = "".join(_table_block(table, spec, schema) for table, spec in specs.items())
    return f"""CREATE OR REPLACE FUNCTION {APPLY_FUNCTION}()
RETURNS TABLE (hypertable text, feature_name text, outcome text, detail text)
LANGUAGE plpgsql
AS $mp_features$
BEGIN{blocks}
END
$mp_features$"""


def drop_features_function_sql() -> str:
    """Remove the function (downgrade)."""
    return f"DROP FUNCTION IF EXISTS {APPLY_FUNCTION}()"
