"""The database itself refuses rows that break point-in-time rules, naming the constraint."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SeriesMaker
from psycopg import errors

GOOD = {"obs": "2024-03-01 00:00+00", "known": "2024-04-10 12:30+00"}
INSERT_MACRO = (
    "INSERT INTO mp.macro_observations (series_id, obs_time, knowledge_time, value,"
    " knowledge_time_source) VALUES (%s, %s, %s, %s, 'vendor')"
)

pytestmark = pytest.mark.scenario("bad_inputs")


def test_a_valid_row_is_accepted(db: Any, make_series: SeriesMaker) -> None:
    """The reference row used below is itself valid."""
    series_id = make_series()
    db.execute(INSERT_MACRO, (series_id, GOOD["obs"], GOOD["known"], 312.2))
    assert db.execute("SELECT count(*) FROM mp.macro_observations").fetchone() == (1,)


def test_naive_timestamp_in_another_session_zone_is_refused(
    db: Any, make_series: SeriesMaker
) -> None:
    """'2024-03-01 00:00' without a zone, in a New York session, is not midnight UTC."""
    series_id = make_series()
    db.execute("SET TIME ZONE 'America/New_York'")
    with pytest.raises(errors.CheckViolation, match="ck_macro_observations_obs_time_midnight_utc"):
        db.execute(INSERT_MACRO, (series_id, "2024-03-01 00:00", GOOD["known"], 1.0))


def test_non_midnight_obs_time_is_refused(db: Any, make_series: SeriesMaker) -> None:
    """Daily-or-slower data is dated at 00:00 UTC; 12:00 UTC is refused."""
    series_id = make_series()
    with pytest.raises(errors.CheckViolation, match="ck_macro_observations_obs_time_midnight_utc"):
        db.execute(INSERT_MACRO, (series_id, "2024-03-01 12:00+00", GOOD["known"], 1.0))


def test_knowledge_before_obs_is_refused(db: Any, make_series: SeriesMaker) -> None:
    """A value cannot be known before the period it is about starts."""
    series_id = make_series()
    with pytest.raises(errors.CheckViolation, match="ck_macro_observations_knowledge_after_obs"):
        db.execute(INSERT_MACRO, (series_id, GOOD["obs"], "2024-02-28 00:00+00", 1.0))


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_values_are_refused(db: Any, make_series: SeriesMaker, value: str) -> None:
    """NaN and infinities, which float columns would otherwise accept, are refused."""
    series_id = make_series()
    with pytest.raises(errors.CheckViolation, match="ck_macro_observations_value_finite"):
        db.execute(INSERT_MACRO, (series_id, GOOD["obs"], GOOD["known"], float(value)))


def test_unknown_series_is_refused(db: Any) -> None:
    """A series id that does not exist is refused by the table's series trigger, naming the
    series and the table (there is no per-row foreign key; see test_series_guard.py)."""
    with pytest.raises(
        errors.ForeignKeyViolation,
        match=r"no series has series_id 999999 \(a row for mp\.macro_observations\)",
    ):
        db.execute(INSERT_MACRO, (999_999, GOOD["obs"], GOOD["known"], 1.0))


def test_same_version_twice_is_a_duplicate_key(db: Any, make_series: SeriesMaker) -> None:
    """One row per (series, period, knowledge time): a second copy violates the key."""
    series_id = make_series()
    db.execute(INSERT_MACRO, (series_id, GOOD["obs"], GOOD["known"], 1.0))
    with pytest.raises(errors.UniqueViolation, match="pk_macro_observations"):
        db.execute(INSERT_MACRO, (series_id, GOOD["obs"], GOOD["known"], 2.0))


def test_release_calendar_may_know_before_the_period(db: Any, make_series: SeriesMaker) -> None:
    """Consensus for March is known in February: allowed in release_calendar only."""
    series_id = make_series(kind="release", code="CPI_RELEASE")
    db.execute(
        "INSERT INTO mp.release_calendar (series_id, obs_time, knowledge_time, scheduled_at,"
        " status, consensus, knowledge_time_source) VALUES (%s, '2024-03-01 00:00+00',"
        " '2024-02-20 00:00+00', '2024-04-10 12:30+00', 'scheduled', 0.3, 'calendar')",
        (series_id,),
    )
    assert db.execute("SELECT count(*) FROM mp.release_calendar").fetchone() == (1,)


def test_signals_may_be_timed(db: Any, make_series: SeriesMaker) -> None:
    """signal_values is not dated: an intraday obs_time is fine there."""
    series_id = make_series(kind="signal", frequency="intraday", code="MOMENTUM")
    db.execute(
        "INSERT INTO mp.signal_values (series_id, obs_time, knowledge_time, value,"
        " knowledge_time_source) VALUES (%s, '2024-03-01 14:35+00', '2024-03-01 14:35:01+00',"
        " 0.7, 'captured')",
        (series_id,),
    )
    assert db.execute("SELECT instrument_id FROM mp.signal_values").fetchone() == (0,)


@pytest.mark.parametrize(
    ("columns", "constraint"),
    [
        ("high, low", "ck_market_bars_high_not_below_low"),
        ("volume", "ck_market_bars_volume_non_negative"),
    ],
)
def test_market_bar_sanity(
    db: Any, make_series: SeriesMaker, columns: str, constraint: str
) -> None:
    """Bars with high below low, or negative volume, are refused."""
    series_id = make_series(kind="market_bar", frequency="business_daily", code="ES")
    values = {"high, low": (1.0, 2.0), "volume": (-5.0,)}[columns]
    placeholders = ", ".join(["%s"] * len(values))
    with pytest.raises(errors.CheckViolation, match=constraint):
        db.execute(
            f"INSERT INTO mp.market_bars (series_id, obs_time, knowledge_time, close, {columns},"  # noqa: S608 - test constants
            f" knowledge_time_source) VALUES (%s, '2024-03-01 00:00+00',"
            f" '2024-03-01 22:00+00', 1.5, {placeholders}, 'vendor')",
            (series_id, *values),
        )


def test_bad_tenor_is_refused(db: Any, make_series: SeriesMaker) -> None:
    """Curve tenors are codes like 3M or 10Y; free text is refused."""
    series_id = make_series(kind="curve", frequency="business_daily", code="UST")
    with pytest.raises(errors.CheckViolation, match="ck_curve_points_tenor_format"):
        db.execute(
            "INSERT INTO mp.curve_points (series_id, obs_time, tenor, knowledge_time, value,"
            " knowledge_time_source) VALUES (%s, '2024-03-01 00:00+00', '10YRS',"
            " '2024-03-01 22:00+00', 4.2, 'vendor')",
            (series_id,),
        )
