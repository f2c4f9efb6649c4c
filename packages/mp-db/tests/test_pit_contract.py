"""The point-in-time contract's corner cases, each a regression of issue 11, on both drivers:
entity tables in backtests, strict replay against in-flight ingests, value changes after
backfills, and the arguments every read accepts or refuses."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from typing import Any

import numpy
import pandas
import pytest
from conftest import Driver, SeriesMaker, days, macro, utc
from sqlalchemy import Engine, text

from mp_db import BadInputError, Cutoff, ingest

FRIDAY = utc(2024, 3, 8, 20, 30)  # a COT release, 15:30 New York
TUESDAY = utc(2024, 3, 5)


def curve(series: int, obs: datetime, known: datetime, tenor: str, value: float) -> dict[str, Any]:
    """A curve_points row."""
    return {
        "series_id": series,
        "obs_time": obs,
        "knowledge_time": known,
        "tenor": tenor,
        "value": value,
    }


def positions(series: int, known: datetime, category: str, net: float) -> dict[str, Any]:
    """A positioning_flows row for Tuesday's positions."""
    return {
        "series_id": series,
        "obs_time": TUESDAY,
        "knowledge_time": known,
        "category": category,
        "value": net,
    }


def test_backtest_keeps_every_tenor(driver: Driver, make_series: SeriesMaker) -> None:
    """A curve backtest returns the whole curve at each decision time, as `latest` does, and a
    "nothing known yet" row where nothing was, in the order the times were given."""
    series = make_series("curve", frequency="daily")
    day1, day2 = utc(2024, 3, 4), utc(2024, 3, 5)
    rows = [
        curve(series, day1, day1 + days(0.9), tenor, 4.0 + n)
        for n, tenor in enumerate(["3M", "2Y", "10Y"])
    ]
    rows += [curve(series, day2, day2 + days(0.9), tenor, 5.0) for tenor in ["3M", "10Y"]]
    driver.ingest("curve", rows)
    decisions = [day2 + days(1), day1, day1 + days(1)]
    seen = driver.read("backtest", "curve_points", series, decisions)
    got = [(item.decision_time, item.row and (item.row.obs_time, item.row.tenor)) for item in seen]
    assert got == [
        (day2 + days(1), (day2, "10Y")),
        (day2 + days(1), (day2, "3M")),
        (day1, None),
        (day1 + days(1), (day1, "10Y")),
        (day1 + days(1), (day1, "2Y")),
        (day1 + days(1), (day1, "3M")),
    ]
    for moment in decisions:
        latest = driver.read("latest", "curve_points", series, as_of=moment)
        expected = [(row.obs_time, row.tenor, row.value) for row in latest]
        assert [
            (item.row.obs_time, item.row.tenor, item.row.value)
            for item in seen
            if item.decision_time == moment and item.row
        ] == expected


def test_backtest_keeps_every_trader_category(driver: Driver, make_series: SeriesMaker) -> None:
    """A COT backtest sees every category, each at its newest version known then."""
    series = make_series("positioning", frequency="weekly")
    driver.ingest(
        "positioning",
        [
            positions(series, FRIDAY, "commercial", -10.0),
            positions(series, FRIDAY, "managed_money", 12.0),
            positions(series, FRIDAY + days(7), "managed_money", 13.0),  # a revision a week on
        ],
    )
    seen = driver.read("backtest", "positioning_flows", [series], [FRIDAY, FRIDAY + days(8)])
    got = [(item.decision_time, item.row.category, item.row.value) for item in seen if item.row]
    assert got == [
        (FRIDAY, "commercial", -10.0),
        (FRIDAY, "managed_money", 12.0),
        (FRIDAY + days(8), "commercial", -10.0),
        (FRIDAY + days(8), "managed_money", 13.0),
    ]


