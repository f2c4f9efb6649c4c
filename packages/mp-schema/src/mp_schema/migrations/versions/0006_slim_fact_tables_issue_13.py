"""Slim fact tables (issue 13)

Written by `mp-schema revision` from the difference between the models and revision
0005: Alembic's autogenerate for tables, columns, indexes, keys and defaults, and
literal SQL for what autogenerate does not see (hypertables, the compression feature function,
CHECKs of existing tables, grants). Frozen: review it, then pin its sha256 in
tests/test_frozen_migrations.py; later model changes go into a new migration.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import context, op

from mp_config import PostgresSettings, validate_identifier

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: run before the operations on upgrade
UPGRADE_BEFORE: list[str] = [
    """DO $mp$
BEGIN
    IF EXISTS (SELECT 1 FROM timescaledb_information.chunks WHERE hypertable_schema = 'mp'
            AND hypertable_name = 'macro_observations' AND is_compressed) THEN
        RAISE EXCEPTION 'mp.macro_observations has compressed chunks: its primary key cannot be rebuilt'
            USING HINT = 'pause compression (mp-schema compression pause macro_observations), decompress '
                'its chunks (decompress_chunk), then run this migration again';
    END IF;
END
$mp$""",
    "ALTER TABLE mp.macro_observations DROP CONSTRAINT pk_macro_observations",
    """DO $mp$
BEGIN
    IF EXISTS (SELECT 1 FROM timescaledb_information.chunks WHERE hypertable_schema = 'mp'
            AND hypertable_name = 'curve_points' AND is_compressed) THEN
        RAISE EXCEPTION 'mp.curve_points has compressed chunks: its primary key cannot be rebuilt'
            USING HINT = 'pause compression (mp-schema compression pause curve_points), decompress '
                'its chunks (decompress_chunk), then run this migration again';
    END IF;
END
$mp$""",
    "ALTER TABLE mp.curve_points DROP CONSTRAINT pk_curve_points",
    """DO $mp$
BEGIN
    IF EXISTS (SELECT 1 FROM timescaledb_information.chunks WHERE hypertable_schema = 'mp'
            AND hypertable_name = 'rate_fixings' AND is_compressed) THEN
        RAISE EXCEPTION 'mp.rate_fixings has compressed chunks: its primary key cannot be rebuilt'
            USING HINT = 'pause compression (mp-schema compression pause rate_fixings), decompress '
                'its chunks (decompress_chunk), then run this migration again';
    END IF;
END
$mp$""",
    "ALTER TABLE mp.rate_fixings DROP CONSTRAINT pk_rate_fixings",
    """DO $mp$
BEGIN
    IF EXISTS (SELECT 1 FROM timescaledb_information.chunks WHERE hypertable_schema = 'mp'
            AND hypertable_name = 'signal_values' AND is_compressed) THEN
        RAISE EXCEPTION 'mp.signal_values has compressed chunks: its primary key cannot be rebuilt'
            USING HINT = 'pause compression (mp-schema compression pause signal_values), decompress '
                'its chunks (decompress_chunk), then run this migration again';
    END IF;
END
$mp$""",
    "ALTER TABLE mp.signal_values DROP CONSTRAINT pk_signal_values",
]

#: run after the operations on upgrade
UPGRADE_AFTER: list[str] = [
    """CREATE FUNCTION mp.check_series_exists() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $mp$
DECLARE
    found_kind text;
BEGIN
    -- TG_ARGV: the series kind the table holds, and the table (the trigger fires on a chunk).
    SELECT kind INTO found_kind FROM mp.series WHERE series_id = NEW.series_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no series has series_id % (a row for mp.%)', NEW.series_id, TG_ARGV[1]
            USING ERRCODE = 'foreign_key_violation',
                HINT = 'create the series in mp.series first';
    END IF;
    IF found_kind IS DISTINCT FROM TG_ARGV[0] THEN
        RAISE EXCEPTION 'series % is a % series; mp.% holds % series',
            NEW.series_id, found_kind, TG_ARGV[1], TG_ARGV[0]
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END
$mp$""",
    """CREATE FUNCTION mp.guard_series_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $mp$
