"""Release times: the UTC ``knowledge_time`` of a release from what the series row holds.

A series stores ``release_time`` (a local clock time, 08:30) and ``release_timezone`` (an IANA
name, ``America/New_York``). The instant of a release on a local date is that clock time in that
zone on that date, converted with :mod:`zoneinfo` (never a fixed offset: 08:30 New York is 13:30Z
in winter and 12:30Z in summer). When the scheduled date is not a business day of the
publisher's calendar, the release moves to the next business day.

Calendars are anything with ``is_business_day(day) -> bool`` (:class:`BusinessCalendar`):
:class:`Weekdays` (weekends only), :class:`HolidayCalendar` (weekends plus the public or market
holidays of the maintained ``holidays`` library, the ``calendars`` extra), or a connector's own
class, e.g. one that reads the publisher's announced release dates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mp_db._catalog import SeriesRecord
from mp_db.exceptions import BadInputError, ConfigurationError

__all__ = [
    "BusinessCalendar",
    "HolidayCalendar",
    "Weekdays",
    "add_business_days",
    "next_business_day",
    "release_knowledge_time",
    "series_knowledge_time",
]

# Far more than any run of holidays: a calendar that never opens is a bug, not a long weekend.
_MAX_CLOSED_DAYS = 31


@runtime_checkable
class BusinessCalendar(Protocol):
    """Which days a publisher releases on. Supply your own by defining this one method::

    class AnnouncedDates:
        def __init__(self, days: set[date]) -> None:
            self.days = days

        def is_business_day(self, day: date) -> bool:
            return day in self.days
    """

    def is_business_day(self, day: date) -> bool:
        """True when the publisher works on ``day`` (a local date)."""
        ...


class Weekdays:
    """Monday to Friday, no holidays (or other weekend days)."""

    def __init__(self, weekend: Iterable[int] = (5, 6)) -> None:
        self.weekend = frozenset(weekend)

    def is_business_day(self, day: date) -> bool:
        """True unless ``day`` falls on a weekend day."""
        return day.weekday() not in self.weekend

    def __repr__(self) -> str:
        return f"Weekdays(weekend={sorted(self.weekend)})"


class HolidayCalendar:
    """Weekends plus the holidays of the ``holidays`` library (``pip install 'mp-db[calendars]'``).

    Args:
        country: an ISO 3166 country code for public holidays (``"US"``, ``"DE"``).
        subdiv: a subdivision of it (``"NY"``), optional.
        market: a financial market instead of a country (``"NYSE"``, ``"ECB"`` for TARGET2).
        weekend: weekday numbers that are closed (Monday is 0).

    Example:
        >>> HolidayCalendar(market="NYSE").is_business_day(date(2024, 7, 4))  # doctest: +SKIP
        False
    """

    def __init__(
        self,
        country: str | None = None,
        *,
        subdiv: str | None = None,
        market: str | None = None,
        weekend: Iterable[int] = (5, 6),
    ) -> None:
        if (country is None) == (market is None):
            raise BadInputError("HolidayCalendar needs exactly one of country= or market=")
        try:
            import holidays
        except ImportError as error:  # pragma: no cover - the test extra installs it
            raise ConfigurationError(
                "HolidayCalendar needs the holidays library: pip install 'mp-db[calendars]'"
            ) from error
        try:
            self._holidays: Any = (
                holidays.financial_holidays(market)
                if market is not None
                else holidays.country_holidays(str(country), subdiv=subdiv)
            )
        except NotImplementedError as error:
            raise BadInputError(
                f"the holidays library has no calendar for {market or country!r}"
                + (f" / {subdiv!r}" if subdiv else "")
                + " (see holidays.list_supported_countries() and list_supported_financial())"
            ) from error
        self.weekend = frozenset(weekend)
        self.name = market or (f"{country}-{subdiv}" if subdiv else str(country))

    def is_business_day(self, day: date) -> bool:
        """True unless ``day`` is a weekend day or a holiday."""
        return day.weekday() not in self.weekend and day not in self._holidays

    def holiday(self, day: date) -> str | None:
        """The holiday's name on ``day``, if any."""
        name = self._holidays.get(day)
        return None if name is None else str(name)

    def __repr__(self) -> str:
        return f"HolidayCalendar({self.name!r})"


def _local_date(day: date) -> date:
    if isinstance(day, datetime):
        raise BadInputError(f"{day!r} is a datetime: pass the local release date (a datetime.date)")
    return day


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise BadInputError(
            f"{name!r} is not an IANA time zone (e.g. America/New_York); fix the series'"
            " release_timezone"
        ) from error


def next_business_day(day: date, calendar: BusinessCalendar, *, after: bool = False) -> date:
    """``day`` itself when it is a business day, else the next one (``after=True``: strictly
    after ``day``)."""
    candidate = _local_date(day) + timedelta(days=1 if after else 0)
    for _ in range(_MAX_CLOSED_DAYS):
        if calendar.is_business_day(candidate):
            return candidate
        candidate += timedelta(days=1)
    raise BadInputError(
        f"{calendar!r} has no business day in the {_MAX_CLOSED_DAYS} days from {day}"
    )


def add_business_days(day: date, count: int, calendar: BusinessCalendar) -> date:
    """The ``count``-th business day after ``day`` (``count=0``: :func:`next_business_day`)."""
    result = next_business_day(day, calendar)
    for _ in range(count):
        result = next_business_day(result, calendar, after=True)
    return result


def release_knowledge_time(
    day: date,
    release_time: time,
    timezone: str,
    *,
    calendar: BusinessCalendar | None = None,
) -> datetime:
    """The UTC instant of a release scheduled at ``release_time`` local time on ``day``.

    Args:
        day: the scheduled local date of the release.
        release_time: the local clock time (naive; it is read in ``timezone``).
        timezone: an IANA zone name.
        calendar: when given, a ``day`` that is not a business day moves to the next one.

    A clock time that a DST change skips (02:30 on the spring-forward night) is read with the
    offset in force before the change, as :mod:`zoneinfo` does; one that occurs twice is the
    first occurrence.
    """
    local = _local_date(day)
    if calendar is not None:
        local = next_business_day(local, calendar)
    if release_time.tzinfo is not None:
        raise BadInputError(
            f"release_time {release_time!r} carries a time zone: give the local clock time and"
            " the zone name separately"
        )
    return datetime.combine(local, release_time, tzinfo=_zone(timezone)).astimezone(UTC)


def series_knowledge_time(
    series: SeriesRecord, day: date, *, calendar: BusinessCalendar | None = None
) -> datetime:
    """:func:`release_knowledge_time` with the series' own ``release_time`` and zone.

    Raises:
        BadInputError: the series has no release time or zone registered.
    """
    if series.release_time is None or series.release_timezone is None:
        raise BadInputError(
            f"series {series.source}/{series.source_code} has no release_time and"
            " release_timezone: register them with catalog.ensure_series(..., update=True)"
        )
    return release_knowledge_time(
        day, series.release_time, series.release_timezone, calendar=calendar
    )
