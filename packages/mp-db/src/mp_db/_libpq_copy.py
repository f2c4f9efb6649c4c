"""A COPY TO STDOUT read straight off a psycopg connection's libpq handle.

Two reasons not to go through psycopg's own ``Copy``, both measured on this machine:

* speed: every row message passes through several of psycopg's generator layers there. 532,236
  rows (24.5 MB, the stored rows an unchanged re-run of the peer backfill compares with) took
  285 ms through ``Copy`` against 124 ms through the loop here;
* waiting: psycopg's ``PGconn.get_result`` and ``get_copy_data`` in blocking mode keep the GIL
  while libpq waits (a second thread ran once during a one-second wait), which froze every
  other thread of the process and hung the fault suite's TCP relay, a thread, in front of the
  server. Every wait here is on the socket (a selector), which lets other threads run.

The connection is left as psycopg expects it: every result read off, psycopg's own implicit
BEGIN sent first when the connection is in a transaction that has not started yet.
"""

from __future__ import annotations

import selectors
from collections.abc import Generator
from typing import Any

from psycopg import OperationalError, pq

from mp_db._planner import PlannerSettings, around

__all__ = ["SAVEPOINT", "CopyTimeoutError", "copy_pieces"]

#: What a guarded COPY runs under, so that leaving it early can undo it alone.
SAVEPOINT = "mp_frame_stream"
#: Results of the statements around the COPY that are no error.
_DONE = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)


class CopyTimeoutError(TimeoutError):
    """The server stayed silent past the deadline while the COPY waited on it: the connection
    is presumed lost (half-open). The caller should invalidate it; nothing is left to undo.
    A ``TimeoutError``, as asyncpg's ``command_timeout`` raises, so both drivers' frame reads
    end in the same :class:`~mp_db.ConnectionLostError`."""


def copy_pieces(
    raw: Any,
    statement: str,
    gather: int,
    *,
    guarded: bool,
    planner: PlannerSettings = (),
    deadline: float | None = None,
    begin: bool = True,
) -> Generator[bytearray, None, None]:
    """The body of ``statement`` (a COPY TO STDOUT) on the psycopg connection ``raw``, in
    pieces of at least ``gather`` bytes (the last one shorter, possibly empty).

    Each row message is copied into its piece as it arrives: holding the messages themselves
    (one libpq allocation per row) until a join measured about 60% slower on 153,900 rows.
    ``guarded`` runs the COPY under a savepoint of the connection's transaction: left before
    its end (the generator closed, or an error), the COPY is cancelled on the server, its
    remaining output read off and the savepoint rolled back, so the transaction goes on as
    before. Unguarded, an early exit still cancels and settles the connection, leaving the
    transaction (if any) failed. ``planner`` settings are in force for the COPY alone, set
    and restored in the same message (:func:`mp_db._planner.around`). ``deadline`` is how
    many seconds the server may stay silent while the COPY waits on it (None: no limit); the
    wait for a slow consumer of the pieces does not count. ``begin=False`` leaves out
    psycopg's implicit BEGIN on a connection not yet in a transaction: the message (settings,
    COPY, restore) is then one implicit transaction of its own and the connection is idle
    again after it, for a read that owns its connection and runs nothing else on it (the
    BEGIN, and the ROLLBACK when it is handed back, were a round trip of their own).

    Raises:
        CopyTimeoutError: nothing came from the server within ``deadline``.
        psycopg.Error: the server's error for the statement, or the connection's loss.
    """
    from psycopg import errors

    guarded = guarded and not raw.autocommit
    assert begin or not guarded, "a guarded COPY runs inside a transaction"
    before, after = around(planner)
    command = "; ".join(
        part
        for part in (f"SAVEPOINT {SAVEPOINT}" if guarded else "", before, statement, after)
        if part
    )
    if begin and not raw.autocommit and raw.info.transaction_status == pq.TransactionStatus.IDLE:
        command = _begin(raw) + "; " + command
    pgconn = raw.pgconn
    with selectors.DefaultSelector() as selector:
        selector.register(pgconn.socket, selectors.EVENT_READ)
        wait = _waiter(pgconn, selector, deadline)
        _send(pgconn, command.encode(), selector, deadline)
        failed, copying, settled = None, False, False
        try:
            while (result := _result(pgconn, wait)) is not None:
                if result.status == pq.ExecStatus.COPY_OUT:
                    copying = True
                    size, rest = yield from _body(pgconn, wait, gather)
                    if size == -2:
                        settled = True  # the connection is gone: nothing is left to undo
                        raise OperationalError(pgconn.get_error_message())
                    copying = False  # before the last piece: a close there has no COPY to stop
                    yield rest
                elif result.status not in _DONE:
                    failed = result
            settled = True
        except CopyTimeoutError:
            settled = True  # presumed lost: a cancel or a rollback would wait on it too
            raise
        finally:
            # A lost connection (consume_input raised) has nothing left to settle.
            if not settled and pgconn.status == pq.ConnStatus.OK:
                _abandon(raw, wait, guarded=guarded, copying=copying)
    if failed is not None:
        raise errors.error_from_result(failed, encoding=raw.info.encoding)
    if guarded:
        _savepoint_done(raw, f"RELEASE SAVEPOINT {SAVEPOINT}")


