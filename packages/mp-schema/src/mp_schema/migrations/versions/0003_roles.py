"""Least-privilege roles: ingest (append-only writer) and research (read-only), and grants.

Role names come from the settings in effect when the migration runs (``MP_PG_INGEST_ROLE``,
``MP_PG_RESEARCH_ROLE``); see :mod:`mp_schema._roles`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import context, op

from mp_config import PostgresSettings
from mp_schema._roles import RoleNames, ensure_role_sql, grant_statements, revoke_statements

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FACT_TABLES = (
    "macro_observations",
    "market_bars",
    "curve_points",
    "rate_fixings",
    "release_calendar",
    "positioning_flows",
    "signal_values",
)


def _roles() -> RoleNames:
    settings = context.config.attributes.get("mp_settings") or PostgresSettings.load()
    return RoleNames.from_settings(settings)


def upgrade() -> None:
    roles = _roles()
    op.execute(ensure_role_sql(roles.ingest))
    op.execute(ensure_role_sql(roles.research))
    for statement in grant_statements(roles, FACT_TABLES):
        op.execute(statement)


def downgrade() -> None:
    for statement in revoke_statements(_roles()):
        op.execute(statement)
