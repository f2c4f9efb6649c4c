"""How far a read replica lags, and waiting for it to catch up with a write.

Reads routed to a streaming standby (``MP_PG_READ_HOST``) see the primary's commits a little
later. :func:`replica_lag` says how much later; a read that must see an ingest it just made
either reads on the primary (``Reader(db.engine)``) or waits with :func:`wait_for_replay` until
the standby has replayed the primary's WAL position taken after that ingest
(:func:`primary_wal_position`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mp_db._error_mapping import translate_errors
from mp_db.exceptions import ConfigurationError, QueryTimeoutError

__all__ = [
    "ReplicaLag",
    "primary_wal_position",
    "primary_wal_position_async",
    "replica_lag",
    "replica_lag_async",
    "wait_for_replay",
    "wait_for_replay_async",
]

_LAG = text(
    "SELECT pg_is_in_recovery(),"
    " pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(),"
    " extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()),"
    " pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"
)
_POSITION = text(
    "SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END"
)
_REPLAYED = text(
    "SELECT pg_is_in_recovery(),"
    " NOT pg_is_in_recovery()"
    # Text first: asyncpg would otherwise send the parameter as a binary pg_lsn.
    " OR pg_last_wal_replay_lsn() >= CAST(CAST(:position AS text) AS pg_lsn)"
)


@dataclass(frozen=True, slots=True)
class ReplicaLag:
    """What a server says about its replay of the primary's WAL.

    Attributes:
        in_recovery: True on a standby; False on a primary (which never lags itself).
        caught_up: everything the standby received is replayed (on a primary: True).
        seconds_since_replay: age of the newest replayed commit; it grows while the primary is
            idle, so it is a lag only when ``caught_up`` is False (``None`` before the first).
        unreplayed_bytes: WAL received but not yet replayed.
    """

    in_recovery: bool
    caught_up: bool
    seconds_since_replay: float | None
    unreplayed_bytes: int

    @property
    def lag_seconds(self) -> float:
        """How stale a read here may be: 0 when caught up, else the newest commit's age."""
        if not self.in_recovery or self.caught_up:
            return 0.0
        return self.seconds_since_replay or 0.0


def _lag(row: Any) -> ReplicaLag:
    in_recovery, caught_up, seconds, unreplayed = row
    return ReplicaLag(
        in_recovery=bool(in_recovery),
        caught_up=True if not in_recovery else bool(caught_up),
        seconds_since_replay=float(seconds) if seconds is not None else None,
        unreplayed_bytes=int(unreplayed or 0),
    )


def replica_lag(bind: Engine | Connection) -> ReplicaLag:
    """The lag of the server behind ``bind`` (a ``read_engine`` to ask the replica)."""
    with translate_errors():
        if isinstance(bind, Engine):
            with bind.connect() as connection:
                return _lag(connection.execute(_LAG).one())
        return _lag(bind.execute(_LAG).one())


async def replica_lag_async(bind: AsyncEngine | AsyncConnection) -> ReplicaLag:
    """The async twin of :func:`replica_lag`."""
    with translate_errors():
        if isinstance(bind, AsyncEngine):
            async with bind.connect() as connection:
                return _lag((await connection.execute(_LAG)).one())
        return _lag((await bind.execute(_LAG)).one())


def _position(value: Any) -> str:
    if value is None:
        raise ConfigurationError("primary_wal_position needs the primary (db.engine)")
    return str(value)


def primary_wal_position(bind: Engine | Connection) -> str:
    """The primary's WAL position now (after a write, the point a replica must reach).

    Raises:
        ConfigurationError: ``bind`` is a standby, not the primary.
    """
    with translate_errors():
        if isinstance(bind, Engine):
            with bind.connect() as connection:
                return _position(connection.execute(_POSITION).scalar_one())
        return _position(bind.execute(_POSITION).scalar_one())


async def primary_wal_position_async(bind: AsyncEngine | AsyncConnection) -> str:
    """The async twin of :func:`primary_wal_position`."""
    with translate_errors():
        if isinstance(bind, AsyncEngine):
            async with bind.connect() as connection:
                return _position((await connection.execute(_POSITION)).scalar_one())
        return _position((await bind.execute(_POSITION)).scalar_one())


def _deadline_error(position: str, wait_seconds: float) -> QueryTimeoutError:
    return QueryTimeoutError(
        f"the replica did not replay WAL position {position} within {wait_seconds:g} s: "
        "read on the primary instead (Reader(db.engine))"
    )


def wait_for_replay(bind: Engine, position: str, *, wait_seconds: float = 5.0) -> None:
    """Return once the server behind ``bind`` has replayed ``position`` (a primary at once).

    Raises:
        QueryTimeoutError: not replayed within ``wait_seconds``.
    """
    deadline = time.monotonic() + wait_seconds
    with translate_errors(), bind.connect() as connection:
        while True:
            _, done = connection.execute(_REPLAYED, {"position": position}).one()
            connection.rollback()
            if done:
                return
            if time.monotonic() > deadline:
                raise _deadline_error(position, wait_seconds)
            time.sleep(0.02)


async def wait_for_replay_async(
    bind: AsyncEngine, position: str, *, wait_seconds: float = 5.0
) -> None:
    """The async twin of :func:`wait_for_replay`."""
    deadline = time.monotonic() + wait_seconds
    with translate_errors():
        async with bind.connect() as connection:
            while True:
                _, done = (await connection.execute(_REPLAYED, {"position": position})).one()
                await connection.rollback()
                if done:
                    return
                if time.monotonic() > deadline:
                    raise _deadline_error(position, wait_seconds)
                await asyncio.sleep(0.02)
