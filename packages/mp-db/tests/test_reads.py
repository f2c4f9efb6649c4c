"""Point-in-time reads: every shape, on every table, sync and async."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from conftest import SeriesMaker, days, run, utc
from sqlalchemy import Engine, text

from mp_config import PostgresSettings
from mp_db import (
    AsyncReader,
    BadInputError,
    CurvePointRow,
    Cutoff,
    MacroObservationRow,
    Reader,
    create_db_engine_async,
    ingest,
    join_as_of,
)

MARCH, APRIL = utc(2024, 3), utc(2024, 4)


@pytest.fixture
def cpi(engine: Engine, make_series: SeriesMaker) -> int:
    """A CPI-like series: March and April, each printed, then revised."""
    series = make_series()
    ingest(
        engine,
        "macro",
        [
            {
                "series_id": series,
                "obs_time": MARCH,
                "knowledge_time": utc(2024, 4, 10, 12, 30),
                "value": 312.2,
            },
            {
                "series_id": series,
                "obs_time": MARCH,
                "knowledge_time": utc(2024, 5, 15, 12, 30),
                "value": 312.5,
            },
            {
                "series_id": series,
                "obs_time": APRIL,
                "knowledge_time": utc(2024, 5, 15, 12, 30),
                "value": 313.0,
            },
            {
                "series_id": series,
                "obs_time": APRIL,
                "knowledge_time": utc(2024, 6, 12, 12, 30),
                "value": 313.4,
            },
        ],
    )
    return series


def values(rows: list[Any]) -> list[tuple[datetime, float]]:
    """(obs_time, value) pairs."""
    return [(row.obs_time, row.value) for row in rows]


def test_as_of_gives_what_was_known(reader: Reader, cpi: int) -> None:
    """Before a revision the first print is returned; after it, the revision."""
    assert values(reader.as_of(MacroObservationRow, cpi, as_of=utc(2024, 4, 20))) == [
        (MARCH, 312.2)
    ]
    assert values(reader.as_of(MacroObservationRow, cpi, as_of=utc(2024, 5, 20))) == [
        (MARCH, 312.5),
        (APRIL, 313.0),
    ]
    assert values(reader.as_of(MacroObservationRow, cpi, as_of=utc(2024, 7))) == [
        (MARCH, 312.5),
        (APRIL, 313.4),
    ]


def test_as_of_instant_is_inclusive_and_exact(reader: Reader, cpi: int) -> None:
    """At the release instant the value is known; a microsecond before it is not."""
    release = utc(2024, 4, 10, 12, 30)
    assert values(reader.as_of(MacroObservationRow, cpi, as_of=release)) == [(MARCH, 312.2)]
    assert reader.as_of(MacroObservationRow, cpi, as_of=release - days(1e-11)) == []


def test_as_of_respects_the_range(reader: Reader, cpi: int) -> None:
    """[start, end) limits observations, not knowledge."""
    rows = reader.as_of(MacroObservationRow, cpi, as_of=utc(2024, 7), start=APRIL, end=utc(2024, 5))
    assert values(rows) == [(APRIL, 313.4)]


def test_strict_replay_ignores_rows_stored_later(engine: Engine, reader: Reader, cpi: int) -> None:
    """With ingested_before, rows mp stored afterwards are invisible even if known earlier:
    with a Cutoff taken before the ingest, and with a datetime before its commit."""
    cutoff = reader.cutoff()
    with engine.connect() as connection:
        before = connection.execute(text("SELECT clock_timestamp()")).scalar_one()
    ingest(
        engine,
        "macro",
        [{"series_id": cpi, "obs_time": MARCH, "knowledge_time": utc(2024, 4, 20), "value": 312.3}],
    )
    for seen in (cutoff, before, Cutoff.parse(str(cutoff))):
        replay = reader.as_of(
            MacroObservationRow, cpi, as_of=utc(2024, 4, 25), ingested_before=seen
        )
        assert values(replay) == [(MARCH, 312.2)]
    assert values(reader.as_of(MacroObservationRow, cpi, as_of=utc(2024, 4, 25))) == [
        (MARCH, 312.3)
    ]


def test_latest_print_per_series(
    reader: Reader, cpi: int, make_series: SeriesMaker, engine: Engine
) -> None:
    """One row per series: the newest observation known at T, at its newest version."""
    other = make_series()
    ingest(
        engine,
        "macro",
        [
            {
                "series_id": other,
                "obs_time": utc(2023, 12),
                "knowledge_time": utc(2024, 1, 5),
                "value": 7.0,
            }
        ],
    )
    latest = reader.latest(MacroObservationRow, [cpi, other], as_of=utc(2024, 5, 20))
    assert {(row.series_id, row.obs_time, row.value) for row in latest} == {
        (cpi, APRIL, 313.0),
        (other, utc(2023, 12), 7.0),
    }
    assert reader.latest(MacroObservationRow, cpi, as_of=utc(2024, 1)) == []


def test_first_release_only(reader: Reader, cpi: int) -> None:
    """First prints, whatever came after."""
    assert values(reader.first_release(MacroObservationRow, cpi)) == [
        (MARCH, 312.2),
        (APRIL, 313.0),
    ]


def test_vintages_and_their_dates(reader: Reader, cpi: int) -> None:
    """Every version in order, and the distinct knowledge times."""
    assert [row.revision for row in reader.vintages(MacroObservationRow, cpi)] == [0, 1, 0, 1]
    assert reader.vintage_dates("macro", cpi) == [
        utc(2024, 4, 10, 12, 30),
        utc(2024, 5, 15, 12, 30),
        utc(2024, 6, 12, 12, 30),
    ]


def test_alfred_intervals(reader: Reader, cpi: int) -> None:
    """Each version is current from its knowledge time until the next one (None: still)."""
    intervals = reader.intervals("macro", cpi)
    march = [
        (item.row.value, item.realtime_start, item.realtime_end)
        for item in intervals
        if isinstance(item.row, MacroObservationRow) and item.row.obs_time == MARCH
    ]
    assert march == [
        (312.2, utc(2024, 4, 10, 12, 30), utc(2024, 5, 15, 12, 30)),
        (312.5, utc(2024, 5, 15, 12, 30), None),
    ]


def test_backtest_matches_latest_at_each_time(reader: Reader, cpi: int) -> None:
    """One pass over the stream equals asking `latest` at every decision time."""
    moments = [utc(2024, 4, 1), utc(2024, 4, 11), utc(2024, 5, 16), utc(2024, 6, 13)]
    joined = reader.backtest("macro", cpi, moments)
    expected: list[tuple[Any, ...]] = []
    for moment in moments:
        latest = reader.latest(MacroObservationRow, cpi, as_of=moment)
        expected += [(moment, row.obs_time, row.value) for row in latest] or [(moment, None, None)]
    assert [
        (
            item.decision_time,
            item.row.obs_time if item.row else None,
            getattr(item.row, "value", None),
        )
        for item in joined
    ] == expected
    assert {item.series_id for item in joined} == {cpi}


def test_join_as_of_is_pure(cpi: int, reader: Reader) -> None:
    """The client-side join works on any release stream and ignores unknown times."""
    stream = reader.vintages(MacroObservationRow, cpi)
    joined = join_as_of(stream, [utc(2024, 4, 11), utc(2000, 1)])
    assert [(item.decision_time, item.row and item.row.knowledge_time) for item in joined] == [
        (utc(2024, 4, 11), utc(2024, 4, 10, 12, 30)),
        (utc(2000, 1), None),  # nothing known yet; decision times keep the order given
    ]


def test_cross_section(reader: Reader, cpi: int, make_series: SeriesMaker, engine: Engine) -> None:
    """Every series' value for one period, as known at T."""
    other = make_series()
    ingest(
        engine,
        "macro",
        [{"series_id": other, "obs_time": MARCH, "knowledge_time": utc(2024, 4, 1), "value": 5.0}],
    )
    section = reader.cross_section(MacroObservationRow, MARCH, as_of=utc(2024, 4, 20))
    assert {(row.series_id, row.value) for row in section} == {(cpi, 312.2), (other, 5.0)}


