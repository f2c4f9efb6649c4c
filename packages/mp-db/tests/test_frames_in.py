"""Frames in: pandas, polars and pyarrow tables ingest exactly as the same rows as dicts do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from conftest import Driver, SeriesMaker, count_rows
from sqlalchemy import Engine, text

from mp_config import PostgresSettings
from mp_db import Database, IngestValidationError, ingest, resolve_table
from mp_db._columns import as_rows
from mp_db._validator import compiled_validator
from mp_schema import FACT_TABLES

T0 = datetime(2024, 1, 1, tzinfo=UTC)
#: Knowledge times arrive in another zone: stored as the same instants.
PARIS_WINTER = timezone(timedelta(hours=1))

#: Value columns of two versions per table; ``None`` where the table allows a missing value.
VALUES: dict[str, list[dict[str, Any]]] = {
    "macro_observations": [{"value": 1.5}, {"value": 1.75}],
    "market_bars": [
        {"open": 1.0, "high": 2.0, "low": 0.5, "close": None, "volume": 3},
        {"open": 1.0, "high": 2.5, "low": 0.5, "close": 2.0, "volume": 4},
    ],
    "curve_points": [{"tenor": "3M", "value": 4.2}, {"tenor": "3M", "value": 4.3}],
    "rate_fixings": [{"value": 5.3}, {"value": 5.25}],
    "release_calendar": [
        {"scheduled_at": T0, "status": "scheduled", "consensus": 0.2, "actual": None},
        {"scheduled_at": T0, "status": "released", "consensus": 0.2, "actual": 0.3},
    ],
    "positioning_flows": [
        {"category": "managed_money", "long_positions": 10.0, "short_positions": None},
        {"category": "managed_money", "long_positions": 12.0, "short_positions": 3.0},
    ],
    "signal_values": [{"instrument_id": 0, "value": 0.3}, {"instrument_id": 0, "value": 0.4}],
}


def dict_rows(table: str, series_id: int, days: int = 3) -> list[dict[str, Any]]:
    """Two vintages of ``days`` observations of one series, knowledge times in UTC+1."""
    rows = []
    for day in range(days):
        obs = T0 + timedelta(days=day)
        for vintage, values in enumerate(VALUES[table]):
            known = (obs + timedelta(days=1 + 30 * vintage, hours=12)).astimezone(PARIS_WINTER)
            rows.append(
                {"series_id": series_id, "obs_time": obs, "knowledge_time": known, **values}
            )
    return rows


def _timestamp_columns(table: str) -> set[str]:
    steps = compiled_validator(resolve_table(table)).steps
    return {step.name for step in steps if step.kind == "timestamp"}


def to_pandas(table: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a pandas DataFrame with timezone-aware timestamp columns."""
    frame = pd.DataFrame(rows)
    for column in _timestamp_columns(table) & set(frame.columns):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_convert("Europe/Paris")
    return frame