def test_replay_excludes_an_ingest_in_flight_at_the_cutoff(
    driver: Driver, make_series: SeriesMaker, engine: Engine
) -> None:
    """An ingest that began before the cutoff and committed after it is not in the replay,
    before or after its commit; with the cutoff, the live read and the replay agree."""
    series = make_series()
    driver.ingest("macro", [macro(series, utc(2024, 1), utc(2024, 2), 1.0)])
    with engine.connect() as slow:
        transaction = slow.begin()
        ingest(slow, "macro", [macro(series, utc(2024, 1), utc(2024, 3), 2.0)])
        cutoff: Cutoff = driver.read("cutoff")
        live = driver.read("as_of", "macro", series, as_of=utc(2024, 4), ingested_before=cutoff)
        transaction.commit()
    replay = driver.read("as_of", "macro", series, as_of=utc(2024, 4), ingested_before=cutoff)
    now = driver.read("as_of", "macro", series, as_of=utc(2024, 4))
    assert [row.value for row in live] == [row.value for row in replay] == [1.0]
    assert [row.value for row in now] == [2.0]
    later = driver.read("cutoff")
    assert later.commit_seq > cutoff.commit_seq
    for method, extra in [
        ("latest", {"as_of": utc(2024, 4)}),
        ("vintages", {}),
        ("first_release", {}),
        ("intervals", {}),
        ("cross_section", {"as_of": utc(2024, 4)}),
    ]:
        arguments = (utc(2024, 1),) if method == "cross_section" else (series,)
        old = driver.read(method, "macro", *arguments, ingested_before=cutoff, **extra)
        new = driver.read(method, "macro", *arguments, ingested_before=later, **extra)
        assert len(new) >= len(old) >= 1, method
        values = [getattr(item, "row", item).value for item in old]
        assert 2.0 not in values, f"{method} leaked the in-flight ingest"
    assert driver.read("vintage_dates", "macro", series, ingested_before=cutoff) == [utc(2024, 2)]
    backtest = driver.read("backtest", "macro", series, [utc(2024, 4)], ingested_before=cutoff)
    assert [item.row.value for item in backtest] == [1.0]


def test_commits_are_numbered_in_commit_order(engine: Engine, make_series: SeriesMaker) -> None:
    """Two ingests: the one that starts first but commits second gets the later commit_seq;
    a plain INSERT (not mp's ingest) is logged and numbered too."""
    first, second, third = make_series(), make_series(), make_series()
    # The chunk exists before the race (a transaction creating a chunk blocks other writers
    # of that chunk until it commits: TimescaleDB's rule, not mp's).
    ingest(engine, "macro", [macro(third, utc(2024, 1), utc(2024, 2), 1.0)])
    with engine.connect() as early:
        transaction = early.begin()
        started_first = ingest(early, "macro", [macro(first, utc(2024, 1), utc(2024, 2), 1.0)])
        started_second = ingest(engine, "macro", [macro(second, utc(2024, 1), utc(2024, 2), 1.0)])
        transaction.commit()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO mp.macro_observations (series_id, obs_time, knowledge_time, value,"
                " knowledge_time_source) VALUES (:s, '2024-02-01Z', '2024-03-01Z', 3, 'vendor')"
            ),
            {"s": first},
        )
    with engine.connect() as connection:
        log = connection.execute(
            text("SELECT ingest_id, writer, commit_seq FROM mp.ingest_log ORDER BY ingest_id")
        ).all()
        plain = connection.execute(
            text("SELECT ingest_id FROM mp.macro_observations WHERE value = 3")
        ).scalar_one()
    by_id = {row.ingest_id: row for row in log}
    assert by_id[started_first.ingest_id].commit_seq > by_id[started_second.ingest_id].commit_seq
    assert by_id[plain].writer == "sql"
    assert by_id[plain].commit_seq is not None
    assert started_first.ingest_id < started_second.ingest_id < plain


def test_concurrent_commits_keep_the_cutoff_exact(
    driver: Driver, make_series: SeriesMaker, engine: Engine
) -> None:
    """Cutoffs taken while writers commit: each replay equals what was visible when its cutoff
    was taken, counted once more after every writer has finished."""
    ids = [make_series() for _ in range(4)]
    snapshots: list[tuple[Cutoff, int]] = []

    def write(series: int) -> None:
        for number in range(6):
            ingest(
                engine,
                "macro",
                [macro(series, utc(2024, 1), utc(2024, 2) + days(number), float(number))],
            )

    writers = [threading.Thread(target=write, args=(series,)) for series in ids]
    for writer in writers:
        writer.start()
    for _ in range(8):
        with engine.connect() as connection:
            cutoff = Cutoff(
                *connection.execute(
                    text(
                        "SELECT coalesce(max(commit_seq), 0), coalesce(max(ingest_id), 0)"
                        " FROM mp.ingest_log"
                    )
                ).one()
            )
            seen = connection.execute(
                text("SELECT count(*) FROM mp.macro_observations")
            ).scalar_one()
        snapshots.append((cutoff, int(seen)))
    for writer in writers:
        writer.join()
    for cutoff, seen in snapshots:
        replayed = driver.read("vintages", "macro", ids, ingested_before=cutoff)
        # A cutoff is read a moment before the count, so the count may hold more, never less.
        assert len(replayed) <= seen
        again = driver.read("vintages", "macro", ids, ingested_before=Cutoff.parse(str(cutoff)))
        assert again == replayed


