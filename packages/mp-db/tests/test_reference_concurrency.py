"""The reference model under concurrency: writers that only add knowledge after a fixed past T
never change what reads as of T answer, and a replay cutoff is exact with respect to commits
(an ingest in flight when the cutoff is taken stays out of it, before and after it commits).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pit_calls import READS, check
from pit_harness import (
    Built,
    Call,
    build,
    create_series,
    difference,
    execute,
    normalize,
    scenario_database,
    stored_rows,
)
from reference.generators import ArrivalPlan
from reference.model import LEGACY_INGEST, Model
from reference.tables import TABLES
from sqlalchemy import Engine, text

from mp_config import PostgresSettings
from mp_db import (
    AsyncReader,
    Reader,
    create_db_engine,
    create_db_engine_async,
    ingest,
    ingest_async,
)

pytestmark = pytest.mark.scenario("load_held")

WRITERS = 2
#: Calls of each read asked in every round while the writers run.
CALLS_PER_READ = 12
BATCHES_PER_WRITER = 15
#: The reads checked while the writers run (join_as_of is a client-side function of vintages).
CONCURRENT_READS = (
    "as_of",
    "latest",
    "first_release",
    "vintages",
    "vintage_dates",
    "intervals",
    "cross_section",
    "backtest",
)


@pytest.fixture
def scenario(
    request: pytest.FixtureRequest, mp_postgres_server: Any, mp_template_database: str
) -> Iterator[Built]:
    """A scenario (seed 11, keep off) of the requested table and driver, ingested."""
    table, driver = request.param
    with scenario_database(mp_postgres_server, mp_template_database) as settings:
        scenario = build(TABLES[table], seed=11, keep="off", driver=driver, settings=settings)
        try:
            yield scenario
        finally:
            scenario.close()


def _past(built: Built) -> datetime:
    """T: the median knowledge time of the history (some of it known, some not)."""
    moments = built.moments
    return moments[len(moments) // 2]


def _calls_at(built: Built, moment: datetime) -> list[Call]:
    """Every read's plain calls, restricted to those that look only at knowledge <= T."""
    rng = random.Random(f"{built.label}:concurrent")
    frozen = Built(**{**vars(built), "plan": _plan_before(built.plan, moment)})
    calls = []
    for read in CONCURRENT_READS:
        mine = []
        for call in READS[read](frozen, built.model, rng, False):
            as_of = call.kwargs.get("as_of")
            if read == "backtest":
                if all(time <= moment for time in call.args[2]):
                    mine.append(call)
            elif as_of is not None and as_of <= moment:
                mine.append(call)
        assert mine, f"no {read} call looks only at knowledge <= T"
        calls += rng.sample(mine, min(len(mine), CALLS_PER_READ))
    return calls


def _plan_before(plan: ArrivalPlan, moment: datetime) -> ArrivalPlan:
    """The plan's rows known at ``moment`` (so the call builders draw T values <= it)."""
    batches = [
        [row for row in batch if row["knowledge_time"].astimezone(UTC) <= moment]
        for batch in plan.batches
    ]
    return ArrivalPlan([batch for batch in batches if batch], plan.keep_republications)


def _later_batches(built: Built, moment: datetime, writer: int) -> list[list[dict[str, Any]]]:
    """Batches of new versions and new observations, all known strictly after T."""
    rng = random.Random(f"{built.label}:writer{writer}")
    rows = [row for batch in built.plan.batches for row in batch]
    result = []
    for _ in range(BATCHES_PER_WRITER):
        batch: dict[tuple[Any, ...], dict[str, Any]] = {}
        for _ in range(rng.randint(1, 8)):
            row = dict(rng.choice(rows))
            values = rng.choice(rows)
            row.update({column: values[column] for column in built.shape.values})
            if rng.random() < 0.3:  # a new observation, later than any so far
                row["obs_time"] = max(item["obs_time"] for item in rows) + timedelta(
                    days=rng.randint(1, 3)
                )
            earliest = max(moment, row["obs_time"]) if built.shape.knowledge_after_obs else moment
            row["knowledge_time"] = earliest + timedelta(
                microseconds=1 + rng.randrange(5), days=rng.randrange(3)
            )
            key = tuple(
                row[column]
                for column in ("series_id", "obs_time", *built.shape.entities, "knowledge_time")
            )
            batch[key] = row
        result.append(list(batch.values()))
    return result


