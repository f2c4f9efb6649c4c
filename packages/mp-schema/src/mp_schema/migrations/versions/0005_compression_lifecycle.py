"""Compression waits for the operator: policies exist but run only once a table is enabled.

Until now a TSL server compressed chunks as soon as the migration created the policies, in the
middle of a backfill. From here each table's compression is a state in ``mp.timescale_features``:

* ``deferred``: the server's license has no compression (Apache-2 build);
* ``backfilling``: settings and policy created, the policy job unscheduled;
* ``enabled``: the operator said the backfill is done (``mp-schema compression enable``);
* ``paused``: enabled once, unscheduled again by the operator (``mp-schema compression pause``).

``mp.apply_timescale_features()`` is replaced by a version that creates policies unscheduled
(and, on databases that ran the previous one, unschedules them and sets each table's own
``compress_after``); ``mp.set_compression_state(table, enabled)`` does enable and pause. Both
are written out here (frozen): nothing is imported from mp_schema.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: (table, segmentby, orderby, compress_after) as of this revision.
_TABLES = """
    ('macro_observations', 'series_id', 'obs_time DESC, knowledge_time DESC', '1825 days'),
    ('market_bars', 'series_id', 'obs_time DESC, knowledge_time DESC', '180 days'),
    ('curve_points', 'series_id', 'obs_time DESC, tenor, knowledge_time DESC', '180 days'),
    ('rate_fixings', 'series_id', 'obs_time DESC, knowledge_time DESC', '180 days'),
    ('release_calendar', 'series_id', 'obs_time DESC, knowledge_time DESC', '730 days'),
    ('positioning_flows', 'series_id', 'obs_time DESC, category, knowledge_time DESC',
     '365 days'),
    ('signal_values', 'series_id', 'obs_time DESC, instrument_id, knowledge_time DESC',
     '90 days')
"""

#: What revision 0002 set, restored on downgrade.
_TABLES_0002 = """
    ('macro_observations', 'series_id', 'obs_time DESC, knowledge_time DESC', '730 days'),
    ('market_bars', 'series_id', 'obs_time DESC, knowledge_time DESC', '730 days'),
    ('curve_points', 'series_id', 'obs_time DESC, tenor, knowledge_time DESC', '730 days'),
    ('rate_fixings', 'series_id', 'obs_time DESC, knowledge_time DESC', '730 days'),
    ('release_calendar', 'series_id', 'obs_time DESC, knowledge_time DESC', '730 days'),
    ('positioning_flows', 'series_id', 'obs_time DESC, category, knowledge_time DESC',
     '730 days'),
    ('signal_values', 'series_id', 'obs_time DESC, instrument_id, knowledge_time DESC',
     '90 days')
"""

_STATES = "'deferred', 'backfilling', 'enabled', 'paused'"

_APPLY_ONE = r"""
CREATE OR REPLACE FUNCTION mp.apply_compression(
    p_table text, p_segmentby text, p_orderby text, p_compress_after interval)
RETURNS TABLE (hypertable text, feature_name text, outcome text, detail text)
LANGUAGE plpgsql
AS $mp_apply$
DECLARE
    v_license text := coalesce(current_setting('timescaledb.license', true), 'unknown');
    v_previous text;
    v_job integer;
    v_config jsonb;
BEGIN
    SELECT f.status INTO v_previous FROM mp.timescale_features f
        WHERE f.table_name = p_table AND f.feature = 'compression';
    IF v_license <> 'timescale' THEN
        outcome := 'deferred';
        detail := 'TimescaleDB license is ' || v_license || '; compression and its policy '
            || 'need the timescale (TSL) license. Run `mp-schema apply-timescale-features` '
            || 'once the server has it.';
    ELSE
        IF NOT (SELECT h.compression_enabled FROM timescaledb_information.hypertables h
                WHERE h.hypertable_schema = 'mp' AND h.hypertable_name = p_table) THEN
            EXECUTE format('ALTER TABLE mp.%I SET (timescaledb.compress, '
                'timescaledb.compress_segmentby = %L, timescaledb.compress_orderby = %L)',
                p_table, p_segmentby, p_orderby);
        END IF;
        SELECT j.job_id, j.config INTO v_job, v_config FROM timescaledb_information.jobs j
            WHERE j.proc_name = 'policy_compression' AND j.hypertable_schema = 'mp'
            AND j.hypertable_name = p_table;
        IF v_job IS NULL THEN
            -- Created and unscheduled in one transaction: the scheduler never sees it run.
            v_job := add_compression_policy(format('mp.%I', p_table)::regclass,
                compress_after => p_compress_after);
        ELSIF (v_config ->> 'compress_after')::interval IS DISTINCT FROM p_compress_after THEN
            PERFORM alter_job(v_job, config => jsonb_set(v_config, '{compress_after}',
                to_jsonb(p_compress_after::text)));
        END IF;
        outcome := CASE WHEN v_previous IN ('enabled', 'paused') THEN v_previous
                        ELSE 'backfilling' END;
        PERFORM alter_job(v_job, scheduled => outcome = 'enabled');
        detail := CASE outcome
            WHEN 'enabled' THEN 'policy running: chunks whose obs_time range ended more than '
                || p_compress_after::text || ' ago are compressed'
            WHEN 'paused' THEN 'policy paused by the operator (compress_after '
                || p_compress_after::text || '); `mp-schema compression enable ' || p_table
                || '` resumes it'
            ELSE 'policy created (compress_after ' || p_compress_after::text
                || '), not running: run `mp-schema compression enable ' || p_table
                || '` once the backfill of ' || p_table || ' is done'
        END;
    END IF;
    INSERT INTO mp.timescale_features AS f (table_name, feature, status, reason)
        VALUES (p_table, 'compression', outcome, detail)
        ON CONFLICT (table_name, feature) DO UPDATE
        SET status = EXCLUDED.status, reason = EXCLUDED.reason,
            recorded_at = CASE WHEN f.status = EXCLUDED.status THEN f.recorded_at
                               ELSE now() END;
    hypertable := p_table;
    feature_name := 'compression';
    RETURN NEXT;