def test_vintages_are_value_changes_after_a_backfill(
    driver: Driver, make_series: SeriesMaker
) -> None:
    """Stored 1.0 on day 1 and 2.0 on day 3; a backfill says 2.0 from day 2. Day 3 is now a
    restatement: stored, but not a vintage, not a vintage date, not an interval boundary."""
    series = make_series()
    obs, d1, d2, d3 = utc(2024, 1), utc(2024, 2, 1), utc(2024, 2, 2), utc(2024, 2, 3)
    driver.ingest("macro", [macro(series, obs, d1, 1.0), macro(series, obs, d3, 2.0)])
    driver.ingest("macro", [macro(series, obs, d2, 2.0)])
    vintages = driver.read("vintages", "macro", series)
    assert [(row.knowledge_time, row.value) for row in vintages] == [(d1, 1.0), (d2, 2.0)]
    assert driver.read("vintage_dates", "macro", series) == [d1, d2]
    assert driver.read("vintage_dates", "macro", [series, series + 999]) == {
        series: [d1, d2],
        series + 999: [],
    }
    intervals = driver.read("intervals", "macro", series)
    assert [(i.realtime_start, i.realtime_end) for i in intervals] == [(d1, d2), (d2, None)]
    # As known on day 1.5, interval ends are those known then.
    known = driver.read("intervals", "macro", series, as_of=d1 + days(0.5))
    assert [(i.realtime_start, i.realtime_end) for i in known] == [(d1, None)]
    (latest,) = driver.read("as_of", "macro", series, as_of=d3)
    assert (latest.knowledge_time, latest.value) == (d3, 2.0)  # the newest publication


def test_republications_kept_by_the_flag_are_not_vintages(
    driver: Driver, make_series: SeriesMaker
) -> None:
    """keep_republications stores restatements; vintages and vintage dates still list only
    value changes."""
    series = make_series()
    obs = utc(2024, 1)
    rows = [
        macro(series, obs, utc(2024, 2, day), value)
        for day, value in [(1, 1.0), (2, 1.0), (3, 2.0)]
    ]
    report = driver.ingest("macro", rows, keep_republications=True)
    assert (report.inserted, report.republications) == (3, 1)
    assert driver.read("vintage_dates", "macro", series) == [utc(2024, 2, 1), utc(2024, 2, 3)]
    assert len(driver.read("vintages", "macro", series)) == 2


def test_cross_section_of_chosen_series(driver: Driver, make_series: SeriesMaker) -> None:
    """cross_section takes series_ids to answer for just those series."""
    ids = [make_series() for _ in range(3)]
    driver.ingest(
        "macro", [macro(series, utc(2024, 1), utc(2024, 2), float(series)) for series in ids]
    )
    every = driver.read("cross_section", "macro", utc(2024, 1), as_of=utc(2024, 3))
    chosen = driver.read(
        "cross_section", "macro", utc(2024, 1), as_of=utc(2024, 3), series_ids=ids[1:]
    )
    assert [row.series_id for row in every] == ids
    assert [row.series_id for row in chosen] == ids[1:]


@pytest.mark.parametrize(
    "method",
    ["as_of", "latest", "first_release", "vintages", "intervals", "vintage_dates", "backtest"],
)
def test_unknown_series_read_as_empty(driver: Driver, method: str) -> None:
    """A series that does not exist gives an empty answer from every read (and a backtest a
    "nothing known" row per decision time), never an error."""
    arguments: dict[str, Any] = {"as_of": utc(2024, 1)} if method in {"as_of", "latest"} else {}
    if method == "backtest":
        seen = driver.read(method, "macro", 987_654, [utc(2024, 1)])
        assert [(item.series_id, item.row) for item in seen] == [(987_654, None)]
    else:
        assert driver.read(method, "macro", 987_654, **arguments) == []


def test_a_series_of_another_kind_reads_as_empty(driver: Driver, make_series: SeriesMaker) -> None:
    """A curve series asked for in macro_observations has no rows there: an empty answer, the
    same as any series without rows (ingest, by contrast, refuses it as wrong_series_kind)."""
    series = make_series("curve", frequency="daily")
    driver.ingest("curve", [curve(series, utc(2024, 1), utc(2024, 1, 2), "3M", 4.0)])
    assert driver.read("as_of", "macro", series, as_of=utc(2024, 2)) == []
    assert driver.read("latest", "macro", series, as_of=utc(2024, 2)) == []
    assert driver.read("vintage_dates", "macro", [series]) == {series: []}
    assert len(driver.read("latest", "curve", series, as_of=utc(2024, 2))) == 1


