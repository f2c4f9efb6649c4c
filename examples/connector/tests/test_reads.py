"""Reading the data set back as of a time: the answers a backtest would have seen."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from fred_example import Connector, read_vintages
from mp_db import BadInputError

CPI_FEBRUARY_RELEASE = datetime(2024, 3, 12, 12, 30, tzinfo=UTC)  # 08:30 EDT
PAYROLLS_FEBRUARY_RELEASE = datetime(2024, 3, 8, 13, 30, tzinfo=UTC)  # 08:30 EST
SECOND = timedelta(seconds=1)


def test_latest_cpi_print_known_on_the_morning_of_a_release(connector: Connector) -> None:
    """At 2024-03-12 13:00Z the latest CPI print is February's, released at 12:30Z."""
    connector.sync()
    found = connector.latest_print("CPIAUCSL", as_of=datetime(2024, 3, 12, 13, tzinfo=UTC))
    assert found is not None
    assert (found.period, found.value, found.revision) == (date(2024, 2, 1), 310.326, 0)
    assert found.knowledge_time == CPI_FEBRUARY_RELEASE


def test_just_before_a_release_the_earlier_value_is_returned(connector: Connector) -> None:
    """One second before 12:30Z the newest CPI known is January's; at 12:30Z it is February's."""
    connector.sync()
    before = connector.latest_print("CPIAUCSL", as_of=CPI_FEBRUARY_RELEASE - SECOND)
    at = connector.latest_print("CPIAUCSL", as_of=CPI_FEBRUARY_RELEASE)
    assert before is not None
    assert at is not None
    assert (before.period, before.value) == (date(2024, 1, 1), 309.685)
    assert (at.period, at.value) == (date(2024, 2, 1), 310.326)


def test_a_release_in_winter_is_at_13_30_utc(connector: Connector) -> None:
    """The payrolls report of 2024-03-08 (before DST began) is unknown at 12:30Z, known at
    13:30Z: a fixed summer offset would have leaked it an hour early."""
    connector.sync()
    early = connector.latest_print("PAYEMS", as_of=datetime(2024, 3, 8, 12, 30, tzinfo=UTC))
    on_time = connector.latest_print("PAYEMS", as_of=PAYROLLS_FEBRUARY_RELEASE)
    assert early is not None
    assert on_time is not None
    assert early.period == date(2024, 1, 1)
    assert (on_time.period, on_time.value) == (date(2024, 2, 1), 158015.0)


def test_a_revision_is_seen_only_from_its_release(connector: Connector) -> None:
    """August 2023 payrolls: the first print until 2023-10-06 12:30Z, the revision from then."""
    connector.sync()
    august = {"start": datetime(2023, 8, 1, tzinfo=UTC), "end": datetime(2023, 9, 1, tzinfo=UTC)}
    revised_at = datetime(2023, 10, 6, 12, 30, tzinfo=UTC)
    (before,) = connector.as_of("PAYEMS", as_of=revised_at - SECOND, **august)
    (after,) = connector.as_of("PAYEMS", as_of=revised_at, **august)
    assert (before.value, before.revision) == (156564.0, 0)
    assert (after.value, after.revision) == (156620.0, 1)


def test_first_release_reads_ignore_later_revisions(connector: Connector) -> None:
    """first_release gives each month's first print, whatever came after."""
    connector.sync()
    first = connector.first_release("PAYEMS")
    assert len(first) == 12
    assert all(found.revision == 0 for found in first)
    expected: dict[date, tuple[date, float]] = {}
    for vintage in read_vintages():
        if vintage.code == "PAYEMS":
            earliest = expected.get(vintage.period)
            if earliest is None or vintage.released < earliest[0]:
                expected[vintage.period] = (vintage.released, vintage.value)
    assert {found.period: found.value for found in first} == {
        period: value for period, (_, value) in expected.items()
    }


def test_a_later_revision_does_not_change_an_earlier_answer(connector: Connector) -> None:
    """What was known on 2023-09-15 stays the same after the later revisions are ingested."""
    vintages = read_vintages()
    connector.sync([vintage for vintage in vintages if vintage.released <= date(2023, 9, 30)])
    decision = datetime(2023, 9, 15, tzinfo=UTC)
    before = connector.as_of("PAYEMS", as_of=decision)
    connector.sync(vintages)
    after = connector.as_of("PAYEMS", as_of=decision)
    assert after == before
    assert [found.period for found in after] == [date(2023, 7, 1), date(2023, 8, 1)]
    today = connector.as_of("PAYEMS", as_of=datetime(2025, 1, 1, tzinfo=UTC))
    assert today[1].value != after[1].value  # August 2023 was revised since


def test_nothing_is_known_before_the_first_release(connector: Connector) -> None:
    """Before the first CPI release of the data set there is no latest print."""
    connector.sync()
    assert connector.latest_print("CPIAUCSL", as_of=datetime(2023, 8, 10, tzinfo=UTC)) is None


def test_a_naive_time_is_refused(connector: Connector) -> None:
    """A datetime without a time zone is ambiguous, so mp-db refuses it."""
    connector.sync()
    with pytest.raises(BadInputError, match="timezone-aware"):
        connector.latest_print("CPIAUCSL", as_of=datetime(2024, 3, 12, 13))