END
$mp_apply$
"""

_APPLY_ALL = f"""
CREATE OR REPLACE FUNCTION mp.apply_timescale_features()
RETURNS TABLE (hypertable text, feature_name text, outcome text, detail text)
LANGUAGE sql
AS $mp_features$
    SELECT a.* FROM (VALUES {_TABLES}) AS t(name, segmentby, orderby, compress_after)
    CROSS JOIN LATERAL mp.apply_compression(t.name, t.segmentby, t.orderby,
        t.compress_after::interval) AS a
    ORDER BY 1
$mp_features$
"""  # noqa: S608 - only this file's literal tables are formatted in

_SET_STATE = r"""
CREATE OR REPLACE FUNCTION mp.set_compression_state(p_table text, p_enabled boolean)
RETURNS TABLE (hypertable text, feature_name text, outcome text, detail text)
LANGUAGE plpgsql
AS $mp_state$
DECLARE
    v_license text := coalesce(current_setting('timescaledb.license', true), 'unknown');
    v_status text;
    v_job integer;
    v_after text;
BEGIN
    SELECT f.status INTO v_status FROM mp.timescale_features f
        WHERE f.table_name = p_table AND f.feature = 'compression';
    IF v_status IS NULL THEN
        RAISE EXCEPTION 'mp.% has no compression record: is it a fact table, and is the '
            'database migrated?', p_table USING ERRCODE = '42704';
    END IF;
    IF v_license <> 'timescale' THEN
        RAISE EXCEPTION 'compression needs a TimescaleDB server with the timescale (TSL) '
            'license; this server''s license is %: mp.% stays deferred', v_license, p_table
            USING ERRCODE = '0A000';
    END IF;
    SELECT j.job_id, j.config ->> 'compress_after' INTO v_job, v_after
        FROM timescaledb_information.jobs j
        WHERE j.proc_name = 'policy_compression' AND j.hypertable_schema = 'mp'
        AND j.hypertable_name = p_table;
    IF v_status = 'deferred' OR v_job IS NULL THEN
        RAISE EXCEPTION 'mp.% has no compression policy yet: run `mp-schema '
            'apply-timescale-features` first', p_table USING ERRCODE = '55000';
    END IF;
    IF p_enabled THEN
        PERFORM alter_job(v_job, scheduled => true, next_start => now());
        outcome := 'enabled';
        detail := 'policy running: chunks whose obs_time range ended more than ' || v_after
            || ' ago are compressed';
    ELSIF v_status = 'enabled' THEN
        PERFORM alter_job(v_job, scheduled => false);
        outcome := 'paused';
        detail := 'policy paused by the operator (compress_after ' || v_after
            || '); `mp-schema compression enable ' || p_table || '` resumes it';
    ELSE
        -- Pausing what never ran changes nothing (backfilling or paused stays).
        PERFORM alter_job(v_job, scheduled => false);
        SELECT f.status, f.reason INTO outcome, detail FROM mp.timescale_features f
            WHERE f.table_name = p_table AND f.feature = 'compression';
    END IF;
    UPDATE mp.timescale_features f SET status = outcome, reason = detail,
        recorded_at = CASE WHEN f.status = outcome THEN f.recorded_at ELSE now() END
        WHERE f.table_name = p_table AND f.feature = 'compression';
    hypertable := p_table;
    feature_name := 'compression';
    RETURN NEXT;
