"""Least-privilege roles and their grants, as SQL built from allow-listed role names.

Three roles, names from settings (``MP_PG_*_ROLE``, validated as plain identifiers by
mp-config, so they can be placed in DDL as they are):

* owner: the migrating user (or ``MP_PG_OWNER_ROLE``): owns every object, runs DDL.
* ingest: reads everything in schema ``mp``, INSERTs facts and registers metadata; never
  UPDATE, DELETE or TRUNCATE, never DDL. Rows are append-only, so nothing else is needed.
* research: read-only, with a statement timeout in this database.

PUBLIC gets nothing in schema ``mp``. The roles are created NOLOGIN (group roles) when missing;
operators grant them to login users. Downgrades revoke every grant but never drop a role: roles
are cluster-wide, and dropping one would silently remove its members' memberships.
"""

from __future__ import annotations

from dataclasses import dataclass

from mp_config import PostgresSettings, validate_identifier
from mp_schema._specs import FactSpec, fact_spec
from mp_schema.models import FACT_TABLES

__all__ = [
    "RoleNames",
    "ensure_role_sql",
    "fact_table_grant_statements",
    "grant_statements",
    "revoke_statements",
]

METADATA_TABLES = ("data_sources", "instruments", "series")


@dataclass(frozen=True, slots=True)
class RoleNames:
    """The two managed role names and the research statement timeout."""

    ingest: str
    research: str
    research_statement_timeout_ms: int

    @classmethod
    def from_settings(cls, settings: PostgresSettings) -> RoleNames:
        """Role names from ``MP_PG_INGEST_ROLE`` and ``MP_PG_RESEARCH_ROLE``."""
        return cls(
            ingest=validate_identifier(settings.ingest_role),
            research=validate_identifier(settings.research_role),
            research_statement_timeout_ms=settings.research_statement_timeout_ms,
        )


def ensure_role_sql(role: str) -> str:
    """Create the NOLOGIN role ``role`` unless it exists, with a clear error where the
    migrating user may not create roles."""
    role = validate_identifier(role)
    return f"""DO $mp_role$
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


def _ingest_fact_grants(roles: RoleNames, specs: list[FactSpec]) -> list[str]:
    # One statement per privilege set, tables in registry order (what migration 0003 wrote).
    by_privileges: dict[tuple[str, ...], list[str]] = {}
    for spec in specs:
        by_privileges.setdefault(spec.ingest_privileges, []).append(f"mp.{spec.name}")
    ingest = validate_identifier(roles.ingest)
    return [
        f"GRANT {', '.join(privileges)} ON {', '.join(tables)} TO {ingest}"
        for privileges, tables in by_privileges.items()
    ]


def fact_table_grant_statements(roles: RoleNames, spec: FactSpec) -> list[str]:
    """The grants of one fact table added after the roles were set up: the ingest role's
    privileges from the registry, SELECT for research (default privileges cover only tables
    the role that set them creates)."""
    research = validate_identifier(roles.research)
    return [*_ingest_fact_grants(roles, [spec]), f"GRANT SELECT ON mp.{spec.name} TO {research}"]


def grant_statements(roles: RoleNames, fact_tables: tuple[str, ...] | None = None) -> list[str]:
    """Every grant of the managed roles in schema ``mp`` (fact tables: the registry's when
    ``fact_tables`` is None)."""
    ingest, research = roles.ingest, roles.research
    names = tuple(FACT_TABLES) if fact_tables is None else fact_tables
    specs = [fact_spec(FACT_TABLES[name]) for name in names]
    metadata = ", ".join(f"mp.{table}" for table in METADATA_TABLES)
    timeout = int(roles.research_statement_timeout_ms)
    return [
        "REVOKE ALL ON SCHEMA mp FROM PUBLIC",
        "REVOKE ALL ON FUNCTION mp.apply_timescale_features() FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA mp TO {ingest}, {research}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA mp TO {research}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA mp GRANT SELECT ON TABLES TO {research}",
        *_ingest_fact_grants(roles, specs),
        f"GRANT SELECT, INSERT ON {metadata} TO {ingest}",
        f"GRANT SELECT ON mp.timescale_features TO {ingest}",
        # Identity columns of the metadata tables draw from sequences.
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA mp TO {ingest}",
        f"""DO $mp_timeout$
BEGIN
    EXECUTE format('ALTER ROLE {research} IN DATABASE %I SET statement_timeout = %L',
                   current_database(), '{timeout}ms');
END
$mp_timeout$""",
    ]


def revoke_statements(roles: RoleNames) -> list[str]:
    """Undo :func:`grant_statements`: afterwards neither role holds anything in schema mp."""
    ingest, research = roles.ingest, roles.research
    both = f"{ingest}, {research}"
    return [
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA mp REVOKE SELECT ON TABLES FROM {research}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA mp FROM {both}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA mp FROM {both}",
        f"REVOKE ALL ON SCHEMA mp FROM {both}",
        f"""DO $mp_timeout$
BEGIN
    EXECUTE format('ALTER ROLE {research} IN DATABASE %I RESET statement_timeout',
                   current_database());
END
$mp_timeout$""",
    ]
