"""The compression lifecycle the operator controls: status, enable after the backfill, pause.

A fact table's compression moves through the states recorded in ``mp.timescale_features``:
``deferred`` (the server's license has no compression), ``backfilling`` (settings and
policy exist, the policy job is unscheduled), ``enabled`` (the policy runs) and ``paused``.
The transitions are SQL functions created by migration 0005 (``mp.set_compression_state``), so
psql and this module do the same thing; these functions are thin callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from mp_config import PostgresSettings
from mp_schema._features import run_statement
from mp_schema._migrations import migration_engine
from mp_schema.exceptions import CompressionUnavailableError, MigrationError
from mp_schema.models import FACT_TABLES

__all__ = [
    "COMPRESSION_STATES",
    "CompressionState",
    "compression_status",
    "enable_compression",
    "pause_compression",
]

#: Every state a table's compression can be in.
COMPRESSION_STATES = ("deferred", "backfilling", "enabled", "paused")

_STATUS_SQL = """
SELECT f.table_name, f.status, coalesce(f.reason, ''), f.recorded_at,
       coalesce(current_setting('timescaledb.license', true), 'unknown'),
       j.job_id, j.scheduled, j.config ->> 'compress_after',
       -- Unscheduled jobs have next_start -infinity, which Python's datetime cannot hold.
       CASE WHEN j.scheduled AND isfinite(j.next_start) THEN j.next_start END,
       (SELECT count(*) FROM timescaledb_information.chunks c
         WHERE c.hypertable_schema = 'mp' AND c.hypertable_name = f.table_name),
       (SELECT count(*) FROM timescaledb_information.chunks c
         WHERE c.hypertable_schema = 'mp' AND c.hypertable_name = f.table_name
         AND c.is_compressed)
FROM mp.timescale_features f
LEFT JOIN timescaledb_information.jobs j ON j.proc_name = 'policy_compression'
     AND j.hypertable_schema = 'mp' AND j.hypertable_name = f.table_name
WHERE f.feature = 'compression'
ORDER BY f.table_name
"""


@dataclass(frozen=True, slots=True)
class CompressionState:
    """Where one table's compression stands, from the bookkeeping table and TimescaleDB.

    Attributes:
        table: the hypertable (schema ``mp``).
        state: one of :data:`COMPRESSION_STATES`.
        reason: why (deferred), or what runs and what to do next.
        since: when the state was last changed.
        license: the server's ``timescaledb.license``.
        job_id: the compression policy's job, ``None`` when there is none.
        scheduled: whether that job is scheduled (runs in the background).
        compress_after: the policy's ``compress_after``.
        next_start: when the scheduled job runs next (``None`` when unscheduled).
        chunks: the table's chunks.
        compressed_chunks: of those, compressed ones.
    """

    table: str
    state: str
    reason: str
    since: datetime
    license: str
    job_id: int | None
    scheduled: bool | None
    compress_after: str | None
    next_start: datetime | None
    chunks: int
    compressed_chunks: int

    @property
    def consistent(self) -> bool:
        """The job is scheduled exactly when the bookkeeping says ``enabled`` (someone who
        changed the job by hand, with ``alter_job``, makes this False)."""
        if self.job_id is None:
            return self.state == "deferred"
        return bool(self.scheduled) == (self.state == "enabled")

    def describe(self) -> str:
        """One line for a terminal."""
        chunks = f"{self.compressed_chunks}/{self.chunks} chunks compressed"
        line = f"{self.table:<20} {self.state:<11} {chunks:<26} {self.reason}"
        if not self.consistent:
            line += (
                f" [MISMATCH: job {self.job_id} is "
                f"{'scheduled' if self.scheduled else 'unscheduled'}; run "
                "`mp-schema compression enable` or `pause` to settle it]"
            )
        return line


def _tables(table: str | None) -> list[str]:
    if table is None:
        return list(FACT_TABLES)
    name = table.removeprefix("mp.")
    if name not in FACT_TABLES:
        raise MigrationError(
            f"{table!r} is not a fact table; compression applies to: {', '.join(FACT_TABLES)}"
        )
    return [name]


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__


def compression_status(settings: PostgresSettings | None = None) -> list[CompressionState]:
    """Each fact table's compression state, its policy job and how many chunks are compressed.

    Read-only; the research role may call it.
    """
    rows = run_statement(settings, _STATUS_SQL, "reading compression status")
    return [
        CompressionState(
            table=str(row[0]),
            state=str(row[1]),
            reason=str(row[2]),
            since=row[3],
            license=str(row[4]),
            job_id=None if row[5] is None else int(row[5]),
            scheduled=None if row[6] is None else bool(row[6]),
            compress_after=None if row[7] is None else str(row[7]),
            next_start=row[8],
            chunks=int(row[9]),
            compressed_chunks=int(row[10]),
        )
        for row in rows
    ]


def _set_state(
    settings: PostgresSettings | None, table: str | None, enabled: bool
) -> list[CompressionState]:
    settings = settings if settings is not None else PostgresSettings.load()
    names = _tables(table)
    action = "enabling" if enabled else "pausing"
    engine = migration_engine(settings)
    try:
        # One transaction: all the named tables change state, or none does.
        with engine.begin() as connection:
            for name in names:
                connection.execute(
                    text("SELECT * FROM mp.set_compression_state(:table, :enabled)"),
                    {"table": name, "enabled": enabled},
                )
    except DBAPIError as error:
        code = getattr(error.orig, "sqlstate", None)
        message = f"{action} compression on {settings.display_url()}: {_first_line(error)}"
        if code == "0A000":
            raise CompressionUnavailableError(message) from error
        raise MigrationError(message) from error
    except SQLAlchemyError as error:
        raise MigrationError(
            f"{action} compression on {settings.display_url()} failed: {_first_line(error)}"
        ) from error
    finally:
        engine.dispose()
    wanted = set(names)
    return [item for item in compression_status(settings) if item.table in wanted]


def enable_compression(
    settings: PostgresSettings | None = None, table: str | None = None
) -> list[CompressionState]:
    """Say the backfill of ``table`` (every fact table when ``None``) is done: its compression
    policy is scheduled and runs at once, then on its own schedule.

    Run as the tables' owner (the migrating role).

    Raises:
        CompressionUnavailableError: the server's TimescaleDB license has no compression.
        MigrationError: not a fact table, no policy yet (run ``apply-timescale-features``), or
            the database refused.
    """
    return _set_state(settings, table, True)


def pause_compression(
    settings: PostgresSettings | None = None, table: str | None = None
) -> list[CompressionState]:
    """Stop the compression policy of ``table`` (every fact table when ``None``), before a
    late backfill for example; compressed chunks stay compressed. ``enable`` resumes it.

    Raises:
        CompressionUnavailableError: the server's TimescaleDB license has no compression.
        MigrationError: as for :func:`enable_compression`.
    """
    return _set_state(settings, table, False)