DECLARE
    fact regclass;
    used boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.series_id = OLD.series_id AND NEW.kind = OLD.kind THEN
        RETURN NEW;
    END IF;
    -- The fact hypertables: the tables of schema mp carrying the series trigger (chunks live
    -- in TimescaleDB's own schema). SHARE waits for writers in flight and holds new ones off.
    FOR fact IN
        SELECT t.tgrelid::regclass FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE t.tgname = 'series_exists' AND n.nspname = 'mp' ORDER BY c.relname
    LOOP
        EXECUTE format('LOCK TABLE ONLY %s IN SHARE MODE', fact);
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE series_id = $1)', fact)
            INTO used USING OLD.series_id;
        IF used THEN
            RAISE EXCEPTION 'series % still has rows in %: it cannot be %',
                OLD.series_id, fact, CASE TG_OP WHEN 'DELETE' THEN 'deleted'
                ELSE 'given another series_id or kind' END
                USING ERRCODE = 'foreign_key_violation',
                    HINT = 'series are meant to be kept (set discontinued_at instead)';
        END IF;
    END LOOP;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$mp$""",
    """CREATE FUNCTION mp.hold_series(series_ids integer[])
RETURNS TABLE (series_id integer, kind text)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $mp$
    SELECT s.series_id, s.kind::text FROM mp.series s WHERE s.series_id = ANY(series_ids)
    FOR KEY SHARE
$mp$""",
    "REVOKE ALL ON FUNCTION mp.check_series_exists() FROM PUBLIC",
    "REVOKE ALL ON FUNCTION mp.guard_series_delete() FROM PUBLIC",
    "REVOKE ALL ON FUNCTION mp.hold_series(integer[]) FROM PUBLIC",
    "CREATE TRIGGER series_in_use BEFORE DELETE OR UPDATE OF series_id, kind ON mp.series FOR EACH ROW EXECUTE FUNCTION mp.guard_series_delete()",
    "CREATE TRIGGER series_exists BEFORE INSERT OR UPDATE OF series_id ON mp.macro_observations FOR EACH ROW WHEN (current_setting('mp.series_checked', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION mp.check_series_exists('macro', 'macro_observations')",
    "CREATE TRIGGER series_exists BEFORE INSERT OR UPDATE OF series_id ON mp.market_bars FOR EACH ROW WHEN (current_setting('mp.series_checked', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION mp.check_series_exists('market_bar', 'market_bars')",
    "CREATE TRIGGER series_exists BEFORE INSERT OR UPDATE OF series_id ON mp.curve_points FOR EACH ROW WHEN (current_setting('mp.series_checked', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION mp.check_series_exists('curve', 'curve_points')",
    "CREATE TRIGGER series_exists BEFORE INSERT OR UPDATE OF series_id ON mp.rate_fixings FOR EACH ROW WHEN (current_setting('mp.series_checked', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION mp.check_series_exists('rate_fixing', 'rate_fixings')",
    "CREATE TRIGGER series_exists BEFORE INSERT OR UPDATE OF series_id ON mp.release_calendar FOR EACH ROW WHEN (current_setting('mp.series_checked', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION mp.check_series_exists('release', 'release_calendar')",
    "CREATE TRIGGER series_exists BEFORE INSERT OR UPDATE OF series_id ON mp.positioning_flows FOR EACH ROW WHEN (current_setting('mp.series_checked', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION mp.check_series_exists('positioning', 'positioning_flows')",
    "CREATE TRIGGER series_exists BEFORE INSERT OR UPDATE OF series_id ON mp.signal_values FOR EACH ROW WHEN (current_setting('mp.series_checked', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION mp.check_series_exists('signal', 'signal_values')",
    "ALTER TABLE mp.macro_observations ADD CONSTRAINT pk_macro_observations PRIMARY KEY (series_id, obs_time, knowledge_time)",
    "ALTER TABLE mp.curve_points ADD CONSTRAINT pk_curve_points PRIMARY KEY (series_id, obs_time, tenor, knowledge_time)",
    "ALTER TABLE mp.rate_fixings ADD CONSTRAINT pk_rate_fixings PRIMARY KEY (series_id, obs_time, knowledge_time)",
    "ALTER TABLE mp.signal_values ADD CONSTRAINT pk_signal_values PRIMARY KEY (series_id, obs_time, instrument_id, knowledge_time)",
]

#: granted on upgrade ({ingest}, {research}: roles)
UPGRADE_GRANTS: list[str] = [
    "GRANT EXECUTE ON FUNCTION mp.hold_series(integer[]) TO {ingest}",
]

#: run before the operations on downgrade
DOWNGRADE_BEFORE: list[str] = [
    "DROP TRIGGER series_exists ON mp.macro_observations",
    "DROP TRIGGER series_exists ON mp.market_bars",
    "DROP TRIGGER series_exists ON mp.curve_points",
    "DROP TRIGGER series_exists ON mp.rate_fixings",
    "DROP TRIGGER series_exists ON mp.release_calendar",
    "DROP TRIGGER series_exists ON mp.positioning_flows",
    "DROP TRIGGER series_exists ON mp.signal_values",
    """DO $mp$