END
$mp_state$
"""

# Revision 0002's function, rewritten compactly with the same behaviour: settings where
# missing, a scheduled policy (if_not_exists), 'applied' or 'deferred'.
_APPLY_ALL_0002 = f"""
CREATE OR REPLACE FUNCTION mp.apply_timescale_features()
RETURNS TABLE (hypertable text, feature_name text, outcome text, detail text)
LANGUAGE plpgsql
AS $mp_features$
DECLARE
    t record;
    v_license text := coalesce(current_setting('timescaledb.license', true), 'unknown');
BEGIN
    FOR t IN SELECT * FROM (VALUES {_TABLES_0002}) AS v(name, segmentby, orderby, after) LOOP
        IF v_license = 'timescale' THEN
            IF NOT (SELECT h.compression_enabled FROM timescaledb_information.hypertables h
                    WHERE h.hypertable_schema = 'mp' AND h.hypertable_name = t.name) THEN
                EXECUTE format('ALTER TABLE mp.%I SET (timescaledb.compress, '
                    'timescaledb.compress_segmentby = %L, timescaledb.compress_orderby = %L)',
                    t.name, t.segmentby, t.orderby);
            END IF;
            PERFORM add_compression_policy(format('mp.%I', t.name)::regclass,
                compress_after => t.after::interval, if_not_exists => true);
            outcome := 'applied';
            detail := 'compression segmentby ' || t.segmentby || ', compress_after ' || t.after;
        ELSE
            outcome := 'deferred';
            detail := 'TimescaleDB license is ' || v_license
                || '; compression and its policy need the timescale license. Run `mp-schema '
                || 'apply-timescale-features` once the server has it.';
        END IF;
        INSERT INTO mp.timescale_features AS f (table_name, feature, status, reason)
            VALUES (t.name, 'compression', outcome, detail)
            ON CONFLICT (table_name, feature) DO UPDATE
            SET status = EXCLUDED.status, reason = EXCLUDED.reason, recorded_at = now();
        hypertable := t.name;
        feature_name := 'compression';
        RETURN NEXT;
    END LOOP;
END
$mp_features$
"""  # noqa: S608 - only this file's literal tables are formatted in

# On downgrade, policies get 0002's compress_after back but stay unscheduled: a schema
# downgrade must not start background work (a policy started by the scheduler in the middle of
# a downgrade to base deadlocked with its DROP TABLE). `alter_job(id, scheduled => true)`
# resumes one by hand.
_RESTORE_0002_POLICIES = f"""
DO $mp_restore$
DECLARE
    t record;
BEGIN
    IF coalesce(current_setting('timescaledb.license', true), 'unknown') <> 'timescale' THEN
        RETURN;
    END IF;
    FOR t IN SELECT j.job_id, j.config, v.after
        FROM (VALUES {_TABLES_0002}) AS v(name, segmentby, orderby, after)
        JOIN timescaledb_information.jobs j ON j.proc_name = 'policy_compression'
            AND j.hypertable_schema = 'mp' AND j.hypertable_name = v.name
    LOOP
        PERFORM alter_job(t.job_id, scheduled => false,
            config => jsonb_set(t.config, '{{compress_after}}', to_jsonb(t.after)));
    END LOOP;
END
$mp_restore$
"""  # noqa: S608 - only this file's literal tables are formatted in


def upgrade() -> None:
    op.execute(
        "ALTER TABLE mp.timescale_features DROP CONSTRAINT ck_timescale_features_status_enum"
    )
    # 'applied' meant "policy created and running"; from here nothing runs until enabled.
    op.execute(
        "UPDATE mp.timescale_features SET status = 'backfilling', recorded_at = now()"
        " WHERE status = 'applied'"
    )
    op.execute(
        "ALTER TABLE mp.timescale_features ADD CONSTRAINT ck_timescale_features_status_enum"
        f" CHECK (status IN ({_STATES}))"
    )
    op.execute(_APPLY_ONE)
    op.execute(_APPLY_ALL)
    op.execute(_SET_STATE)
    # Unschedules running policies, sets each table's compress_after, records the states.
    op.execute("SELECT * FROM mp.apply_timescale_features()")


def downgrade() -> None:
    op.execute(_RESTORE_0002_POLICIES)
    op.execute("DROP FUNCTION mp.set_compression_state(text, boolean)")
    op.execute(_APPLY_ALL_0002)
    op.execute("DROP FUNCTION mp.apply_compression(text, text, text, interval)")
    op.execute(
        "ALTER TABLE mp.timescale_features DROP CONSTRAINT ck_timescale_features_status_enum"
    )
    op.execute(
        "UPDATE mp.timescale_features SET status = 'applied', recorded_at = now()"
        " WHERE status <> 'deferred'"
    )
    op.execute(
        "ALTER TABLE mp.timescale_features ADD CONSTRAINT ck_timescale_features_status_enum"
        " CHECK (status IN ('applied', 'deferred'))"
    )