ACCEPTED_INSTANTS = [
    pytest.param(datetime(2024, 3, 1, tzinfo=UTC), id="datetime"),
    pytest.param(pandas.Timestamp("2024-03-01", tz="UTC"), id="pandas-utc"),
    pytest.param(pandas.Timestamp("2024-02-29 19:00", tz="America/New_York"), id="pandas-ny"),
    pytest.param(numpy.datetime64("2024-03-01T00:00:00"), id="numpy-as-utc"),
]


@pytest.mark.parametrize("moment", ACCEPTED_INSTANTS)
def test_unambiguous_times_are_accepted(
    driver: Driver, make_series: SeriesMaker, moment: Any
) -> None:
    """Aware pandas Timestamps and numpy datetime64 (read as UTC) mean the same instant as the
    datetime; a date is fine as a period bound."""
    series = make_series()
    driver.ingest("macro", [macro(series, utc(2024, 1), utc(2024, 3), 1.0)])
    expected = driver.read("as_of", "macro", series, as_of=utc(2024, 3))
    assert driver.read("as_of", "macro", series, as_of=moment) == expected
    assert driver.read("backtest", "macro", series, [moment])[0].row == expected[0]
    ranged = driver.read("vintages", "macro", series, start=date(2024, 1, 1), end=date(2024, 2, 1))
    assert len(ranged) == 1


REFUSED = [
    pytest.param({"as_of": date(2024, 3, 1)}, "a date", id="date-as-of"),
    pytest.param({"as_of": "2024-03-01"}, "timezone-aware", id="string-as-of"),
    pytest.param({"as_of": datetime(2024, 3, 1)}, "naive", id="naive-as-of"),
    pytest.param({"as_of": pandas.NaT}, "NaT", id="nat-as-of"),
    pytest.param({"as_of": numpy.datetime64("NaT")}, "NaT", id="numpy-nat-as-of"),
    pytest.param(
        {"as_of": utc(2024), "start": utc(2024, 2), "end": utc(2024, 1)},
        "after end",
        id="start-after-end",
    ),
    pytest.param(
        {"as_of": utc(2024), "ingested_before": date(2024, 1, 1)},
        "ingested_before",
        id="date-cutoff",
    ),
]


@pytest.mark.parametrize(("arguments", "message"), REFUSED)
def test_ambiguous_arguments_are_refused(
    driver: Driver, arguments: dict[str, Any], message: str
) -> None:
    """Every read argument that could mean two things is refused with a BadInputError that
    names the argument or the problem."""
    with pytest.raises(BadInputError, match=message):
        driver.read("as_of", "macro", 1, **arguments)


@pytest.mark.parametrize(
    "series_ids", [True, "12", 1.5, [], [1, "2"]], ids=["bool", "str", "float", "empty", "mixed"]
)
def test_bad_series_ids_are_refused(driver: Driver, series_ids: Any) -> None:
    """series_ids is an int or ints: anything else is a BadInputError, for every read."""
    with pytest.raises(BadInputError, match="series_ids"):
        driver.read("vintage_dates", "macro", series_ids)
    with pytest.raises(BadInputError, match="series_ids"):
        driver.read("backtest", "macro", series_ids, [utc(2024)])


def test_numpy_series_ids_are_ints(driver: Driver, make_series: SeriesMaker) -> None:
    """numpy integers are series ids like ints (a frame's column of ids can be passed)."""
    series = make_series()
    driver.ingest("macro", [macro(series, utc(2024, 1), utc(2024, 2), 1.0)])
    assert driver.read("vintage_dates", "macro", numpy.int64(series)) == [utc(2024, 2)]
    assert driver.read("vintage_dates", "macro", numpy.array([series])) == {series: [utc(2024, 2)]}


def test_cutoff_text_round_trips_and_refuses_garbage() -> None:
    """A cutoff is recorded as text and parsed back; anything else is a clear error."""
    cutoff = Cutoff(12, 34)
    assert Cutoff.parse(str(cutoff)) == cutoff
    with pytest.raises(BadInputError, match="not a replay cutoff"):
        Cutoff.parse("12:34")
