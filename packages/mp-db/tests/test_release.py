"""Release times: local clock time in the series' zone on a business day, as a UTC instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from mp_config import PostgresSettings
from mp_db import (
    BadInputError,
    BusinessCalendar,
    Database,
    HolidayCalendar,
    SeriesSpec,
    SourceSpec,
    Weekdays,
    add_business_days,
    next_business_day,
    release_knowledge_time,
    series_knowledge_time,
)

NYSE = HolidayCalendar(market="NYSE")


def test_dst_is_taken_from_the_zone_not_a_fixed_offset() -> None:
    """08:30 New York is 13:30Z in January and 12:30Z in July; 15:30 Friday too."""
    winter = release_knowledge_time(date(2024, 1, 11), time(8, 30), "America/New_York")
    summer = release_knowledge_time(date(2024, 7, 11), time(8, 30), "America/New_York")
    assert winter == datetime(2024, 1, 11, 13, 30, tzinfo=UTC)
    assert summer == datetime(2024, 7, 11, 12, 30, tzinfo=UTC)
    assert winter.tzinfo is UTC
    # The US changed clocks on 10 March, the UK on 31 March: that week New York is 4 hours
    # behind London, not 5, so 08:30 New York and 12:30 London are the same instant.
    london = release_knowledge_time(date(2024, 3, 12), time(12, 30), "Europe/London")
    new_york = release_knowledge_time(date(2024, 3, 12), time(8, 30), "America/New_York")
    assert (london - new_york).total_seconds() == 0


def test_holidays_move_a_release_to_the_next_business_day() -> None:
    """With the NYSE calendar: 4 July 2024 (Thursday) moves to Friday 5 July; a Saturday to
    Monday; Good Friday 2024 to Monday 1 April; a business day stays."""
    assert next_business_day(date(2024, 7, 4), NYSE) == date(2024, 7, 5)
    assert next_business_day(date(2024, 7, 6), NYSE) == date(2024, 7, 8)
    assert next_business_day(date(2024, 3, 29), NYSE) == date(2024, 4, 1)
    assert next_business_day(date(2024, 7, 9), NYSE) == date(2024, 7, 9)
    assert next_business_day(date(2024, 7, 9), NYSE, after=True) == date(2024, 7, 10)
    assert NYSE.holiday(date(2024, 11, 28)) == "Thanksgiving Day"
    moved = release_knowledge_time(
        date(2024, 7, 4), time(15, 30), "America/New_York", calendar=NYSE
    )
    assert moved == datetime(2024, 7, 5, 19, 30, tzinfo=UTC)
    # Veterans Day is a federal holiday but the NYSE is open.
    assert NYSE.is_business_day(date(2024, 11, 11))
    assert not HolidayCalendar("US").is_business_day(date(2024, 11, 11))


def test_business_day_arithmetic() -> None:
    """Two business days after Wednesday 3 July 2024 (NYSE) is Monday 8 July."""
    assert add_business_days(date(2024, 7, 3), 2, NYSE) == date(2024, 7, 8)
    assert add_business_days(date(2024, 7, 6), 0, Weekdays()) == date(2024, 7, 8)
    assert Weekdays(weekend=[4, 5]).is_business_day(date(2024, 7, 7))  # a Sunday


def test_a_connector_supplies_its_own_calendar() -> None:
    """Any object with is_business_day is a calendar (the Protocol)."""

    class Announced:
        def __init__(self, days: set[date]) -> None:
            self.days = days

        def is_business_day(self, day: date) -> bool:
            return day in self.days

    calendar = Announced({date(2024, 2, 13), date(2024, 3, 12)})
    assert isinstance(calendar, BusinessCalendar)
    assert next_business_day(date(2024, 2, 1), calendar) == date(2024, 2, 13)
    never = Announced(set())
    with pytest.raises(BadInputError, match="no business day"):
        next_business_day(date(2024, 2, 1), never)


def test_bad_arguments_are_clear() -> None:
    """A datetime for the date, an aware clock time, an unknown zone or market: BadInputError."""
    with pytest.raises(BadInputError, match=r"a datetime\.date"):
        release_knowledge_time(datetime(2024, 1, 1, tzinfo=UTC), time(8, 30), "UTC")
    with pytest.raises(BadInputError, match="carries a time zone"):
        release_knowledge_time(date(2024, 1, 1), time(8, 30, tzinfo=UTC), "UTC")
    with pytest.raises(BadInputError, match="not an IANA time zone"):
        release_knowledge_time(date(2024, 1, 1), time(8, 30), "New York")
    with pytest.raises(BadInputError, match="no calendar for 'NOPE'"):
        HolidayCalendar(market="NOPE")
    with pytest.raises(BadInputError, match="exactly one"):
        HolidayCalendar()


def test_series_knowledge_time_uses_the_registered_release(
    mp_pg_settings: PostgresSettings,
) -> None:
    """From the series row: release_time and release_timezone as registered."""
    with Database(mp_pg_settings) as db:
        db.catalog.ensure_sources(
            [
                SourceSpec(
                    code="bls",
                    name="BLS",
                    source_type="statistics_office",
                    vintage_capability="full",
                )
            ]
        )
        db.catalog.ensure_series(
            [
                SeriesSpec(
                    source="bls",
                    source_code="CPI",
                    kind="macro",
                    name="CPI",
                    frequency="monthly",
                    release_time=time(8, 30),
                    release_timezone="America/New_York",
                ),
                SeriesSpec(
                    source="bls",
                    source_code="BARE",
                    kind="macro",
                    name="no time",
                    frequency="monthly",
                ),
            ]
        )
        found = db.catalog.series("bls", ["CPI", "BARE"])
    assert series_knowledge_time(found["CPI"], date(2024, 3, 12)) == datetime(
        2024, 3, 12, 12, 30, tzinfo=UTC
    )
    with pytest.raises(BadInputError, match="has no release_time"):
        series_knowledge_time(found["BARE"], date(2024, 3, 12))
