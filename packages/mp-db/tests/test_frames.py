"""DataFrames in and out (the pandas extra)."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import SeriesMaker, utc
from sqlalchemy import Engine

from mp_db import IngestValidationError, MacroObservationRow, Reader, ingest, to_frame


def test_dataframe_round_trip(engine: Engine, make_series: SeriesMaker, reader: Reader) -> None:
    """A DataFrame ingests like rows do, and reads come back as a DataFrame."""
    series = make_series()
    frame = pd.DataFrame(
        {
            "series_id": [series, series],
            "obs_time": pd.to_datetime(["2024-03-01", "2024-04-01"], utc=True),
            "knowledge_time": pd.to_datetime(["2024-04-10 12:30", "2024-05-15 12:30"], utc=True),
            "value": [312.2, 313.0],
        }
    )
    report = ingest(engine, "macro", frame)
    assert report.inserted == 2
    rows = reader.as_of(MacroObservationRow, series, as_of=utc(2025, 1))
    out = to_frame(rows)
    assert list(out["value"]) == [312.2, 313.0]
    assert str(out["obs_time"].dt.tz) == "UTC"
    # One column per field in field order, one record per row with the row's own values.
    assert list(out.columns) == list(rows[0].as_dict())
    assert [
        {
            name: value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
            for name, value in record.items()
        }
        for record in out.to_dict("records")
    ] == [row.as_dict() for row in rows]


def test_dataframe_with_naive_times_is_refused(engine: Engine, make_series: SeriesMaker) -> None:
    """Naive pandas timestamps are refused like naive datetimes."""
    series = make_series()
    frame = pd.DataFrame(
        {
            "series_id": [series],
            "obs_time": pd.to_datetime(["2024-03-01"]),
            "knowledge_time": pd.to_datetime(["2024-04-10"]),
            "value": [1.0],
        }
    )
    with pytest.raises(IngestValidationError) as caught:
        ingest(engine, "macro", frame)
    assert caught.value.codes == {"naive_datetime"}


def test_empty_frame() -> None:
    """No rows give an empty DataFrame."""
    assert to_frame([]).empty