BEGIN
    IF EXISTS (SELECT 1 FROM timescaledb_information.chunks WHERE hypertable_schema = 'mp'
            AND hypertable_name = 'macro_observations' AND is_compressed) THEN
        RAISE EXCEPTION 'mp.macro_observations has compressed chunks: its primary key cannot be rebuilt'
            USING HINT = 'pause compression (mp-schema compression pause macro_observations), decompress '
                'its chunks (decompress_chunk), then run this migration again';
    END IF;
END
$mp$""",
    "ALTER TABLE mp.macro_observations DROP CONSTRAINT pk_macro_observations",
    """DO $mp$
BEGIN
    IF EXISTS (SELECT 1 FROM timescaledb_information.chunks WHERE hypertable_schema = 'mp'
            AND hypertable_name = 'curve_points' AND is_compressed) THEN
        RAISE EXCEPTION 'mp.curve_points has compressed chunks: its primary key cannot be rebuilt'
            USING HINT = 'pause compression (mp-schema compression pause curve_points), decompress '
                'its chunks (decompress_chunk), then run this migration again';
    END IF;
END
$mp$""",
    "ALTER TABLE mp.curve_points DROP CONSTRAINT pk_curve_points",
    """DO $mp$
BEGIN
    IF EXISTS (SELECT 1 FROM timescaledb_information.chunks WHERE hypertable_schema = 'mp'
            AND hypertable_name = 'rate_fixings' AND is_compressed) THEN
        RAISE EXCEPTION 'mp.rate_fixings has compressed chunks: its primary key cannot be rebuilt'
            USING HINT = 'pause compression (mp-schema compression pause rate_fixings), decompress '
                'its chunks (decompress_chunk), then run this migration again';
    END IF;
END
$mp$""",
    "ALTER TABLE mp.rate_fixings DROP CONSTRAINT pk_rate_fixings",
    """DO $mp$
BEGIN
    IF EXISTS (SELECT 1 FROM timescaledb_information.chunks WHERE hypertable_schema = 'mp'
            AND hypertable_name = 'signal_values' AND is_compressed) THEN
        RAISE EXCEPTION 'mp.signal_values has compressed chunks: its primary key cannot be rebuilt'
            USING HINT = 'pause compression (mp-schema compression pause signal_values), decompress '
                'its chunks (decompress_chunk), then run this migration again';
    END IF;
