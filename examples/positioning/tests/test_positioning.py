"""The positioning connector against a real, migrated database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from cot_example import SERIES, Positioning, read_reports, release
from mp_db import CatalogConflictError, Database

ROWS = 18


def test_holiday_weeks_release_late() -> None:
    """Friday 15:30 New York normally; the week of 4 July 2024 on Monday 8 July."""
    assert release(date(2024, 6, 25)) == date(2024, 6, 28)
    assert release(date(2024, 7, 2)) == date(2024, 7, 8)


def test_load_is_idempotent_and_registration_stable(
    positioning: Positioning, mp_db_client: Database
) -> None:
    """The first load stores every row; a second connector and load add nothing."""
    first = positioning.sync()
    assert (first.received, first.inserted) == (ROWS, ROWS)
    again = Positioning(mp_db_client)
    assert again.series == positioning.series
    assert again.sync().inserted == 0
    stored = again.series["COT_ES"]
    assert stored.release_timezone == "America/New_York"


def test_a_report_is_invisible_until_its_release(positioning: Positioning) -> None:
    """The 2 July report: not public on Friday 5 July (holiday week), public on Monday 19:30Z
    (15:30 EDT)."""
    positioning.sync()
    friday = positioning.net_speculative("ES", as_of=datetime(2024, 7, 5, 20, tzinfo=UTC))
    assert date(2024, 7, 2) not in friday
    assert friday[date(2024, 6, 25)] == 270555 - 321908
    monday = datetime(2024, 7, 8, 19, 30, tzinfo=UTC)
    before = positioning.net_speculative("ES", as_of=monday.replace(minute=29))
    assert date(2024, 7, 2) not in before
    after = positioning.net_speculative("ES", as_of=monday)
    assert after[date(2024, 7, 2)] == 281777 - 319540


def test_a_conflicting_definition_is_refused(
    positioning: Positioning, mp_db_client: Database
) -> None:
    """Registering COT_ES again as a daily series is a CatalogConflictError."""
    with pytest.raises(CatalogConflictError, match="frequency is 'weekly', not 'daily'"):
        mp_db_client.catalog.ensure_series([replace(SERIES["ES"], frequency="daily")])


def test_the_data_has_three_categories_per_report() -> None:
    """Every (market, Tuesday) has commercial, noncommercial and nonreportable rows."""
    reports = read_reports()
    keys = {(r["market"], r["report_date"]) for r in reports}
    for market, day in keys:
        categories = {
            r["category"] for r in reports if (r["market"], r["report_date"]) == (market, day)
        }
        assert categories == {"commercial", "noncommercial", "nonreportable"}