def test_naive_times_are_refused(reader: Reader, cpi: int) -> None:
    """An as-of time without a zone is ambiguous: refused before any SQL."""
    with pytest.raises(BadInputError, match="timezone-aware"):
        reader.as_of(MacroObservationRow, cpi, as_of=datetime(2024, 5, 1))


def test_rows_are_typed(reader: Reader, cpi: int) -> None:
    """Reads return the table's row class with real datetimes and floats."""
    row = reader.as_of(MacroObservationRow, cpi, as_of=utc(2024, 7))[0]
    assert isinstance(row, MacroObservationRow)
    assert row.as_dict()["value"] == 312.5
    assert row.obs_time.tzinfo is not None


def test_latest_curve_is_the_whole_curve(
    engine: Engine, make_series: SeriesMaker, reader: Reader
) -> None:
    """For curves, the latest print is every tenor of the newest date known at T."""
    curve = make_series("curve", frequency="business_daily")
    rows = []
    for day in (4, 5):
        for tenor, level in (("3M", 5.0), ("10Y", 4.0)):
            rows.append(
                {
                    "series_id": curve,
                    "obs_time": utc(2024, 3, day),
                    "tenor": tenor,
                    "knowledge_time": utc(2024, 3, day, 21),
                    "value": level + day / 100,
                }
            )
    ingest(engine, "curve_points", rows)
    latest = reader.latest(CurvePointRow, curve, as_of=utc(2024, 3, 5, 22))
    assert all(isinstance(row, CurvePointRow) for row in latest)
    assert {(row.tenor, row.value) for row in latest} == {("3M", 5.05), ("10Y", 4.05)}


def test_async_reader_matches_sync(
    mp_pg_settings: PostgresSettings, reader: Reader, cpi: int
) -> None:
    """Every async read returns what the sync one does."""
    when = utc(2024, 5, 20)

    async def read_all() -> list[Any]:
        engine = create_db_engine_async(mp_pg_settings)
        try:
            async_reader = AsyncReader(engine)
            return [
                await async_reader.as_of(MacroObservationRow, cpi, as_of=when),
                await async_reader.latest(MacroObservationRow, cpi, as_of=when),
                await async_reader.first_release(MacroObservationRow, cpi),
                await async_reader.vintages(MacroObservationRow, cpi),
                await async_reader.vintage_dates("macro", cpi),
                await async_reader.intervals("macro", cpi),
                await async_reader.backtest("macro", cpi, [when]),
                await async_reader.cross_section(MacroObservationRow, MARCH, as_of=when),
            ]
        finally:
            await engine.dispose()

    expected = [
        reader.as_of(MacroObservationRow, cpi, as_of=when),
        reader.latest(MacroObservationRow, cpi, as_of=when),
        reader.first_release(MacroObservationRow, cpi),
        reader.vintages(MacroObservationRow, cpi),
        reader.vintage_dates("macro", cpi),
        reader.intervals("macro", cpi),
        reader.backtest("macro", cpi, [when]),
        reader.cross_section(MacroObservationRow, MARCH, as_of=when),
    ]
    assert run(read_all()) == expected