def _body(pgconn: Any, wait: Any, gather: int) -> Generator[bytearray, None, tuple[int, bytearray]]:
    """The row messages of a COPY in pieces, waiting on the socket whenever libpq holds no
    whole message; returns libpq's last answer (-1: the COPY ended, -2: it failed) and the
    last piece, shorter than ``gather``."""
    piece = bytearray()
    size, data = pgconn.get_copy_data(1)
    while size >= 0:
        if size:
            piece += data
            if len(piece) >= gather:
                yield piece
                piece = bytearray()
        else:
            wait()
        size, data = pgconn.get_copy_data(1)
    return int(size), piece


def _begin(raw: Any) -> str:
    parts = ["BEGIN"]
    if raw.isolation_level is not None:
        parts.append("ISOLATION LEVEL " + raw.isolation_level.name.replace("_", " "))
    if raw.read_only is not None:
        parts.append("READ ONLY" if raw.read_only else "READ WRITE")
    if raw.deferrable is not None:
        parts.append("DEFERRABLE" if raw.deferrable else "NOT DEFERRABLE")
    return " ".join(parts)


def _waiter(pgconn: Any, selector: selectors.BaseSelector, deadline: float | None) -> Any:
    def wait() -> None:
        """Until the server sends more, then take it in (the GIL is free meanwhile)."""
        _select(selector, deadline)
        pgconn.consume_input()

    return wait


def _select(selector: selectors.BaseSelector, deadline: float | None) -> None:
    if not selector.select(deadline) and deadline is not None:
        raise CopyTimeoutError(
            f"no answer from the server within {deadline:g} s (connection presumed lost)"
        )


def _send(
    pgconn: Any, command: bytes, selector: selectors.BaseSelector, deadline: float | None
) -> None:
    # psycopg runs libpq in non-blocking mode: a command is sent whole only once flush says so.
    pgconn.send_query(command)
    while pgconn.flush():
        selector.modify(pgconn.socket, selectors.EVENT_READ | selectors.EVENT_WRITE)
        _select(selector, deadline)
        pgconn.consume_input()
    selector.modify(pgconn.socket, selectors.EVENT_READ)


def _result(pgconn: Any, wait: Any) -> Any:
    """The next result of the command, waited for on the socket; None after the last."""
    while pgconn.is_busy():
        wait()
    return pgconn.get_result()


def _abandon(raw: Any, wait: Any, *, guarded: bool, copying: bool) -> None:
    """Leave a COPY before its end: a COPY still sending is cancelled on the server and its
    remaining messages read off; then its results (its error) are read and the savepoint
    rolled back (harmless if the COPY had finished before the cancel reached it)."""
    pgconn = raw.pgconn
    if copying:
        raw.cancel_safe()
        while (size := pgconn.get_copy_data(1)[0]) >= 0:
            if size == 0:
                wait()
    while _result(pgconn, wait) is not None:
        pass
    if guarded:
        _savepoint_done(raw, f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
        _savepoint_done(raw, f"RELEASE SAVEPOINT {SAVEPOINT}")


def _savepoint_done(raw: Any, command: str) -> None:
    # exec_ waits without the GIL (measured), unlike get_result.
    from psycopg import errors, pq

    result = raw.pgconn.exec_(command.encode())
    if result.status != pq.ExecStatus.COMMAND_OK:
        raise errors.error_from_result(result, encoding=raw.info.encoding)
