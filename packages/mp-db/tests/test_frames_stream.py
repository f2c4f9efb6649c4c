"""Frames in through the column path: the same stored rows and report as dicts, on the fresh
and merge paths, and streams of frames written in one transaction."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from conftest import Driver, SeriesMaker, count_rows
from sqlalchemy import Engine
from test_frames_in import FRAMES, T0, VALUES, stored, to_arrow

from mp_db import IngestReport, IngestValidationError, resolve_table
from mp_schema import FACT_TABLES


def history(table: str, series_id: int, seed: int = 13) -> list[dict[str, Any]]:
    """Six observations with 1-4 vintages each (restatements and changes mixed), some exact
    copies, shuffled; the same for every series but its id."""
    draw = random.Random(seed)
    rows = []
    for day in range(6):
        obs = T0 + timedelta(days=day)
        for vintage in range(draw.randint(1, 4)):
            values = VALUES[table][draw.randint(0, 1)]
            known = obs + timedelta(days=1 + 30 * vintage, hours=12)
            rows.append(
                {"series_id": series_id, "obs_time": obs, "knowledge_time": known, **values}
            )
            if draw.random() < 0.15:
                rows.append(dict(rows[-1]))
    draw.shuffle(rows)
    return rows


def _early(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first two vintages of each observation (a first load the later call extends)."""
    return [row for row in rows if row["knowledge_time"] - row["obs_time"] < timedelta(days=40)]


def _counts(report: IngestReport) -> dict[str, Any]:
    counts = asdict(report)
    del counts["ingest_id"], counts["elapsed_seconds"]
    return counts


@pytest.mark.parametrize("keep", [False, True], ids=["alfred", "keep"])
@pytest.mark.parametrize("table", FACT_TABLES)
def test_frames_store_and_report_what_dicts_do(
    driver: Driver, engine: Engine, make_series: SeriesMaker, table: str, keep: bool
) -> None:
    """A first load (fresh path) and a second call with more vintages and the first rows
    again (merge path): each library stores the dicts' rows and reports the dicts' counts."""
    kind = resolve_table(table).spec.kind.value
    reference = make_series(kind)
    expected = [
        _counts(driver.ingest(table, part(history(table, reference)), keep_republications=keep))
        for part in (_early, list)
    ]
    assert expected[1]["already_stored"] > 0
    for library, make in FRAMES.items():
        series = make_series(kind)
        reports = [
            _counts(
                driver.ingest(
                    table, make(table, part(history(table, series))), keep_republications=keep
                )
            )
            for part in (_early, list)
        ]
        assert reports == expected, library
        assert stored(engine, table, series) == stored(engine, table, reference), library


def _in_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    unique = {tuple(sorted(row.items(), key=str)): row for row in rows}
    return sorted(unique.values(), key=lambda row: (row["knowledge_time"], row["obs_time"]))


@pytest.mark.parametrize("library", list(FRAMES))
@pytest.mark.parametrize("table", ["macro_observations", "market_bars", "curve_points"])
def test_a_stream_of_frames_stores_what_one_batch_does(
    driver: Driver, engine: Engine, make_series: SeriesMaker, table: str, library: str
) -> None:
    """Vintages in knowledge-time order, split over three frames (an observation's versions
    span frames): the rows stored, revisions included, and the counts equal one batch's."""
    kind = resolve_table(table).spec.kind.value
    reference, series = make_series(kind), make_series(kind)
    expected = driver.ingest(table, _in_order(history(table, reference)))
    rows = _in_order(history(table, series))
    third = len(rows) // 3

    def frames() -> Iterator[Any]:
        for start in (0, third, 2 * third):
            end = len(rows) if start == 2 * third else start + third
            yield FRAMES[library](table, rows[start:end])

    report = driver.ingest(table, frames())
    assert report.received == expected.received == len(rows)
    assert (report.inserted, report.revisions, report.unchanged) == (
        expected.inserted,
        expected.revisions,
        expected.unchanged,
    )
    assert stored(engine, table, series) == stored(engine, table, reference)


def test_a_refused_frame_rolls_the_whole_stream_back(
    driver: Driver, engine: Engine, make_series: SeriesMaker
) -> None:
    """A bad row in the third frame: nothing of the first two is stored, and the problem
    names the row by its position in the whole stream."""
    series = make_series()
    rows = _in_order(history("macro_observations", series))
    frames = [pd.DataFrame(rows[:5]), pd.DataFrame(rows[5:10]), pd.DataFrame(rows[10:])]
    frames[2].loc[1, "value"] = float("inf")
    with pytest.raises(IngestValidationError) as refused:
        driver.ingest("macro_observations", iter(frames))
    assert [(problem.index, problem.code) for problem in refused.value.problems] == [
        (11, "non_finite")
    ]
    assert count_rows(engine, "macro_observations") == 0


def test_an_unknown_series_in_a_later_frame_rolls_back(
    driver: Driver, engine: Engine, make_series: SeriesMaker
) -> None:
    """The reference check runs per frame inside the transaction: an unknown series in the
    second frame undoes the first frame's rows, and names its row in the stream."""
    series = make_series()
    rows = _in_order(history("macro_observations", series))
    second = [dict(row, series_id=987_654) for row in rows[4:6]]
    with pytest.raises(IngestValidationError) as refused:
        driver.ingest("macro_observations", [pd.DataFrame(rows[:4]), pd.DataFrame(second)])
    assert {(problem.index, problem.code) for problem in refused.value.problems} == {
        (4, "unknown_series"),
        (5, "unknown_series"),
    }
    assert count_rows(engine, "macro_observations") == 0


def test_a_record_batch_reader_is_a_stream(
    driver: Driver, engine: Engine, make_series: SeriesMaker
) -> None:
    """A pyarrow RecordBatchReader is read batch by batch, like a generator of frames."""
    reference, series = make_series(), make_series()
    expected = driver.ingest(
        "macro_observations", _in_order(history("macro_observations", reference))
    )
    table = to_arrow("macro_observations", _in_order(history("macro_observations", series)))
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=7))
    report = driver.ingest("macro_observations", reader)
    assert (report.received, report.inserted) == (expected.received, expected.inserted)
    assert stored(engine, "macro_observations", series) == stored(
        engine, "macro_observations", reference
    )


def test_a_generator_of_dicts_is_still_rows(driver: Driver, make_series: SeriesMaker) -> None:
    """A generator whose first item is a mapping is a batch of rows, read whole."""
    series = make_series()
    rows = _in_order(history("macro_observations", series))
    report = driver.ingest("macro_observations", (row for row in rows))
    assert report.received == len(rows)
    assert report.inserted > 0
