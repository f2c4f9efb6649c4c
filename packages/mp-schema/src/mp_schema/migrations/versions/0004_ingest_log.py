"""The ingest log: every fact row names the ingest that stored it, every ingest its commit order.

Strict replay needs to know which rows a past run could see. ``ingested_at`` is the writing
transaction's start, so an ingest that began before a run's cutoff and committed after it
looked visible in the replay although the run never saw it. Here each ingest transaction gets
a row in ``mp.ingest_log``; every fact row carries its ``ingest_id``; and a deferred constraint
trigger stamps the log row at commit with ``commit_seq`` from one sequence, while holding one
transaction-level advisory lock. The lock is released only after the commit is visible, so
``commit_seq`` order is commit order, and a cutoff (highest commit_seq and ingest_id seen)
describes exactly the ingests a reader could see (see mp-db's ``Cutoff``).

Writers other than mp's ingest are covered too: the column's default, ``mp.current_ingest_id()``,
logs the transaction on its first fact row. Rows stored before this revision get ingest_id 0.

Frozen: literal SQL only. Role names are deployment settings, read as 0003 reads them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import context, op

from mp_config import PostgresSettings, validate_identifier

revision = "0004"
down_revision = "0003"
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

UPGRADE = [
    """CREATE TABLE mp.ingest_log (
    ingest_id BIGINT GENERATED ALWAYS AS IDENTITY NOT NULL,
    writer VARCHAR(8) DEFAULT 'sql'::character varying NOT NULL,
    fact_table VARCHAR(63),
    series_ids INTEGER[],
    started_at TIMESTAMP WITH TIME ZONE DEFAULT clock_timestamp() NOT NULL,
    commit_seq BIGINT,
    committed_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT pk_ingest_log PRIMARY KEY (ingest_id),
    CONSTRAINT ck_ingest_log_writer_enum CHECK (writer IN ('mp', 'sql'))
)""",
    "CREATE UNIQUE INDEX ix_ingest_log_commit_seq ON mp.ingest_log (commit_seq)",
    "CREATE INDEX ix_ingest_log_committed_at ON mp.ingest_log (committed_at)",
    "CREATE SEQUENCE mp.ingest_commit_seq AS BIGINT",
    # mp's ingest: log this ingest, and make it the transaction's ingest for later plain INSERTs.
    """CREATE FUNCTION mp.begin_ingest(fact_table text, series_ids integer[]) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $mp$
DECLARE
    logged bigint;
BEGIN
    INSERT INTO mp.ingest_log (writer, fact_table, series_ids)
    VALUES ('mp', fact_table, series_ids) RETURNING ingest_id INTO logged;
    PERFORM set_config('mp.ingest_id', logged::text, true);
    RETURN logged;
END
$mp$""",
    # Any other writer: the transaction's ingest, logged on first use.
    """CREATE FUNCTION mp.current_ingest_id() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $mp$
DECLARE
    logged bigint := nullif(current_setting('mp.ingest_id', true), '')::bigint;
BEGIN
    IF logged IS NULL THEN
        INSERT INTO mp.ingest_log (writer) VALUES ('sql') RETURNING ingest_id INTO logged;
        PERFORM set_config('mp.ingest_id', logged::text, true);
    END IF;
    RETURN logged;
END
$mp$""",
    # At commit: number the log row in commit order. The lock is held until the commit is
    # visible to others, so no later commit_seq can become visible before an earlier one.
    # 7170001 is the advisory lock key that orders commits (fixed here, as literal SQL).
    """CREATE FUNCTION mp.stamp_ingest_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $mp$
BEGIN
    PERFORM pg_advisory_xact_lock(7170001);
    UPDATE mp.ingest_log
    SET commit_seq = nextval('mp.ingest_commit_seq'), committed_at = clock_timestamp()
    WHERE ingest_id = NEW.ingest_id;
    PERFORM pg_notify('mp_ingest', json_build_object(
        'ingest_id', NEW.ingest_id, 'fact_table', NEW.fact_table, 'series_ids', NEW.series_ids
    )::text);
    RETURN NULL;
END
$mp$""",
    """CREATE CONSTRAINT TRIGGER stamp_ingest_commit AFTER INSERT ON mp.ingest_log
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION mp.stamp_ingest_commit()""",
    "REVOKE ALL ON FUNCTION mp.begin_ingest(text, integer[]) FROM PUBLIC",
    "REVOKE ALL ON FUNCTION mp.current_ingest_id() FROM PUBLIC",
    "REVOKE ALL ON FUNCTION mp.stamp_ingest_commit() FROM PUBLIC",
    *(
        statement
        for table in FACT_TABLES
        for statement in (
            # A constant default first: existing rows get 0 without a table rewrite.
            f"ALTER TABLE mp.{table} ADD COLUMN ingest_id BIGINT DEFAULT 0 NOT NULL",
            f"ALTER TABLE mp.{table} ALTER COLUMN ingest_id SET DEFAULT mp.current_ingest_id()",
        )
    ),
]

DOWNGRADE = [
    *(f"ALTER TABLE mp.{table} DROP COLUMN ingest_id" for table in FACT_TABLES),
    "DROP TABLE mp.ingest_log",
    "DROP FUNCTION mp.stamp_ingest_commit()",
    "DROP FUNCTION mp.current_ingest_id()",
    "DROP FUNCTION mp.begin_ingest(text, integer[])",
    "DROP SEQUENCE mp.ingest_commit_seq",
]


def _role_names() -> tuple[str, str]:
    settings = context.config.attributes.get("mp_settings") or PostgresSettings.load()
    # Plain identifiers only, so they can stand in DDL as they are.
    return validate_identifier(settings.ingest_role), validate_identifier(settings.research_role)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)
    ingest, research = _role_names()
    op.execute(f"GRANT EXECUTE ON FUNCTION mp.begin_ingest(text, integer[]) TO {ingest}")
    op.execute(f"GRANT EXECUTE ON FUNCTION mp.current_ingest_id() TO {ingest}")
    op.execute(f"GRANT SELECT ON mp.ingest_log TO {ingest}, {research}")


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