@pytest.mark.parametrize(
    "scenario", [(table, "sync") for table in TABLES], ids=list(TABLES), indirect=True
)
def test_sync_readers_at_a_past_t_ignore_concurrent_writers(
    scenario: Built, mp_scenario_metrics: dict[str, Any]
) -> None:
    """Threads ingest knowledge after T while the reader keeps asking every read as of T
    (also with a cutoff taken before the writers started): every answer equals the model,
    and the writers did store rows meanwhile."""
    built, moment = scenario, _past(scenario)
    calls = _calls_at(built, moment)
    assert calls
    built.open_readers()
    engine = create_db_engine(built.settings)
    try:
        cutoff = Reader(engine).cutoff()
    finally:
        engine.dispose()
    covered = built.model.cutoff()
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        engine = create_db_engine(built.settings)
        try:
            for batch in _later_batches(built, moment, writer):
                ingest(engine, built.shape.name, batch)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=write, args=(number,)) for number in range(WRITERS)]
    for thread in threads:
        thread.start()
    # One read's calls at a time, round after round, so most checks overlap the writes.
    groups = [
        calls[start : start + CALLS_PER_READ] for start in range(0, len(calls), CALLS_PER_READ)
    ]
    rounds = during = 0
    while rounds < 2 * len(groups) or any(thread.is_alive() for thread in threads):
        writing = any(thread.is_alive() for thread in threads)
        group = groups[rounds % len(groups)]
        check(built, "concurrent", group)
        _check_replay(built, group, cutoff, covered)
        rounds += 1
        during += int(writing and any(thread.is_alive() for thread in threads))
    for thread in threads:
        thread.join()
    assert not errors, errors
    check(built, "after the writers", calls)
    added = _rows_added(built)
    assert during > 0, "the writers finished before any read: raise BATCHES_PER_WRITER"
    mp_scenario_metrics.update(rounds=rounds, rounds_while_writing=during, rows_added=added)


def _rows_added(built: Built) -> int:
    """How many rows the writers stored (at least one, or the test proves nothing)."""
    engine = create_db_engine(built.settings)
    try:
        added = len(stored_rows(engine, built.shape)) - len(built.stored)
    finally:
        engine.dispose()
    assert added > 0, "the writers stored nothing"
    return added


