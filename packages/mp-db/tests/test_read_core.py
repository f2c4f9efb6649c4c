"""The readers' sans-I/O core driven by a scripted transport, without a server.

Every read is steps that yield :class:`~mp_db._reads.Fetch` requests (see docs/sync-async.md);
here a test answers them, as httpx's MockTransport does. The real-server tests in
``test_reads.py`` and the reference suite check the same reads against PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from mp_config.steps import run
from mp_db import BadInputError, Cutoff, MacroObservationRow
from mp_db._arguments import BEGINNING
from mp_db._frame_reads import _FrameReads
from mp_db._planner import NO_RUNTIME_EXCLUSION
from mp_db._read_queries import LATEST_WINDOW
from mp_db._read_sql import CUTOFF_AT_SQL, CUTOFF_NOW_SQL
from mp_db._reads import Fetch, _Reads

WHEN = datetime(2024, 3, 1, tzinfo=UTC)
CORE = _Reads()


def _row(series_id: int, obs_day: int, value: float) -> tuple[Any, ...]:
    obs = datetime(2024, 1, obs_day, tzinfo=UTC)
    return (series_id, obs, obs, 0, "vendor", obs, 1, value)


class Script:
    """Answers each Fetch with the next scripted reply (rows, or an exception to raise)."""

    def __init__(self, *replies: Sequence[Any] | Exception) -> None:
        self.replies = list(replies)
        self.requests: list[Fetch] = []

    def __call__(self, request: Fetch) -> Sequence[Any]:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def test_cutoff_is_one_statement() -> None:
    """cutoff() asks for the newest commit and ingest and returns them as a Cutoff."""
    script = Script([(12, 34)])
    assert run(CORE._cutoff(), script) == Cutoff(12, 34)
    assert [request.sql for request in script.requests] == [CUTOFF_NOW_SQL]


def test_latest_binds_arguments_and_types_rows() -> None:
    """latest() binds the series and as_of, and turns the fetched rows into row objects."""
    script = Script([_row(7, 2, 1.5), _row(7, 2, 2.5)])
    rows = run(CORE._latest(MacroObservationRow, 7, as_of=WHEN), script)
    assert [row.value for row in rows] == [1.5, 2.5]
    assert all(isinstance(row, MacroObservationRow) for row in rows)
    (request,) = script.requests
    assert request.parameters["as_of"] == WHEN
    assert request.parameters["series_ids"] == [7]


def test_as_of_reverses_the_index_order() -> None:
    """as_of() fetches newest first (no Sort node) and answers in time order."""
    script = Script([_row(3, 5, 5.0), _row(3, 1, 1.0)])
    rows = run(CORE._as_of(MacroObservationRow, 3, as_of=WHEN), script)
    assert [row.value for row in rows] == [1.0, 5.0]


def test_latest_looks_in_the_year_before_t_first() -> None:
    """The latest print is bounded below by LATEST_WINDOW: answered there for every series,
    it is one statement, which needs no transaction on a connection of its own."""
    script = Script([_row(1, 2, 1.0), _row(2, 3, 2.0)])
    rows = run(CORE._latest(MacroObservationRow, [2, 1], as_of=WHEN), script)
    assert [row.series_id for row in rows] == [1, 2]
    (request,) = script.requests
    assert request.bounded
    assert request.only
    assert request.parameters["since"] == WHEN - LATEST_WINDOW


def test_latest_of_a_series_before_the_window_reads_all_time() -> None:
    """A series with nothing in the window: the same statement over all time answers the whole
    read (one statement, one snapshot), and only its rows make the answer."""
    script = Script([_row(1, 2, 1.0)], [_row(1, 2, 1.0), _row(2, 1, 9.0)])
    rows = run(CORE._latest(MacroObservationRow, [1, 2], as_of=WHEN), script)
    assert [(row.series_id, row.value) for row in rows] == [(1, 1.0), (2, 9.0)]
    first, second = script.requests
    assert second.sql == first.sql
    assert second.parameters == {**first.parameters, "since": BEGINNING}
    assert not second.bounded
    assert second.only


def test_replay_datetime_resolves_the_cutoff_first() -> None:
    """A datetime ingested_before is turned into cutoff parameters before the read runs."""
    script = Script([(40, 41)], [], [])
    assert (
        run(CORE._latest("macro_observations", [1, 2], as_of=WHEN, ingested_before=WHEN), script)
        == []
    )
    first, second, third = script.requests
    assert first.sql == CUTOFF_AT_SQL
    assert first.parameters == {"cutoff_time": WHEN}
    for later in (second, third):
        assert (later.parameters["cutoff_commit"], later.parameters["cutoff_ingest"]) == (40, 41)
    assert third.parameters["since"] == BEGINNING


def test_bad_input_is_refused_before_any_request() -> None:
    """A naive datetime is a BadInputError and nothing is asked of the server."""
    script = Script()
    with pytest.raises(BadInputError):
        run(CORE._latest("macro_observations", 1, as_of=datetime(2024, 1, 1)), script)
    assert script.requests == []


def test_empty_backtest_asks_nothing() -> None:
    """A backtest without decision times answers [] without a statement."""
    script = Script()
    assert run(CORE._backtest("macro_observations", [1], []), script) == []
    assert script.requests == []


def test_a_transport_error_reaches_the_caller() -> None:
    """An error the transport raises is thrown into the core and propagates unchanged."""
    script = Script(ConnectionResetError("gone"))
    with pytest.raises(ConnectionResetError, match="gone"):
        run(CORE._vintage_dates("macro_observations", 1), script)


def test_vintage_dates_shapes_by_argument() -> None:
    """One id gives a list; several give a dict with every requested id."""
    moment = datetime(2024, 2, 1, tzinfo=UTC)
    assert run(CORE._vintage_dates("macro_observations", 4), Script([(4, moment)])) == [moment]
    many = run(CORE._vintage_dates("macro_observations", [4, 5]), Script([(4, moment)]))
    assert many == {4: [moment], 5: []}


def test_a_read_fetch_carries_its_columns_and_planner_settings() -> None:
    """The read's Fetch names its columns (what a frame driver fetches by COPY) and planner
    settings (the backtest's); the cutoff of a replay datetime carries neither."""
    script = Script([(40, 41)], [])
    assert (
        run(CORE._backtest("macro_observations", [1], [WHEN], ingested_before=WHEN), script) == []
    )
    cutoff, read = script.requests
    assert (cutoff.columnar, cutoff.planner) == (None, ())
    assert read.planner == NO_RUNTIME_EXCLUSION
    assert read.columnar is not None
    names = [column.name for column in read.columnar.columns]
    assert names[:3] == ["decision_time", "series_id", "obs_time"]


def test_a_frame_reader_asks_even_an_empty_backtest() -> None:
    """Rows of an empty backtest need no statement; a frame reader's core still asks, for the
    empty table's columns."""
    script = Script([])
    assert run(_FrameReads()._backtest("macro_observations", [1], []), script) == []
    (request,) = script.requests
    assert request.columnar is not None
    assert request.parameters["decision_times"] == []
