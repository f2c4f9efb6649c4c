"""License-dependent TimescaleDB features: what is applied, what is deferred, and applying it.

On an Apache-2 build the migrations record compression as deferred (with the reason) in
``mp.timescale_features``. Once the server has the community license,
:func:`apply_timescale_features` (``mp-schema apply-timescale-features``) applies what is
missing; running it again changes nothing. Policies it creates do not run until the operator
enables them after the backfill (:mod:`mp_schema._compression`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from mp_config import PostgresSettings
from mp_schema._migrations import migration_engine
from mp_schema.exceptions import MigrationError

__all__ = ["FeatureStatus", "apply_timescale_features", "timescale_feature_status"]


@dataclass(frozen=True, slots=True)
class FeatureStatus:
    """One feature of one hypertable.

    Attributes:
        table: the hypertable (in schema ``mp``).
        feature: ``compression`` (settings and policy).
        status: ``deferred``, ``backfilling``, ``enabled`` or ``paused`` (see
            :data:`~mp_schema.COMPRESSION_STATES`).
        reason: why deferred, or what was applied.
    """

    table: str
    feature: str
    status: str
    reason: str


def run_statement(settings: PostgresSettings | None, statement: str, action: str) -> list[Any]:
    """The rows of ``statement``, run in one transaction; a failure is a MigrationError that
    names ``action`` and the database."""
    settings = settings if settings is not None else PostgresSettings.load()
    engine = migration_engine(settings)
    try:
        with engine.begin() as connection:
            rows = connection.execute(text(statement)).all()
    except SQLAlchemyError as error:
        first_line = str(error).strip().splitlines()[0]
        raise MigrationError(
            f"{action} on {settings.display_url()} failed: {first_line}; "
            "is the database migrated (mp-schema upgrade)?"
        ) from error
    finally:
        engine.dispose()
    return list(rows)


def _run(settings: PostgresSettings | None, statement: str, action: str) -> list[FeatureStatus]:
    rows = run_statement(settings, statement, action)
    return [FeatureStatus(str(row[0]), str(row[1]), str(row[2]), str(row[3] or "")) for row in rows]


def apply_timescale_features(settings: PostgresSettings | None = None) -> list[FeatureStatus]:
    """Apply every license-dependent feature the server allows; idempotent.

    New policies are created unscheduled (``backfilling``); a table already enabled or
    paused keeps its state. Must run as the tables' owner (the migrating role).
    """
    return _run(
        settings, "SELECT * FROM mp.apply_timescale_features()", "applying TimescaleDB features"
    )


def timescale_feature_status(settings: PostgresSettings | None = None) -> list[FeatureStatus]:
    """What the bookkeeping table says, without changing anything."""
    return _run(
        settings,
        "SELECT table_name, feature, status, reason FROM mp.timescale_features"
        " ORDER BY table_name, feature",
        "reading TimescaleDB feature status",
    )