def _check_replay(built: Built, calls: list[Call], cutoff: Any, covered: frozenset[int]) -> None:
    replayed = [
        Call(
            f"{call.label} with the cutoff taken before the writers",
            call.method,
            call.args,
            {**call.kwargs, "ingested_before": cutoff},
            call.expected,
        )
        for call in calls[:: max(1, len(calls) // 4)]
    ]
    check(built, "concurrent replay", replayed)
    assert built.model.cutoff() == covered


@pytest.mark.parametrize(
    "scenario",
    [(table, "async") for table in ("curve_points", "positioning_flows", "release_calendar")],
    ids=["curve_points", "positioning_flows", "release_calendar"],
    indirect=True,
)
def test_async_readers_at_a_past_t_ignore_concurrent_writers(
    scenario: Built, mp_scenario_metrics: dict[str, Any]
) -> None:
    """The same with asyncio tasks: writers through ingest_async, readers through
    AsyncReader, all on one event loop."""
    built, moment = scenario, _past(scenario)
    calls = _calls_at(built, moment)
    assert calls

    async def main() -> list[tuple[Call, Any]]:
        engine = create_db_engine_async(built.settings)
        mismatches: list[tuple[Call, Any]] = []
        try:
            reader = AsyncReader(engine)
            writing = [
                asyncio.create_task(_write_async(engine, built, moment, number))
                for number in range(WRITERS)
            ]
            rounds = 0
            while rounds < 2 or not all(task.done() for task in writing):
                if not all(task.done() for task in writing):
                    mp_scenario_metrics["rounds_while_writing"] = rounds + 1
                for call in calls:
                    got = normalize(await getattr(reader, call.method)(*call.args, **call.kwargs))
                    if got != call.expected:
                        mismatches.append((call, got))
                rounds += 1
            await asyncio.gather(*writing)
        finally:
            await engine.dispose()
        return mismatches

    mismatches = asyncio.run(main())
    added = _rows_added(built)
    assert mp_scenario_metrics.get("rounds_while_writing"), "the writers finished first"
    mp_scenario_metrics["rows_added"] = added
    if mismatches:
        call, got = mismatches[0]
        pytest.fail(
            f"{len(mismatches)} answers differ; first: {call.label}\n"
            f"{difference(call.expected, got)}"
        )


async def _write_async(engine: Any, built: Built, moment: datetime, writer: int) -> None:
    for batch in _later_batches(built, moment, writer):
        await ingest_async(engine, built.shape.name, batch)


# -- replay exact with respect to commits -------------------------------------------------------


def _macro(series_id: int, day: int, known: timedelta, value: float) -> dict[str, Any]:
    obs = datetime(2024, 3, 1, tzinfo=UTC) + timedelta(days=day)
    return {"series_id": series_id, "obs_time": obs, "knowledge_time": obs + known, "value": value}


def _in_flight_batches(ids: list[int]) -> list[list[dict[str, Any]]]:
    """Four ingests over three series: a base, one held open, one that starts after it and
    commits before the cutoff, and one after the cutoff (with a revision of the base)."""
    a, b, c = ids
    hour = timedelta(hours=1)
    return [
        [_macro(a, 0, hour, 1.0), _macro(b, 0, hour, 10.0), _macro(c, 0, hour, 100.0)],
        [_macro(a, 0, 2 * hour, 2.0), _macro(a, 1, hour, 3.0)],
        [_macro(b, 0, 2 * hour, 20.0), _macro(b, 1, hour, 30.0)],
        [_macro(c, 0, 2 * hour, 200.0), _macro(c, 1, 3 * hour, 300.0)],
    ]


def _in_flight_built(settings: PostgresSettings, driver: str, engine: Engine) -> Built:
    """The in-flight scenario, with one legacy row (ingest_id 0, as if stored before the
    ingest log existed) that every cutoff must count."""
    ids = create_series(engine, "macro", 3)
    (foreign,) = create_series(engine, "curve", 1)
    batches = _in_flight_batches(ids)
    shape = TABLES["macro_observations"]
    legacy = _macro(ids[0], -3, timedelta(hours=5), 0.5)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO mp.macro_observations (series_id, obs_time, knowledge_time, value,"
                " revision, knowledge_time_source, ingest_id)"
                " VALUES (:series_id, :obs_time, :knowledge_time, :value, 0, 'vendor', 0)"
            ),
            legacy,
        )
    model = Model(shape)
    model.ingest([legacy], ingest_id=LEGACY_INGEST)
    return Built(
        shape,
        0,
        "off",
        driver,
        settings,
        model,
        ArrivalPlan([[legacy], *batches], [False] * 5),
        ids,
        foreign,
        foreign + 1000,
    )


def _check_all_replay_reads(built: Built) -> None:
    for read in READS:
        if read == "join_as_of":
            continue
        rng = random.Random(f"in-flight:{read}")
        calls = [
            call
            for call in READS[read](built, built.model, rng, True)
            if "ingested_before" in call.kwargs
        ]
        check(built, f"{read} (in-flight replay)", calls)


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_cutoff_excludes_an_ingest_in_flight(
    driver: str, mp_postgres_server: Any, mp_template_database: str
) -> None:
    """Ingest 2 is held open in another transaction while ingest 3 (started later) commits and
    the cutoff is taken; ingest 4 commits after the cutoff, then 2 commits. Every read with
    that cutoff answers as the model over ingests {1, 3} — before and after 2 commits — and
    with a cutoff taken at the end, over all four."""
    with scenario_database(mp_postgres_server, mp_template_database) as settings:
        engine = create_db_engine(settings)
        try:
            built = _in_flight_built(settings, driver, engine)
            if driver == "sync":
                _run_in_flight_sync(built, engine)
            else:
                asyncio.run(_run_in_flight_async(built))
            _check_all_replay_reads(built)
            answers = execute(built.settings, driver, [_everything(built)])
            assert answers == [_everything(built).expected]
            check(built, "datetime cutoffs", _datetime_cutoffs(built))
        finally:
            engine.dispose()


def _everything(built: Built) -> Call:
    """Without a cutoff, everything committed counts (the held ingest included)."""
    ids = built.series_ids
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    return Call(
        "as_of everything",
        "as_of",
        ("macro_observations", ids),
        {"as_of": moment},
        built.model.as_of(ids, as_of=moment),
    )


def _datetime_cutoffs(built: Built) -> list[Call]:
    """``ingested_before`` as a datetime: one after every commit counts everything, one
    before the first counts only the legacy row (ingest_id 0 counts for every cutoff)."""
    ids, model = built.series_ids, built.model
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    late, early = datetime(2100, 1, 1, tzinfo=UTC), datetime(2000, 1, 1, tzinfo=UTC)
    return [
        Call(
            f"as_of(ingested_before={when})",
            "as_of",
            ("macro_observations", ids),
            {"as_of": moment, "ingested_before": when},
            model.as_of(ids, as_of=moment, ingested_before=covered),
        )
        for when, covered in ((late, model.cutoff()), (early, frozenset[int]()))
    ]


def _run_in_flight_sync(built: Built, engine: Engine) -> None:
    reader, table, model = Reader(engine), built.shape.name, built.model
    _, base, held_back, overtaking, after = built.plan.batches
    ingest(engine, table, base)
    model.ingest(base, ingest_id=1)
    with engine.connect() as held:
        transaction = held.begin()
        ingest(held, table, held_back)
        model.ingest(held_back, ingest_id=2, commit=False)
        ingest(engine, table, overtaking)
        model.ingest(overtaking, ingest_id=3)
        built.cutoffs.append((model.cutoff(), reader.cutoff()))
        ingest(engine, table, after)
        model.ingest(after, ingest_id=4)
        # The in-flight ingest is excluded before it commits...
        _check_all_replay_reads(built)
        transaction.commit()
        model.commit(2)
    # ...and after (checked by the caller); a cutoff taken now covers all four.
    built.cutoffs.append((model.cutoff(), reader.cutoff()))


async def _run_in_flight_async(built: Built) -> None:
    engine = create_db_engine_async(built.settings)
    table, model = built.shape.name, built.model
    _, base, held_back, overtaking, after = built.plan.batches
    try:
        reader = AsyncReader(engine)
        await ingest_async(engine, table, base)
        model.ingest(base, ingest_id=1)
        async with engine.connect() as held:
            transaction = await held.begin()
            await ingest_async(held, table, held_back)
            model.ingest(held_back, ingest_id=2, commit=False)
            await ingest_async(engine, table, overtaking)
            model.ingest(overtaking, ingest_id=3)
            cutoff = await reader.cutoff()
            built.cutoffs.append((model.cutoff(), cutoff))
            await ingest_async(engine, table, after)
            model.ingest(after, ingest_id=4)
            # Checked on a thread of its own: the checks run their own event loop.
            await asyncio.to_thread(_check_all_replay_reads, built)
            await transaction.commit()
            model.commit(2)
        built.cutoffs.append((model.cutoff(), await reader.cutoff()))
    finally:
        await engine.dispose()