END
$mp$""",
    "ALTER TABLE mp.signal_values DROP CONSTRAINT pk_signal_values",
]

#: run after the operations on downgrade
DOWNGRADE_AFTER: list[str] = [
    "DROP TRIGGER series_in_use ON mp.series",
    "DROP FUNCTION mp.hold_series(integer[])",
    "DROP FUNCTION mp.guard_series_delete()",
    "DROP FUNCTION mp.check_series_exists()",
    "ALTER TABLE mp.macro_observations ADD CONSTRAINT pk_macro_observations PRIMARY KEY (series_id, obs_time, knowledge_time) INCLUDE (value)",
    "ALTER TABLE mp.curve_points ADD CONSTRAINT pk_curve_points PRIMARY KEY (series_id, obs_time, tenor, knowledge_time) INCLUDE (value)",
    "ALTER TABLE mp.rate_fixings ADD CONSTRAINT pk_rate_fixings PRIMARY KEY (series_id, obs_time, knowledge_time) INCLUDE (value)",
    "ALTER TABLE mp.signal_values ADD CONSTRAINT pk_signal_values PRIMARY KEY (series_id, obs_time, instrument_id, knowledge_time) INCLUDE (value)",
]


def upgrade() -> None:
    for statement in UPGRADE_BEFORE:
        op.execute(statement)
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_constraint(
        op.f("fk_curve_points_series_id_series"), "curve_points", schema="mp", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_macro_observations_series_id_series"),
        "macro_observations",
        schema="mp",
        type_="foreignkey",
    )
    op.drop_constraint(
        op.f("fk_market_bars_series_id_series"), "market_bars", schema="mp", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_positioning_flows_series_id_series"),
        "positioning_flows",
        schema="mp",
        type_="foreignkey",
    )
    op.drop_constraint(
        op.f("fk_rate_fixings_series_id_series"), "rate_fixings", schema="mp", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_release_calendar_series_id_series"),
        "release_calendar",
        schema="mp",
        type_="foreignkey",
    )
    op.drop_constraint(
        op.f("fk_signal_values_series_id_series"), "signal_values", schema="mp", type_="foreignkey"
    )
    # ### end Alembic commands ###
    for statement in UPGRADE_AFTER:
        op.execute(statement)
    _grant(UPGRADE_GRANTS)


def downgrade() -> None:
    for statement in DOWNGRADE_BEFORE:
        op.execute(statement)
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_foreign_key(
        op.f("fk_signal_values_series_id_series"),
        "signal_values",
        "series",
        ["series_id"],
        ["series_id"],
        source_schema="mp",
        referent_schema="mp",
    )
    op.create_foreign_key(
        op.f("fk_release_calendar_series_id_series"),
        "release_calendar",
        "series",
        ["series_id"],
        ["series_id"],
        source_schema="mp",
        referent_schema="mp",
    )
    op.create_foreign_key(
        op.f("fk_rate_fixings_series_id_series"),
        "rate_fixings",
        "series",
        ["series_id"],
        ["series_id"],
        source_schema="mp",
        referent_schema="mp",
    )
    op.create_foreign_key(
        op.f("fk_positioning_flows_series_id_series"),
        "positioning_flows",
        "series",
        ["series_id"],
        ["series_id"],
        source_schema="mp",
        referent_schema="mp",
    )
    op.create_foreign_key(
        op.f("fk_market_bars_series_id_series"),
        "market_bars",
        "series",
        ["series_id"],
        ["series_id"],
        source_schema="mp",
        referent_schema="mp",
    )
    op.create_foreign_key(
        op.f("fk_macro_observations_series_id_series"),
        "macro_observations",
        "series",
        ["series_id"],
        ["series_id"],
        source_schema="mp",
        referent_schema="mp",
    )
    op.create_foreign_key(
        op.f("fk_curve_points_series_id_series"),
        "curve_points",
        "series",
        ["series_id"],
        ["series_id"],
        source_schema="mp",
        referent_schema="mp",
    )
    # ### end Alembic commands ###
    for statement in DOWNGRADE_AFTER:
        op.execute(statement)


def _grant(templates: list[str]) -> None:
    # Role names are deployment settings, read as migration 0003 reads them.
    settings = context.config.attributes.get("mp_settings") or PostgresSettings.load()
    names = {
        "ingest": validate_identifier(settings.ingest_role),
        "research": validate_identifier(settings.research_role),
    }
    for template in templates:
        op.execute(template.format(**names))
