"""The data set and its conversion to rows: no database needed."""

from __future__ import annotations

import doctest
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import fred_example._vintages
from fred_example import SERIES, Vintage, read_vintages, release_instant, to_rows


def test_the_data_set_has_three_monthly_series_over_twelve_months() -> None:
    """Every registered series is in the file, each with the same twelve months."""
    vintages = read_vintages()
    assert {vintage.code for vintage in vintages} == {info.source_code for info in SERIES}
    for info in SERIES:
        periods = {vintage.period for vintage in vintages if vintage.code == info.source_code}
        assert len(periods) == 12
        assert all(period.day == 1 for period in periods)


def test_every_month_is_revised_at_least_once() -> None:
    """Each (series, month) has a first print and at least one later publication."""
    vintages = read_vintages()
    for info in SERIES:
        for period in {vintage.period for vintage in vintages if vintage.code == info.source_code}:
            releases = [
                v.released for v in vintages if (v.code, v.period) == (info.source_code, period)
            ]
            assert len(releases) >= 2
            assert len(set(releases)) == len(releases)
            assert min(releases) > period


def test_releases_are_at_half_past_eight_in_new_york() -> None:
    """Every knowledge_time is 08:30 New York time, whatever its UTC offset."""
    new_york = ZoneInfo("America/New_York")
    for vintage in read_vintages():
        local = release_instant(vintage.released).astimezone(new_york)
        assert (local.hour, local.minute) == (8, 30)
        assert local.date() == vintage.released


def test_daylight_saving_time_moves_the_utc_release_time() -> None:
    """08:30 in New York is 13:30Z in winter and 12:30Z in summer (DST began 2024-03-10)."""
    assert release_instant(date(2024, 3, 8)) == datetime(2024, 3, 8, 13, 30, tzinfo=UTC)
    assert release_instant(date(2024, 3, 12)) == datetime(2024, 3, 12, 12, 30, tzinfo=UTC)
    # DST ended on 2023-11-05: the payrolls report of the 3rd was still at 12:30Z.
    assert release_instant(date(2023, 11, 3)) == datetime(2023, 11, 3, 12, 30, tzinfo=UTC)
    assert release_instant(date(2023, 11, 14)) == datetime(2023, 11, 14, 13, 30, tzinfo=UTC)


def test_rows_carry_the_three_clocks_in_utc() -> None:
    """obs_time is the month at 00:00 UTC, knowledge_time the release instant, source vendor."""
    vintage = Vintage("CPIAUCSL", date(2024, 2, 1), date(2024, 3, 12), 310.326)
    (row,) = to_rows([vintage], {"CPIAUCSL": 7})
    assert row == {
        "series_id": 7,
        "obs_time": datetime(2024, 2, 1, tzinfo=UTC),
        "knowledge_time": datetime(2024, 3, 12, 12, 30, tzinfo=UTC),
        "value": 310.326,
        "knowledge_time_source": "vendor",
    }
    assert row["obs_time"].utcoffset() == timedelta(0)


def test_the_module_examples_run() -> None:
    """The examples in the vintages module's docstrings are correct."""
    result = doctest.testmod(fred_example._vintages, raise_on_error=False)
    assert result.attempted >= 2
    assert result.failed == 0
