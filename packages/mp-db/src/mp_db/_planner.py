"""Planner settings one statement needs, set for it alone and put back after it.

The backtest probes the hypertable once per (decision time, series) through a LATERAL join.
TimescaleDB's ChunkAppend then re-runs its runtime chunk exclusion on every rescan, which cost
about 0.4 ms a probe over 31 chunks (3.1 s for 20 series x 360 decision times) against 0.03 ms
with it off (0.23 s, same plan otherwise, same rows): the ordered backward walk with
``LIMIT 1`` stops in the first chunk that has a row anyway. The setting is transaction-local
(``set_config(..., true)``) and restored right after the statement, so a caller's transaction
sees no change; on an error the rollback undoes it. A streamed read left early (its generator
closed) restores it too: the caller's transaction goes on.

A one-series as-of or first-release read over more than a year asks for the primary key's own
order, yet the planner estimates bitmap scans and one Sort cheaper from about five years on.
The ordered ChunkAppend of backward (or forward) index scans measured faster: 30 years of one
business-daily series (25,489 versions) executed in 5.4 against 9.8 ms for as-of, 4.5 against
7.1 ms for first release, and 5 years in 0.72 against 1.31 ms; for a year or less the planner
picks that plan itself. :data:`INDEX_ORDER` rules the Sort out for those reads.

The frame reads on psycopg (:mod:`mp_db._libpq_copy`) send the settings, the COPY and the
restore as one message (:func:`around`), which costs no round trip; the other reads set and
restore them with a statement each (:func:`planner_settings`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "INDEX_ORDER",
    "NO_RUNTIME_EXCLUSION",
    "PlannerSettings",
    "around",
    "planner_settings",
    "planner_settings_async",
]

#: Name and value pairs.
PlannerSettings = tuple[tuple[str, str], ...]
NO_RUNTIME_EXCLUSION: PlannerSettings = (("timescaledb.enable_runtime_exclusion", "off"),)
INDEX_ORDER: PlannerSettings = (("enable_sort", "off"),)

_SET = text(
    "SELECT previous.value, set_config(:name, :value, true) "
    "FROM (SELECT current_setting(:name, true) AS value) previous"
)
_RESTORE = text("SELECT set_config(:name, :value, true)")


def around(settings: PlannerSettings) -> tuple[str, str]:
    """Statements to put before and after one statement so that it runs with ``settings``
    and the transaction's own values are back after it: each value is saved in a placeholder
    setting of the transaction (``mp.saved_<n>``) by the first, and put back by the second.
    Empty strings for no settings."""
    if not settings:
        return "", ""
    saved, restored = [], []
    for number, (name, value) in enumerate(settings):
        keep = _literal(f"mp.saved_{number}")
        saved.append(
            f"set_config({keep}, current_setting({_literal(name)}), true), "
            f"set_config({_literal(name)}, {_literal(value)}, true)"
        )
        restored.append(f"set_config({_literal(name)}, current_setting({keep}), true)")
    return f"SELECT {', '.join(saved)}", f"SELECT {', '.join(restored)}"


def _literal(text_value: str) -> str:
    return "'" + text_value.replace("'", "''") + "'"


@contextmanager
def planner_settings(connection: Connection, settings: PlannerSettings) -> Iterator[None]:
    """``settings`` in force on ``connection`` for the block's statements."""
    previous = [
        (name, connection.execute(_SET, {"name": name, "value": value}).scalar())
        for name, value in settings
    ]
    try:
        yield
    except GeneratorExit:
        _restore(connection, previous)
        raise
    _restore(connection, previous)


def _restore(connection: Connection, previous: list[tuple[str, str | None]]) -> None:
    for name, value in reversed(previous):
        if value is not None:
            connection.execute(_RESTORE, {"name": name, "value": value})


@asynccontextmanager
async def planner_settings_async(
    connection: AsyncConnection, settings: PlannerSettings
) -> AsyncIterator[None]:
    """The asyncpg twin of :func:`planner_settings`."""
    previous: list[tuple[str, str | None]] = []
    for name, value in settings:
        result = await connection.execute(_SET, {"name": name, "value": value})
        previous.append((name, result.scalar()))
    try:
        yield
    except GeneratorExit:
        await _restore_async(connection, previous)
        raise
    await _restore_async(connection, previous)


async def _restore_async(
    connection: AsyncConnection, previous: list[tuple[str, str | None]]
) -> None:
    for name, value in reversed(previous):
        if value is not None:
            await connection.execute(_RESTORE, {"name": name, "value": value})
