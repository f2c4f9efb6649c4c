"""mp's ingest and the database's series guard (mp_schema._series_guard) together: ingest skips
the per-row trigger only for the rows it checked, and a series it is writing cannot be deleted
under it."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import SeriesMaker, count_rows, macro, utc
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from mp_db import ingest

pytestmark = pytest.mark.scenario("bad_inputs")

INSERT_MACRO = text(
    "INSERT INTO mp.macro_observations (series_id, obs_time, knowledge_time, value,"
    " knowledge_time_source) VALUES (:series_id, '2024-03-01 00:00+00', '2024-04-10 12:30+00',"
    " 1.0, 'vendor')"
)


def test_the_trigger_checks_again_after_an_ingest_in_the_same_transaction(
    engine: Engine, make_series: SeriesMaker
) -> None:
    """Ingest declares its check for its own statements only: a plain INSERT later in the
    caller's transaction meets the series trigger again."""
    series = make_series()
    with engine.connect() as connection, connection.begin():
        report = ingest(connection, "macro", [macro(series, utc(2024, 1), utc(2024, 2), 1.0)])
        assert report.inserted == 1
        setting = connection.execute(text("SELECT current_setting('mp.series_checked', true)"))
        assert setting.scalar() == "off"
        with pytest.raises(IntegrityError, match="no series has series_id 313131"):
            connection.execute(INSERT_MACRO, {"series_id": 313_131})
    assert count_rows(engine, "macro_observations") == 0


def test_deleting_a_series_waits_for_its_ingest(engine: Engine, make_series: SeriesMaker) -> None:
    """Ingest holds the series it checked (FOR KEY SHARE) until it commits: a deletion started
    meanwhile waits, then sees the new rows and is refused."""
    series = make_series()
    outcome: list[Exception | None] = []

    def delete() -> None:
        try:
            with engine.begin() as connection:
                connection.execute(
                    text("DELETE FROM mp.series WHERE series_id = :id"), {"id": series}
                )
            outcome.append(None)
        except IntegrityError as error:
            outcome.append(error)

    with engine.connect() as connection, connection.begin():
        ingest(connection, "macro", [macro(series, utc(2024, 1), utc(2024, 2), 1.0)])
        thread = threading.Thread(target=delete)
        thread.start()
        time.sleep(0.5)
        assert outcome == []  # waiting for the ingest's transaction
    thread.join(timeout=10)
    assert len(outcome) == 1
    assert "still has rows in mp.macro_observations" in str(outcome[0])
    assert count_rows(engine, "macro_observations") == 1


def test_a_refused_stream_in_the_callers_transaction_undoes_only_the_stream(
    engine: Engine, make_series: SeriesMaker
) -> None:
    """A stream joins the caller's open transaction in a savepoint: a later frame refused
    (unknown series) undoes the earlier frames and the series check's declaration, and keeps
    what the caller wrote before."""
    pd = pytest.importorskip("pandas")
    from mp_db import IngestValidationError

    series = make_series()
    mine = make_series()
    first = pd.DataFrame([macro(series, utc(2024, 1), utc(2024, 2), 1.0)])
    unknown = pd.DataFrame([macro(424_242, utc(2024, 1), utc(2024, 2), 1.0)])
    with engine.connect() as connection, connection.begin():
        ingest(connection, "macro", [macro(mine, utc(2024, 1), utc(2024, 2), 5.0)])
        with pytest.raises(IngestValidationError, match="unknown_series"):
            ingest(connection, "macro", iter([first, unknown]))
        setting = connection.execute(text("SELECT current_setting('mp.series_checked', true)"))
        assert setting.scalar() != "on"
        stored = connection.execute(
            text("SELECT series_id FROM mp.macro_observations WHERE series_id IN (:a, :b)"),
            {"a": series, "b": mine},
        )
        assert [row[0] for row in stored] == [mine]
        with pytest.raises(IntegrityError, match="no series has series_id 313131"):
            connection.execute(INSERT_MACRO, {"series_id": 313_131})
