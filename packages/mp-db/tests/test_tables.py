"""Every fact table ingests and reads back through the same API."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SeriesMaker, utc
from sqlalchemy import Engine

from mp_db import ROW_TYPES, IngestValidationError, Reader, ingest

T0, T1 = utc(2024, 3, 4, 22), utc(2024, 3, 6, 22)
ROWS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "macro_observations": ("macro", {"value": 1.0}, {"value": 1.5}),
    "market_bars": (
        "market_bar",
        {"open": 10.0, "high": 11.0, "low": 9.5, "close": 10.5, "volume": 1000.0},
        {"close": 10.6},
    ),
    "curve_points": ("curve", {"tenor": "10Y", "value": 4.2}, {"tenor": "10Y", "value": 4.25}),
    "rate_fixings": ("rate_fixing", {"value": 5.31}, {"value": 5.32}),
    "release_calendar": (
        "release",
        {"scheduled_at": utc(2024, 4, 10, 12, 30), "status": "scheduled", "consensus": 0.3},
        {
            "scheduled_at": utc(2024, 4, 10, 12, 30),
            "status": "released",
            "consensus": 0.3,
            "actual": 0.4,
        },
    ),
    "positioning_flows": (
        "positioning",
        {"category": "managed_money", "long_positions": 5.0, "short_positions": 3.0},
        {"category": "managed_money", "long_positions": 6.0, "short_positions": 3.0},
    ),
    "signal_values": (
        "signal",
        {"instrument_id": 0, "value": 0.7},
        {"instrument_id": 0, "value": 0.8},
    ),
}


@pytest.mark.parametrize("table", list(ROWS))
def test_round_trip(engine: Engine, make_series: SeriesMaker, reader: Reader, table: str) -> None:
    """A first print and a revision go in; as-of, latest and vintages give them back."""
    kind, first, revised = ROWS[table]
    series = make_series(kind, frequency="daily")
    obs = utc(2024, 3, 4)
    report = ingest(
        engine,
        table,
        [
            {"series_id": series, "obs_time": obs, "knowledge_time": T0, **first},
            {"series_id": series, "obs_time": obs, "knowledge_time": T1, **revised},
        ],
    )
    assert (report.inserted, report.revisions) == (2, 1)
    row_type = ROW_TYPES[table]
    before = reader.as_of(table, series, as_of=utc(2024, 3, 5))
    after = reader.latest(table, series, as_of=utc(2024, 3, 7))
    assert [type(row) for row in before + after] == [row_type, row_type]
    for key, value in first.items():
        assert getattr(before[0], key) == value
    for key, value in revised.items():
        assert getattr(after[0], key) == value
    assert len(reader.vintages(table, series)) == 2


@pytest.mark.scenario("bad_inputs")
def test_market_bar_rules(engine: Engine, make_series: SeriesMaker) -> None:
    """A bar with no price, high below low or negative volume is refused by code."""
    series = make_series("market_bar", frequency="business_daily")
    base = {"series_id": series, "obs_time": utc(2024, 3, 4), "knowledge_time": T0}
    with pytest.raises(IngestValidationError) as caught:
        ingest(
            engine,
            "market_bars",
            [
                {**base, "volume": 5.0},
                {
                    **base,
                    "obs_time": utc(2024, 3, 5),
                    "knowledge_time": T1,
                    "high": 1.0,
                    "low": 2.0,
                },
                {
                    **base,
                    "obs_time": utc(2024, 3, 6),
                    "knowledge_time": utc(2024, 3, 7),
                    "close": 1.0,
                    "volume": -1.0,
                },
            ],
        )
    assert caught.value.codes == {"no_price", "high_below_low", "negative"}


def test_signals_may_be_timed_and_per_instrument(
    engine: Engine, make_series: SeriesMaker, reader: Reader
) -> None:
    """Signals accept intraday obs_time; an unknown instrument is refused."""
    series = make_series("signal", frequency="intraday")
    timed = {
        "series_id": series,
        "obs_time": utc(2024, 3, 4, 14, 35),
        "knowledge_time": utc(2024, 3, 4, 14, 36),
        "value": 0.1,
    }
    ingest(engine, "signal_values", [timed])
    assert reader.latest("signal", series, as_of=utc(2024, 3, 5))[0].obs_time == utc(
        2024, 3, 4, 14, 35
    )
    with pytest.raises(IngestValidationError) as caught:
        ingest(engine, "signal_values", [{**timed, "instrument_id": 424242}])
    assert caught.value.codes == {"unknown_instrument"}


@pytest.mark.scenario("bad_inputs")
def test_curve_tenor_and_category_codes(engine: Engine, make_series: SeriesMaker) -> None:
    """Tenors and trader categories outside their formats are refused by code."""
    curve = make_series("curve", frequency="business_daily")
    flows = make_series("positioning", frequency="weekly")
    with pytest.raises(IngestValidationError) as caught:
        ingest(
            engine,
            "curve_points",
            [
                {
                    "series_id": curve,
                    "obs_time": utc(2024, 3, 4),
                    "knowledge_time": T0,
                    "tenor": "10 years",
                    "value": 4.0,
                }
            ],
        )
    assert caught.value.codes == {"bad_format"}
    with pytest.raises(IngestValidationError) as caught:
        ingest(
            engine,
            "positioning_flows",
            [
                {
                    "series_id": flows,
                    "obs_time": utc(2024, 3, 5),
                    "knowledge_time": utc(2024, 3, 8),
                    "category": "whales",
                    "value": 1.0,
                }
            ],
        )
    assert caught.value.codes == {"bad_enum"}
