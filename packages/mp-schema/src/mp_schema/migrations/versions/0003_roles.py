"""Least-privilege roles: ingest (append-only writer) and research (read-only), and grants.

Role names come from the settings in effect when the migration runs (``MP_PG_INGEST_ROLE``,
``MP_PG_RESEARCH_ROLE``, validated as plain identifiers by mp-config); see
:mod:`mp_schema._roles` for the design. Frozen: the statements are literal templates, filled
with those names only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import context, op

from mp_config import PostgresSettings, validate_identifier

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ENSURE_ROLE = """DO $mp_role$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
        IF NOT (SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user)
        THEN
            RAISE EXCEPTION 'role "{role}" does not exist and % may not create roles',
                current_user
                USING HINT = 'as a superuser run: CREATE ROLE {role} NOLOGIN; (or grant '
                    || 'CREATEROLE to the migrating user), then migrate again';
        END IF;
        BEGIN
            CREATE ROLE {role} NOLOGIN;
        EXCEPTION WHEN duplicate_object THEN
            NULL;  -- created concurrently by another migration of this cluster
        END;
    END IF;
END
$mp_role$"""

GRANTS = [
    "REVOKE ALL ON SCHEMA mp FROM PUBLIC",
    "REVOKE ALL ON FUNCTION mp.apply_timescale_features() FROM PUBLIC",
    "GRANT USAGE ON SCHEMA mp TO {ingest}, {research}",
    "GRANT SELECT ON ALL TABLES IN SCHEMA mp TO {research}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA mp GRANT SELECT ON TABLES TO {research}",
    "GRANT SELECT, INSERT ON mp.macro_observations, mp.market_bars, mp.curve_points, mp.rate_fixings, mp.release_calendar, mp.positioning_flows, mp.signal_values TO {ingest}",
    "GRANT SELECT, INSERT ON mp.data_sources, mp.instruments, mp.series TO {ingest}",
    "GRANT SELECT ON mp.timescale_features TO {ingest}",
    "GRANT USAGE ON ALL SEQUENCES IN SCHEMA mp TO {ingest}",
    """DO $mp_timeout$
BEGIN
    EXECUTE format('ALTER ROLE {research} IN DATABASE %I SET statement_timeout = %L',
                   current_database(), '{timeout}ms');
END
$mp_timeout$""",
]

REVOKES = [
    "ALTER DEFAULT PRIVILEGES IN SCHEMA mp REVOKE SELECT ON TABLES FROM {research}",
    "REVOKE ALL ON ALL TABLES IN SCHEMA mp FROM {ingest}, {research}",
    "REVOKE ALL ON ALL SEQUENCES IN SCHEMA mp FROM {ingest}, {research}",
    "REVOKE ALL ON SCHEMA mp FROM {ingest}, {research}",
    """DO $mp_timeout$
BEGIN
    EXECUTE format('ALTER ROLE {research} IN DATABASE %I RESET statement_timeout',
                   current_database());
END
$mp_timeout$""",
]


def _roles() -> dict[str, object]:
    settings = context.config.attributes.get("mp_settings") or PostgresSettings.load()
    return {
        "ingest": validate_identifier(settings.ingest_role),
        "research": validate_identifier(settings.research_role),
        "timeout": int(settings.research_statement_timeout_ms),
    }


def upgrade() -> None:
    names = _roles()
    op.execute(ENSURE_ROLE.format(role=names["ingest"]))
    op.execute(ENSURE_ROLE.format(role=names["research"]))
    for statement in GRANTS:
        op.execute(statement.format(**names))


def downgrade() -> None:
    names = _roles()
    for statement in REVOKES:
        op.execute(statement.format(**names))
