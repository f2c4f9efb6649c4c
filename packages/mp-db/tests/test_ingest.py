"""Idempotent, revision-aware ingest against a real TimescaleDB."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from conftest import SeriesMaker, count_rows, days, macro, run, utc
from sqlalchemy import Engine, text

from mp_config import PostgresSettings
from mp_db import (
    IngestProgress,
    IngestValidationError,
    MacroObservationRow,
    MpDbError,
    Reader,
    create_db_engine_async,
    ingest,
    ingest_async,
)


def history(series_id: int, vintages: list[list[float]], start: int = 2020) -> list[dict[str, Any]]:
    """Monthly observations of one year, each published once per vintage (a month apart)."""
    rows = []
    for number, values in enumerate(vintages):
        for month, value in enumerate(values, start=1):
            obs = utc(start, month)
            rows.append(macro(series_id, obs, obs + days(40 + 30 * number), value))
    return rows


def test_first_load_numbers_revisions(engine: Engine, make_series: SeriesMaker) -> None:
    """A first load stores first prints as revision 0 and real changes as 1, 2..."""
    series = make_series()
    report = ingest(
        engine, "macro_observations", history(series, [[1.0, 2.0], [1.5, 2.0], [1.6, 2.1]])
    )
    assert (report.received, report.inserted, report.revisions, report.unchanged) == (6, 5, 3, 1)
    with engine.connect() as connection:
        stored = connection.execute(
            text(
                "SELECT obs_time, value, revision FROM mp.macro_observations ORDER BY obs_time,"
                " knowledge_time"
            )
        ).all()
    assert [(row.value, row.revision) for row in stored] == [
        (1.0, 0),
        (1.5, 1),
        (1.6, 2),
        (2.0, 0),
        (2.1, 1),
    ]


@pytest.mark.scenario("nothing_lost")
def test_rerun_changes_nothing(engine: Engine, make_series: SeriesMaker) -> None:
    """The same batch a second time inserts nothing and reports every row as already stored."""
    series = make_series()
    rows = history(series, [[1.0, 2.0, 3.0], [1.1, 2.0, 3.1]])
    first = ingest(engine, "macro_observations", rows)
    with engine.connect() as connection:
        before = connection.execute(
            text(
                "SELECT series_id, obs_time, knowledge_time, value, revision, ingested_at"
                " FROM mp.macro_observations ORDER BY 1, 2, 3"
            )
        ).all()
    second = ingest(engine, "macro_observations", rows)
    with engine.connect() as connection:
        after = connection.execute(
            text(
                "SELECT series_id, obs_time, knowledge_time, value, revision, ingested_at"
                " FROM mp.macro_observations ORDER BY 1, 2, 3"
            )
        ).all()
    assert first.inserted == 5
    assert (second.inserted, second.already_stored + second.unchanged) == (0, len(rows) - 0)
    assert before == after


def test_unchanged_republication_inserts_nothing(engine: Engine, make_series: SeriesMaker) -> None:
    """A later vintage with the same value is not a revision (the ALFRED rule)."""
    series = make_series()
    ingest(engine, "macro", [macro(series, utc(2024, 3), utc(2024, 4, 10, 12, 30), 312.2)])
    report = ingest(engine, "macro", [macro(series, utc(2024, 3), utc(2024, 5, 15), 312.2)])
    assert (report.inserted, report.unchanged) == (0, 1)
    assert count_rows(engine, "macro_observations") == 1


def test_real_revision_is_stored_as_revision_one(
    engine: Engine, make_series: SeriesMaker, reader: Reader
) -> None:
    """A changed value later becomes revision 1; the first print stays as it was."""
    series = make_series()
    ingest(engine, "macro", [macro(series, utc(2024, 3), utc(2024, 4, 10), 312.2)])
    report = ingest(engine, "macro", [macro(series, utc(2024, 3), utc(2024, 5, 15), 312.5)])
    assert (report.inserted, report.revisions) == (1, 1)
    versions = reader.vintages(MacroObservationRow, series)
    assert [(row.value, row.revision) for row in versions] == [(312.2, 0), (312.5, 1)]


def test_backfilled_vintage_lands_between(
    engine: Engine, make_series: SeriesMaker, reader: Reader
) -> None:
    """A vintage older than the stored ones is kept by knowledge_time; as-of reads are exact."""
    series = make_series()
    ingest(
        engine,
        "macro",
        [
            macro(series, utc(2024, 3), utc(2024, 4, 10), 1.0),
            macro(series, utc(2024, 3), utc(2024, 8, 1), 3.0),
        ],
    )
    report = ingest(engine, "macro", [macro(series, utc(2024, 3), utc(2024, 6, 1), 2.0)])
    assert report.inserted == 1
    assert [row.value for row in reader.as_of(MacroObservationRow, series, as_of=utc(2024, 7))] == [
        2.0
    ]
    assert [row.value for row in reader.as_of(MacroObservationRow, series, as_of=utc(2024, 5))] == [
        1.0
    ]


def test_same_version_with_another_value_is_a_conflict(
    engine: Engine, make_series: SeriesMaker
) -> None:
    """Rows are append-only: a different value at a stored key is counted, not applied."""
    series = make_series()
    ingest(engine, "macro", [macro(series, utc(2024, 3), utc(2024, 4, 10), 1.0)])
    report = ingest(engine, "macro", [macro(series, utc(2024, 3), utc(2024, 4, 10), 9.0)])
    assert (report.inserted, report.conflicts) == (0, 1)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT value FROM mp.macro_observations")).scalar() == 1.0


def test_exact_duplicates_in_a_batch_are_dropped(engine: Engine, make_series: SeriesMaker) -> None:
    """Two identical rows in one batch count once."""
    series = make_series()
    row = macro(series, utc(2024, 3), utc(2024, 4, 10), 1.0)
    report = ingest(engine, "macro", [row, dict(row)])
    assert (report.inserted, report.duplicates_dropped) == (1, 1)


def test_calendar_dates_are_accepted_for_dated_tables(
    engine: Engine, make_series: SeriesMaker
) -> None:
    """obs_time as a date means the period starting at 00:00 UTC."""
    series = make_series()
    ingest(engine, "macro", [macro(series, date(2024, 3, 1), utc(2024, 4, 10), 1.0)])
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT obs_time FROM mp.macro_observations")).scalar()
    assert stored == utc(2024, 3)


BAD_ROWS: list[tuple[str, dict[str, Any], str]] = [
    ("naive_datetime", {"obs_time": __import__("datetime").datetime(2024, 3, 1)}, "obs_time"),
    ("obs_not_midnight", {"obs_time": utc(2024, 3, 1, 12)}, "obs_time"),
    ("knowledge_before_obs", {"knowledge_time": utc(2024, 2, 1)}, "knowledge_time"),
    ("non_finite", {"value": float("nan")}, "value"),
    ("non_finite", {"value": float("inf")}, "value"),
    ("unparseable", {"value": "."}, "value"),
    ("missing_value", {"value": None}, "value"),
    ("missing_key", {"series_id": None}, "series_id"),
    ("missing_key", {"knowledge_time": None}, "knowledge_time"),
    ("bad_type", {"series_id": "one"}, "series_id"),
    ("bad_type", {"value": True}, "value"),
    ("unknown_field", {"vaule": 1.0}, "vaule"),
    ("bad_enum", {"knowledge_time_source": "guess"}, "knowledge_time_source"),
    ("too_long", {"knowledge_time_source": "v" * 40}, "knowledge_time_source"),
    ("nul_byte", {"knowledge_time_source": "ven\x00dor"}, "knowledge_time_source"),
]


@pytest.mark.parametrize(
    ("code", "change", "field"), BAD_ROWS, ids=[f"{code}-{field}" for code, _, field in BAD_ROWS]
)
@pytest.mark.scenario("bad_inputs")
def test_each_rejection_code_names_row_and_field(
    engine: Engine, make_series: SeriesMaker, code: str, change: dict[str, Any], field: str
) -> None:
    """A bad row among good ones: refused with its index, field and code; nothing written."""
    series = make_series()
    good = [macro(series, utc(2024, month), utc(2024, month) + days(40), 1.0) for month in (1, 2)]
    bad = {**macro(series, utc(2024, 3), utc(2024, 4, 10), 1.0), **change}
    with pytest.raises(IngestValidationError) as caught:
        ingest(engine, "macro", [*good, bad])
    problems = [problem for problem in caught.value.problems if problem.code == code]
    assert problems, caught.value.problems
    assert (problems[0].index, problems[0].field) == (2, field)
    assert count_rows(engine, "macro_observations") == 0


@pytest.mark.scenario("bad_inputs")
def test_every_bad_row_is_reported_at_once(engine: Engine, make_series: SeriesMaker) -> None:
    """All problems of all rows come back in one error, in row order."""
    series = make_series()
    rows = [
        macro(series, utc(2024, 1), utc(2024, 2), float("nan")),
        macro(series, utc(2024, 2), utc(2024, 1), 1.0),
        macro(series, utc(2024, 3), utc(2024, 4), 1.0),
    ]
    with pytest.raises(IngestValidationError) as caught:
        ingest(engine, "macro", rows)
    assert [problem.index for problem in caught.value.problems] == [0, 1]
    assert caught.value.codes == {"non_finite", "knowledge_before_obs"}


@pytest.mark.scenario("bad_inputs")
def test_conflicting_duplicates_are_refused(engine: Engine, make_series: SeriesMaker) -> None:
    """Two rows with one key and different values: which is right is unknowable, so refuse."""
    series = make_series()
    rows = [
        macro(series, utc(2024, 3), utc(2024, 4), 1.0),
        macro(series, utc(2024, 3), utc(2024, 4), 2.0),
    ]
    with pytest.raises(IngestValidationError) as caught:
        ingest(engine, "macro", rows)
    assert caught.value.codes == {"duplicate_key"}
    assert caught.value.problems[0].index == 1


@pytest.mark.scenario("bad_inputs")
def test_unknown_series_is_refused_before_writing(engine: Engine, make_series: SeriesMaker) -> None:
    """A series id that does not exist is named; the valid rows are not written either."""
    series = make_series()
    rows = [
        macro(series, utc(2024, 1), utc(2024, 2), 1.0),
        macro(987_654, utc(2024, 1), utc(2024, 2), 1.0),
    ]
    with pytest.raises(IngestValidationError) as caught:
        ingest(engine, "macro", rows)
    assert caught.value.codes == {"unknown_series"}
    assert [problem.index for problem in caught.value.problems] == [1]
    assert count_rows(engine, "macro_observations") == 0


@pytest.mark.scenario("bad_inputs")
def test_series_of_another_kind_is_refused(engine: Engine, make_series: SeriesMaker) -> None:
    """A market-bar series cannot receive macro observations."""
    bars = make_series("market_bar", frequency="business_daily")
    with pytest.raises(IngestValidationError) as caught:
        ingest(engine, "macro", [macro(bars, utc(2024, 1), utc(2024, 2), 1.0)])
    assert caught.value.codes == {"wrong_series_kind"}


@pytest.mark.scenario("bad_inputs")
def test_oversized_batch_is_refused(engine: Engine, make_series: SeriesMaker) -> None:
    """A batch over max_rows is refused with batch_too_large."""
    series = make_series()
    rows = [
        macro(series, utc(2000, 1) + days(n), utc(2000, 1) + days(n + 1), 1.0) for n in range(11)
    ]
    with pytest.raises(IngestValidationError) as caught:
        ingest(engine, "macro", rows, max_rows=10)
    assert caught.value.codes == {"batch_too_large"}


@pytest.mark.scenario("nothing_lost")
def test_failure_halfway_leaves_no_row(engine: Engine, make_series: SeriesMaker) -> None:
    """A fault after the first chunk was merged rolls the whole batch back."""
    series = make_series()
    rows = [
        macro(series, utc(2000, 1) + days(n), utc(2000, 1) + days(n + 1), float(n))
        for n in range(50)
    ]

    def explode(progress: IngestProgress) -> None:
        if progress.chunk == 2:
            raise RuntimeError("injected fault after chunk 2")

    with pytest.raises(RuntimeError, match="injected"):
        ingest(engine, "macro", rows, chunk_rows=10, progress=explode)
    assert count_rows(engine, "macro_observations") == 0


def test_progress_is_reported_per_chunk(engine: Engine, make_series: SeriesMaker) -> None:
    """Long ingests report rows done after each chunk, ending at the total."""
    series = make_series()
    rows = [
        macro(series, utc(2000, 1) + days(n), utc(2000, 1) + days(n + 1), float(n))
        for n in range(35)
    ]
    seen: list[IngestProgress] = []
    report = ingest(engine, "macro", rows, chunk_rows=10, progress=seen.append)
    assert [item.rows_done for item in seen] == [10, 20, 30, 35]
    assert seen[-1].chunks == report.chunks == 4


def test_chunks_never_split_an_observation(
    engine: Engine, make_series: SeriesMaker, reader: Reader
) -> None:
    """Vintages of one observation stay in one chunk, so unchanged ones are still detected."""
    series = make_series()
    rows = [macro(series, utc(2020, 1), utc(2020, 2) + days(n), 1.0) for n in range(7)]
    report = ingest(engine, "macro", rows, chunk_rows=3)
    assert (report.inserted, report.unchanged, report.chunks) == (1, 6, 1)
    assert len(reader.vintages(MacroObservationRow, series)) == 1


def test_sync_and_async_store_the_same(
    mp_pg_settings: PostgresSettings, engine: Engine, make_series: SeriesMaker, reader: Reader
) -> None:
    """The asyncpg path gives the same report and the same stored rows as psycopg."""
    first, second = make_series(), make_series()
    vintages = [[1.0, 2.0, 3.0], [1.0, 2.5, 3.0], [1.2, 2.5, 3.3]]
    sync_report = ingest(engine, "macro", history(first, vintages))

    async def load() -> Any:
        async_engine = create_db_engine_async(mp_pg_settings)
        try:
            report = await ingest_async(async_engine, "macro", history(second, vintages))
            rerun = await ingest_async(async_engine, "macro", history(second, vintages))
            return report, rerun
        finally:
            await async_engine.dispose()

    async_report, rerun = run(load())
    assert (sync_report.inserted, sync_report.revisions, sync_report.unchanged) == (
        async_report.inserted,
        async_report.revisions,
        async_report.unchanged,
    )
    assert rerun.inserted == 0

    def shape(series_id: int) -> list[tuple[Any, ...]]:
        return [
            (row.obs_time, row.knowledge_time, row.value, row.revision)
            for row in reader.vintages(MacroObservationRow, series_id)
        ]

    assert shape(first) == shape(second)


def test_ingest_joins_the_callers_transaction(engine: Engine, make_series: SeriesMaker) -> None:
    """Inside a caller's transaction, a rollback of that transaction removes the batch too."""
    series = make_series()
    with engine.connect() as connection:
        transaction = connection.begin()
        ingest(connection, "macro", [macro(series, utc(2024, 1), utc(2024, 2), 1.0)])
        transaction.rollback()
    assert count_rows(engine, "macro_observations") == 0


