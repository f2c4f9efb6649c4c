"""How a batch is merged with stored versions: conflicts, restatements and the report's counts
(regressions of issue 11, both drivers)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from conftest import Driver, SeriesMaker, days, macro, utc
from sqlalchemy import text

from mp_db import IngestReport, IngestValidationError, MacroObservationRow

D1, D2, D3 = utc(2024, 1, 10), utc(2024, 1, 11), utc(2024, 1, 12)
OBS = utc(2024, 1)


def _adds_up(report: IngestReport) -> bool:
    parts = (
        report.inserted,
        report.unchanged,
        report.already_stored,
        report.conflicts,
        report.duplicates_dropped,
    )
    return sum(parts) == report.received


def _stored(driver: Driver, series: int) -> list[tuple[object, float, int]]:
    with driver.engine.connect() as connection:
        result = connection.execute(
            text(
                "SELECT knowledge_time, value, revision FROM mp.macro_observations"
                " WHERE series_id = :series ORDER BY knowledge_time"
            ),
            {"series": series},
        ).all()
    return [(row[0], row[1], row[2]) for row in result]


def test_a_conflict_does_not_hide_the_version_after_it(
    driver: Driver, make_series: SeriesMaker
) -> None:
    """Stored D1=1.0, then [D1=5.0, D2=5.0]: D1 conflicts (1.0 is kept) and D2 differs from the
    stored 1.0, so it is stored as revision 1 and is the answer as of D2."""
    series = make_series()
    driver.ingest("macro", [macro(series, OBS, D1, 1.0)])
    report = driver.ingest("macro", [macro(series, OBS, D1, 5.0), macro(series, OBS, D2, 5.0)])
    assert (report.inserted, report.revisions, report.conflicts, report.unchanged) == (1, 1, 1, 0)
    assert _adds_up(report)
    assert _stored(driver, series) == [(D1, 1.0, 0), (D2, 5.0, 1)]
    (known,) = driver.read("as_of", MacroObservationRow, series, as_of=D2)
    assert known.value == 5.0


def test_a_conflict_is_not_the_baseline_of_a_restatement(
    driver: Driver, make_series: SeriesMaker
) -> None:
    """Stored D1=1.0, then [D1=5.0, D2=1.0]: D2 restates the stored 1.0, so nothing is stored
    (no fake vintage)."""
    series = make_series()
    driver.ingest("macro", [macro(series, OBS, D1, 1.0)])
    report = driver.ingest("macro", [macro(series, OBS, D1, 5.0), macro(series, OBS, D2, 1.0)])
    assert (report.inserted, report.unchanged, report.conflicts) == (0, 1, 1)
    assert _adds_up(report)
    assert _stored(driver, series) == [(D1, 1.0, 0)]


def test_keep_republications_numbers_after_a_conflict(
    driver: Driver, make_series: SeriesMaker
) -> None:
    """With keep_republications, [D1=5.0, D2=5.0] after stored D1=1.0 stores D2 as revision 1
    (it changes the stored value), and a restatement keeps the number it restates."""
    series = make_series()
    driver.ingest("macro", [macro(series, OBS, D1, 1.0)], keep_republications=True)
    report = driver.ingest(
        "macro",
        [macro(series, OBS, D1, 5.0), macro(series, OBS, D2, 5.0), macro(series, OBS, D3, 5.0)],
        keep_republications=True,
    )
    assert (report.inserted, report.revisions, report.republications) == (2, 1, 1)
    assert (report.unchanged, report.conflicts) == (0, 1)
    assert _adds_up(report)
    assert _stored(driver, series) == [(D1, 1.0, 0), (D2, 5.0, 1), (D3, 5.0, 1)]


def test_counts_add_up_for_every_outcome(driver: Driver, make_series: SeriesMaker) -> None:
    """One batch with a first print, a revision, a restatement, a re-sent row, a conflict and
    an exact copy: each row is counted once, and the restatement only once."""
    series, other = make_series(), make_series()
    driver.ingest("macro", [macro(series, OBS, D1, 1.0)])
    batch = [
        macro(series, OBS, D1, 1.0),  # already stored
        macro(series, OBS, D2, 2.0),  # revision
        macro(series, OBS, D3, 2.0),  # restatement: unchanged
        macro(series, OBS, D3, 2.0),  # exact copy: dropped
        macro(other, OBS, D1, 7.0),  # first print
    ]
    report = driver.ingest("macro", batch)
    assert (report.received, report.inserted, report.revisions) == (5, 2, 1)
    assert (report.unchanged, report.already_stored, report.duplicates_dropped) == (1, 1, 1)
    assert _adds_up(report)
    kept = driver.ingest("macro", [macro(series, OBS, D3 + days(1), 2.0)], keep_republications=True)
    assert (kept.inserted, kept.republications, kept.unchanged) == (1, 1, 0)
    assert _adds_up(kept)


def test_elapsed_covers_validation(driver: Driver, make_series: SeriesMaker) -> None:
    """elapsed_seconds is the call's wall time: reading and validating the rows count too (a
    row source that takes 0.3 s before its first row shows in the figure)."""
    series = make_series()

    def slow_rows() -> Iterator[dict[str, object]]:
        time.sleep(0.3)
        yield macro(series, OBS, D1, 1.0)

    started = time.perf_counter()
    report = driver.ingest("macro", slow_rows())
    wall = time.perf_counter() - started
    assert 0.3 <= report.elapsed_seconds <= wall


def test_same_key_and_values_with_another_source_is_refused(
    driver: Driver, make_series: SeriesMaker
) -> None:
    """Two rows with one key and equal values but different knowledge_time_source disagree on
    the quality of the time: refused, and the message says which part differs."""
    series = make_series()
    row = macro(series, OBS, D1, 1.0)
    with pytest.raises(IngestValidationError) as refused:
        driver.ingest(
            "macro",
            [{**row, "knowledge_time_source": "vendor"}, {**row, "knowledge_time_source": "rule"}],
        )
    (problem,) = refused.value.problems
    assert (problem.index, problem.code) == (1, "duplicate_key")
    assert "knowledge_time_source" in problem.message
