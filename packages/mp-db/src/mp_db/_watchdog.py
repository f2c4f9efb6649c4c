"""A client-side deadline for psycopg statements: the defence against half-open connections.

When the network silently drops a connection (a NAT mapping expires, a peer host dies), the
server never sees the statement, so ``statement_timeout`` never fires, and a blocking read waits
forever. asyncpg has ``command_timeout`` for this; libpq has nothing per statement. So each
statement executed through a sync engine is registered with one watchdog thread; if it is still
running at its deadline (``statement_timeout`` plus a margin), the watchdog shuts the socket
down, the blocked read fails at once, SQLAlchemy invalidates the connection and the caller gets
a :class:`~mp_db.ConnectionLostError` (transient: retry the unit of work).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine, event

__all__ = ["client_deadline_seconds", "copy_deadline", "install_watchdog"]

_MARGIN_SECONDS = 5.0
#: Where a pooled connection keeps its engine's deadline, for the COPYs below SQLAlchemy.
_DEADLINE = "mp_db.deadline_seconds"


def client_deadline_seconds(statement_timeout_ms: int, connect_timeout: float) -> float | None:
    """Seconds after which a statement is presumed lost in the network (None: never)."""
    if statement_timeout_ms <= 0:
        return None
    return statement_timeout_ms / 1000 + max(_MARGIN_SECONDS, connect_timeout)


class _Watchdog:
    """One thread for the process; statements register their deadline and socket."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deadlines: dict[int, tuple[float, int]] = {}
        self._thread: threading.Thread | None = None
        self.fired = 0

    def watch(self, key: int, fd: int, seconds: float) -> None:
        with self._lock:
            self._deadlines[key] = (time.monotonic() + seconds, fd)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="mp-db-watchdog", daemon=True
                )
                self._thread.start()

    def release(self, key: int) -> None:
        with self._lock:
            self._deadlines.pop(key, None)

    def _run(self) -> None:
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            with self._lock:
                expired = [
                    (key, fd) for key, (deadline, fd) in self._deadlines.items() if deadline <= now
                ]
                for key, _ in expired:
                    del self._deadlines[key]
            for _, fd in expired:
                self.fired += 1
                _shut_down(fd)


def _shut_down(fd: int) -> None:
    # Shut the connection's socket down through a duplicate descriptor: the blocked reader
    # wakes up with an error, and the driver keeps ownership of its own descriptor.
    with contextlib.suppress(OSError):
        duplicate = socket.socket(fileno=os.dup(fd))
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()


WATCHDOG = _Watchdog()


def install_watchdog(engine: Engine, seconds: float) -> None:
    """Give every statement of ``engine`` a client-side deadline of ``seconds``."""

    # Keyed by the driver connection: one statement at a time runs on it, and every way a
    # statement can end (success, error, the connection going back to the pool) releases it,
    # so a deadline can never outlive its statement and hit a later one.
    # A frame read's COPY runs on the driver below SQLAlchemy, where no statement event fires:
    # it waits on the socket with this deadline itself (mp_db._libpq_copy).
    @event.listens_for(engine, "connect")
    def _remember(_: Any, record: Any) -> None:
        record.info[_DEADLINE] = seconds

    @event.listens_for(engine, "before_cursor_execute")
    def _start(connection: Any, *_: Any) -> None:
        driver = connection.connection.driver_connection
        fd = driver.pgconn.socket if driver is not None else -1
        if fd >= 0:
            WATCHDOG.watch(id(driver), fd, seconds)

    @event.listens_for(engine, "after_cursor_execute")
    def _stop(connection: Any, *_: Any) -> None:
        WATCHDOG.release(id(connection.connection.driver_connection))

    @event.listens_for(engine, "handle_error")
    def _failed(context: Any) -> None:
        connection = getattr(context, "connection", None)
        pooled = getattr(connection, "connection", None) if connection is not None else None
        driver = getattr(pooled, "driver_connection", None)
        if driver is not None:
            WATCHDOG.release(id(driver))

    @event.listens_for(engine.pool, "checkin")
    def _returned(dbapi_connection: Any, *_: Any) -> None:
        WATCHDOG.release(id(dbapi_connection))


def copy_deadline(connection: Connection) -> float | None:
    """The client-side deadline of ``connection``'s engine (None: it has none)."""
    deadline = connection.connection.info.get(_DEADLINE)
    return None if deadline is None else float(deadline)