def test_ingest_role_can_ingest(
    engine: Engine, make_series: SeriesMaker, mp_pg_settings: PostgresSettings
) -> None:
    """The least-privilege ingest role (INSERT and SELECT only) is enough to ingest."""
    series = make_series()
    role = mp_pg_settings.ingest_role
    with engine.connect() as connection:
        connection.execute(text(f"GRANT {role} TO CURRENT_USER"))
        connection.commit()
        with connection.begin():
            connection.execute(text(f"SET LOCAL ROLE {role}"))
            report = ingest(connection, "macro", history(series, [[1.0, 2.0], [1.0, 2.2]]))
        assert report.inserted == 3
        # Into chunks that exist now: ingest locks them (ROW EXCLUSIVE) before reading.
        with connection.begin():
            connection.execute(text(f"SET LOCAL ROLE {role}"))
            again = ingest(connection, "macro", history(series, [[1.0, 2.0], [1.5, 2.2]]))
    assert again.inserted == 1


def test_errors_are_mp_errors(engine: Engine) -> None:
    """A table name that is not a fact table is a clear error, not a SQL error."""
    with pytest.raises(KeyError, match="not a fact table"):
        ingest(engine, "series", [])
    assert issubclass(IngestValidationError, MpDbError)


def test_republications_are_kept_on_request(
    engine: Engine, make_series: SeriesMaker, reader: Reader
) -> None:
    """keep_republications stores restated versions, so a partial backfill landing between
    them cannot hide a later restatement: as-of answers stay exact in any arrival order."""
    series = make_series()
    obs = utc(2024, 3)
    first, restated = utc(2024, 4, 10), utc(2024, 6, 12)
    report = ingest(
        engine,
        "macro",
        [macro(series, obs, first, 1.0), macro(series, obs, restated, 1.0)],
        keep_republications=True,
    )
    assert (report.inserted, report.republications, report.unchanged, report.revisions) == (
        2,
        1,
        0,
        0,
    )
    ingest(engine, "macro", [macro(series, obs, utc(2024, 5, 15), 2.0)], keep_republications=True)
    known = [row.value for row in reader.as_of(MacroObservationRow, series, as_of=utc(2024, 7))]
    assert known == [1.0]
    # Rows are append-only: the restatement stored before the backfill keeps revision 0 (the
    # documented caveat: after backfills, order by knowledge_time rather than trust revision).
    revisions = [row.revision for row in reader.vintages(MacroObservationRow, series)]
    assert revisions == [0, 1, 0]