def to_arrow(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    """The rows as a pyarrow Table (missing numbers become nulls)."""
    return pa.Table.from_pandas(to_pandas(table, rows), preserve_index=False)


def to_polars(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The rows as a polars DataFrame."""
    frame = pl.from_arrow(to_arrow(table, rows))
    assert isinstance(frame, pl.DataFrame)
    return frame


FRAMES: dict[str, Callable[[str, list[dict[str, Any]]], Any]] = {
    "pandas": to_pandas,
    "arrow": to_arrow,
    "polars": to_polars,
}


def stored(engine: Engine, table: str, series_id: int) -> list[tuple[Any, ...]]:
    """Every stored version of a series (all staged columns but the series, and revision)."""
    fact = resolve_table(table)
    columns = ", ".join([*fact.staged[1:], "revision"])
    with engine.connect() as connection:
        result = connection.execute(
            text(
                f"SELECT {columns} FROM mp.{table} WHERE series_id = :series"  # noqa: S608 - registry names
                " ORDER BY obs_time, knowledge_time"
            ),
            {"series": series_id},
        )
        return [tuple(row) for row in result]


@pytest.mark.parametrize("library", list(FRAMES))
@pytest.mark.parametrize("table", FACT_TABLES)
def test_a_frame_stores_what_the_same_dicts_store(
    driver: Driver, engine: Engine, make_series: SeriesMaker, table: str, library: str
) -> None:
    """A frame of every fact table stores exactly the versions the same rows as dicts store,
    and reports the same counts."""
    kind = resolve_table(table).spec.kind.value
    from_dicts, from_frame = make_series(kind), make_series(kind)
    report = driver.ingest(table, dict_rows(table, from_dicts))
    frame_report = driver.ingest(table, FRAMES[library](table, dict_rows(table, from_frame)))
    assert (frame_report.received, frame_report.inserted) == (report.received, report.inserted)
    assert report.inserted == 6
    assert stored(engine, table, from_frame) == stored(engine, table, from_dicts)


@pytest.mark.parametrize("library", list(FRAMES))
def test_a_frame_gives_the_problems_the_dicts_give(
    driver: Driver, engine: Engine, make_series: SeriesMaker, library: str
) -> None:
    """Bad cells in a frame are reported with the codes, fields, rows and messages of the
    same bad rows as dicts, and nothing is written."""
    series = make_series()
    rows = dict_rows("macro_observations", series)
    rows[1]["value"] = -float("inf")
    rows[2]["knowledge_time"] = rows[2]["obs_time"] - timedelta(days=1)
    rows[3]["knowledge_time_source"] = "rumour"
    rows[4]["obs_time"] = rows[4]["obs_time"] + timedelta(hours=3)
    with pytest.raises(IngestValidationError) as from_dicts:
        driver.ingest("macro_observations", rows)
    frame = FRAMES[library]("macro_observations", rows)
    with pytest.raises(IngestValidationError) as from_frame:
        driver.ingest("macro_observations", frame)
    assert from_frame.value.problems == from_dicts.value.problems
    assert len(from_frame.value.problems) == 4
    assert count_rows(engine, "macro_observations") == 0


def _naive_frames() -> dict[str, Any]:
    naive: dict[str, list[Any]] = {
        "series_id": [1],
        "obs_time": [datetime(2024, 3, 1)],
        "knowledge_time": [datetime(2024, 4, 10, 12, 30)],
        "value": [1.0],
    }
    return {
        "pandas": pd.DataFrame(naive),
        "arrow": pa.table(naive),
        "polars": pl.DataFrame(naive),
    }


@pytest.mark.parametrize("library", list(FRAMES))
def test_naive_timestamps_are_refused_like_naive_datetimes(library: str, engine: Engine) -> None:
    """A timestamp column without a zone is refused with the problems of naive datetimes in
    dicts (never assumed UTC)."""
    frame = _naive_frames()[library]
    row = {
        "series_id": 1,
        "obs_time": datetime(2024, 3, 1),
        "knowledge_time": datetime(2024, 4, 10, 12, 30),
        "value": 1.0,
    }
    with pytest.raises(IngestValidationError) as from_dict:
        ingest(engine, "macro_observations", [row])
    with pytest.raises(IngestValidationError) as from_frame:
        ingest(engine, "macro_observations", frame)
    assert from_frame.value.problems == from_dict.value.problems
    assert from_frame.value.codes == {"naive_datetime"}


def _with_missing_cell(library: str, column: str) -> Any:
    rows = dict_rows("market_bars", 1, days=1)[:1]
    if library == "pandas":
        frame = to_pandas("market_bars", rows)
        frame[column] = float("nan")
        return frame
    if library == "arrow":
        arrow = to_arrow("market_bars", rows)
        position = arrow.column_names.index(column)
        return arrow.set_column(position, column, pa.array([float("nan")]))
    polars = to_polars("market_bars", rows)
    return polars.with_columns(pl.lit(float("nan")).alias(column))


@pytest.mark.parametrize("library", list(FRAMES))
def test_nan_is_missing_where_the_table_allows_it(library: str) -> None:
    """NaN in a nullable number column becomes None (stored NULL), as a dict's NaN does."""
    frame = _with_missing_cell(library, "close")
    [row] = list(as_rows(resolve_table("market_bars"), frame))
    assert row["close"] is None
    assert type(row["open"]) is float
    assert row["knowledge_time"].tzinfo is UTC


@pytest.mark.parametrize("library", list(FRAMES))
def test_nan_in_a_required_column_is_refused(library: str, engine: Engine) -> None:
    """NaN in a required number column is refused as non_finite, like NaN in a dict."""
    rows = dict_rows("macro_observations", 1, days=1)[:1]
    rows[0]["value"] = float("nan")
    if library == "pandas":
        frame: Any = to_pandas("macro_observations", rows)
    elif library == "arrow":
        arrow = to_arrow("macro_observations", rows)
        position = arrow.column_names.index("value")
        frame = arrow.set_column(position, "value", pa.array([float("nan")]))
    else:
        frame = to_polars("macro_observations", rows).with_columns(
            pl.lit(float("nan")).alias("value")
        )
    with pytest.raises(IngestValidationError) as from_dict:
        ingest(engine, "macro_observations", rows)
    with pytest.raises(IngestValidationError) as from_frame:
        ingest(engine, "macro_observations", frame)
    assert from_frame.value.problems == from_dict.value.problems
    assert from_frame.value.codes == {"non_finite"}


@pytest.mark.parametrize("library", list(FRAMES))
def test_an_empty_frame_stores_nothing(driver: Driver, library: str) -> None:
    """A frame with the columns and no rows is an empty batch."""
    frame = FRAMES[library]("macro_observations", dict_rows("macro_observations", 1))
    empty = frame.head(0) if library != "arrow" else frame.slice(0, 0)
    report = driver.ingest("macro_observations", empty)
    assert (report.received, report.inserted) == (0, 0)


def test_numpy_and_extension_values_become_plain_python() -> None:
    """Cells reach the validator as int, float, str and UTC datetimes, pandas' missing markers
    as None, and a missing cell of a column with a default is left out (the default applies)."""
    frame = pd.DataFrame(
        {
            "series_id": pd.array([1, 2], dtype="Int64"),
            "obs_time": pd.to_datetime(["2024-03-01", "2024-03-02"], utc=True),
            "knowledge_time": pd.to_datetime(pd.Series(["2024-04-01", None]), utc=True),
            "value": [1.0, 2.0],
            "knowledge_time_source": ["vendor", None],
        }
    )
    rows = list(as_rows(resolve_table("macro_observations"), frame))
    assert [type(row["series_id"]) for row in rows] == [int, int]
    assert rows[1]["knowledge_time"] is None
    assert "knowledge_time_source" not in rows[1]
    assert rows[0]["knowledge_time_source"] == "vendor"
    assert rows[0]["obs_time"] == datetime(2024, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("library", list(FRAMES))
def test_database_ingest_takes_a_frame(
    mp_pg_settings: PostgresSettings, engine: Engine, make_series: SeriesMaker, library: str
) -> None:
    """``Database.ingest`` takes a frame like ``ingest`` does."""
    series = make_series()
    frame = FRAMES[library]("macro_observations", dict_rows("macro_observations", series))
    with Database(mp_pg_settings) as db:
        report = db.ingest("macro_observations", frame)
    assert report.inserted == 6
    assert len(stored(engine, "macro_observations", series)) == 6
