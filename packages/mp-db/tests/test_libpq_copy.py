"""The libpq COPY loop on a real server: other threads run while it waits, pieces come at the
size asked for, and the connection is settled after an error or an early close."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from mp_db._libpq_copy import CopyTimeoutError, copy_pieces

#: One row at once, then a half-second wait on the server, then the rest. Each row is wider
#: than the server's 8 kB output buffer, so the first is on the wire before the wait.
SLOW_COPY = (
    "COPY (SELECT repeat('x', 20000), CASE WHEN g = 2 THEN pg_sleep(0.5) END "
    "FROM generate_series(1, 3) g) TO STDOUT (FORMAT binary)"
)
SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


@pytest.fixture
def raw(engine: Engine) -> Iterator[Any]:
    connection = engine.raw_connection()
    try:
        yield connection.driver_connection
    finally:
        connection.close()


@pytest.mark.parametrize("guarded", [False, True], ids=["one-shot", "guarded"])
def test_other_threads_run_while_the_copy_waits(raw: Any, guarded: bool) -> None:
    # Blocking libpq calls kept the GIL for the whole wait: a ticking thread got one tick in.
    ticks = 0
    done = threading.Event()

    def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.005)

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        started = time.perf_counter()
        body = bytearray().join(copy_pieces(raw, SLOW_COPY, 1 << 20, guarded=guarded))
        waited = time.perf_counter() - started
    finally:
        done.set()
        ticker.join()
    assert waited >= 0.5
    assert ticks >= 20, f"{ticks} ticks of another thread in {waited:.2f} s"
    assert body.startswith(SIGNATURE)
    assert len(body) > 3 * 20000
    raw.rollback()


def test_pieces_are_at_least_the_size_asked_for(raw: Any) -> None:
    statement = (
        "COPY (SELECT g, repeat('y', 100) FROM generate_series(1, 5000) g) "
        "TO STDOUT (FORMAT binary)"
    )
    pieces = list(copy_pieces(raw, statement, 64 * 1024, guarded=False))
    whole = bytearray().join(pieces)
    assert len(pieces) > 2
    assert all(len(piece) >= 64 * 1024 for piece in pieces[:-1])
    assert len(pieces[-1]) < 64 * 1024 + 200
    one = list(copy_pieces(raw, statement, 1 << 30, guarded=False))
    assert len(one) == 1
    assert one[0] == whole
    raw.rollback()


def test_a_server_error_raises_and_the_connection_goes_on(raw: Any) -> None:
    raw.autocommit = True
    with pytest.raises(psycopg.errors.DivisionByZero):
        list(copy_pieces(raw, "COPY (SELECT 1 / 0) TO STDOUT", 1024, guarded=False))
    assert raw.execute("SELECT 41 + 1").fetchone() == (42,)


def test_closing_a_guarded_copy_early_keeps_the_transaction(raw: Any) -> None:
    raw.execute("CREATE TEMPORARY TABLE kept (n int)")
    raw.execute("INSERT INTO kept VALUES (7)")
    statement = "COPY (SELECT g FROM generate_series(1, 10000000) g) TO STDOUT (FORMAT binary)"
    with closing(copy_pieces(raw, statement, 64 * 1024, guarded=True)) as pieces:
        first = next(pieces)
    assert first.startswith(SIGNATURE)
    assert raw.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    assert raw.execute("SELECT n FROM kept").fetchall() == [(7,)]
    raw.rollback()


SETTING_COPY = "COPY (SELECT current_setting('enable_sort')) TO STDOUT"


def _setting(raw: Any) -> str:
    return str(raw.execute("SELECT current_setting('enable_sort')").fetchone()[0])


@pytest.mark.parametrize("guarded", [False, True], ids=["one-shot", "guarded"])
def test_planner_settings_hold_for_the_copy_alone(raw: Any, guarded: bool) -> None:
    # The caller's own transaction-local value comes back after the COPY, whichever it was.
    raw.execute("SET LOCAL enable_sort = off")
    pieces = copy_pieces(raw, SETTING_COPY, 1024, guarded=guarded, planner=(("enable_sort", "on"),))
    assert bytearray().join(pieces) == b"on\n"
    assert _setting(raw) == "off"
    raw.rollback()
    raw.autocommit = True
    pieces = copy_pieces(
        raw, SETTING_COPY, 1024, guarded=guarded, planner=(("enable_sort", "off"),)
    )
    assert bytearray().join(pieces) == b"off\n"
    assert _setting(raw) == "on"


def test_a_guarded_copy_closed_early_puts_the_planner_settings_back(raw: Any) -> None:
    statement = "COPY (SELECT g FROM generate_series(1, 10000000) g) TO STDOUT (FORMAT binary)"
    planner = (("enable_sort", "off"),)
    with closing(copy_pieces(raw, statement, 64 * 1024, guarded=True, planner=planner)) as pieces:
        next(pieces)
    assert _setting(raw) == "on"
    raw.rollback()


def test_closing_on_the_last_piece_settles_the_finished_copy(raw: Any) -> None:
    # The whole COPY fits one piece: the close comes after the server's end of the COPY.
    statement = "COPY (SELECT g FROM generate_series(1, 10) g) TO STDOUT (FORMAT binary)"
    planner = (("enable_sort", "off"),)
    with closing(copy_pieces(raw, statement, 1 << 20, guarded=True, planner=planner)) as pieces:
        assert next(pieces).startswith(SIGNATURE)
    assert raw.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    assert _setting(raw) == "on"
    assert raw.execute("SELECT 1").fetchone() == (1,)
    raw.rollback()


def test_a_silent_server_past_the_deadline_raises(engine: Engine) -> None:
    # The server is busy, not lost, here; the client cannot tell the two apart.
    connection = engine.raw_connection()
    try:
        started = time.perf_counter()
        with pytest.raises(CopyTimeoutError, match=r"within 0\.3 s"):
            list(
                copy_pieces(
                    connection.driver_connection, SLOW_COPY, 1 << 20, guarded=False, deadline=0.3
                )
            )
        assert time.perf_counter() - started < 0.5
    finally:
        connection.invalidate()
