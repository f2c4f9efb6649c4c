"""Read arguments as the contract accepts them (issue 11, "Arguments"): equivalent forms give
the model's answer, refused forms raise BadInputError naming the argument, for both readers.

Accepted: tz-aware datetime and pandas.Timestamp, numpy.datetime64 (read as UTC), a
``datetime.date`` for period arguments (start, end, obs_time: midnight UTC); series ids as an
int or any iterable of ints (numpy integers too). Refused: a date where an instant is meant
(as_of, decision times, a datetime cutoff), naive datetimes, strings, NaT; bool, str, float or
empty series ids; start > end.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pit_calls import check
from pit_harness import Built, Call, build, scenario_database
from reference.tables import TABLES

from mp_db import AsyncReader, BadInputError, Reader, create_db_engine, create_db_engine_async

pytestmark = pytest.mark.scenario("bad_inputs")


@pytest.fixture(
    scope="module",
    params=[
        ("curve_points", "sync"),
        ("curve_points", "async"),
        ("release_calendar", "sync"),
    ],
    ids=lambda param: f"{param[0]}-{param[1]}",
)
def built(
    request: pytest.FixtureRequest, mp_postgres_server: Any, mp_template_database: str
) -> Iterator[Built]:
    """A scenario (seed 21, keep off) per table and driver."""
    table, driver = request.param
    with scenario_database(mp_postgres_server, mp_template_database) as settings:
        yield build(TABLES[table], seed=21, keep="off", driver=driver, settings=settings)


def _numpy_utc(moment: datetime) -> np.datetime64:
    return np.datetime64(moment.astimezone(UTC).replace(tzinfo=None), "us")


def _forms(moment: datetime) -> list[tuple[str, Any]]:
    return [
        ("pandas.Timestamp", pd.Timestamp(moment)),
        ("pandas.Timestamp in New York", pd.Timestamp(moment).tz_convert("America/New_York")),
        ("numpy.datetime64", _numpy_utc(moment)),
    ]


def test_equivalent_argument_forms_answer_like_the_model(built: Built) -> None:
    """Timestamps, datetime64, dates for periods and other iterables of ids give the
    model's answer."""
    rng = random.Random(built.label)
    table, model, ids = built.shape.name, built.model, built.series_ids
    id_forms: list[tuple[str, Any, int | list[int]]] = [
        ("tuple", tuple(ids), ids),
        ("numpy int64 array", np.array(ids, dtype=np.int64), ids),
        ("set", set(ids), ids),
        ("generator", (item for item in ids), ids),
        ("numpy int32 scalar", np.int32(ids[0]), ids[0]),
    ]
    calls = []
    for moment in rng.sample(built.moments, 6):
        for name, form in _forms(moment):
            calls.append(
                Call(
                    f"as_of(as_of={name})",
                    "as_of",
                    (table, ids),
                    {"as_of": form},
                    model.as_of(ids, as_of=moment),
                )
            )
            calls.append(
                Call(
                    f"latest(as_of={name})",
                    "latest",
                    (table, ids),
                    {"as_of": form},
                    model.latest(ids, as_of=moment),
                )
            )
            calls.append(
                Call(
                    f"backtest([{name}])",
                    "backtest",
                    (table, ids, [form, moment]),
                    {},
                    model.backtest(ids, [moment, moment]),
                )
            )
    moment = rng.choice(built.moments)
    for name, series, same in id_forms:
        calls.append(
            Call(
                f"as_of(series_ids={name})",
                "as_of",
                (table, series),
                {"as_of": moment},
                model.as_of(same, as_of=moment),
            )
        )
    first, last = built.obs_times[0].date(), built.obs_times[-1].date()
    for read in ("first_release", "vintages", "intervals"):
        expected = getattr(model, read)(ids, start=_midnight(first), end=_midnight(last))
        calls.append(
            Call(
                f"{read}(start=date, end=date)",
                read,
                (table, ids),
                {"start": first, "end": last},
                expected,
            )
        )
    for period in built.obs_times:
        moment = built.moments[-1]
        calls.append(
            Call(
                f"cross_section(obs_time=date {period.date()})",
                "cross_section",
                (table, period.date()),
                {"as_of": moment},
                model.cross_section(_midnight(period.date()), as_of=moment),
            )
        )
    check(built, "argument forms", calls)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _refusals(built: Built) -> list[tuple[str, str, tuple[Any, ...], dict[str, Any], str]]:
    """(label, method, args, kwargs, the argument the error must name)."""
    table, ids = built.shape.name, built.series_ids
    moment = built.moments[-1]
    start, end = built.obs_times[0], built.obs_times[-1]
    refusals: list[tuple[str, str, tuple[Any, ...], dict[str, Any], str]] = [
        ("as_of=date", "as_of", (table, ids), {"as_of": moment.date()}, "as_of"),
        ("as_of naive", "as_of", (table, ids), {"as_of": moment.replace(tzinfo=None)}, "as_of"),
        ("as_of string", "as_of", (table, ids), {"as_of": moment.isoformat()}, "as_of"),
        ("as_of pandas.NaT", "latest", (table, ids), {"as_of": pd.NaT}, "as_of"),
        ("as_of numpy NaT", "latest", (table, ids), {"as_of": np.datetime64("NaT")}, "as_of"),
        ("as_of int", "latest", (table, ids), {"as_of": 1700000000}, "as_of"),
        ("decision time date", "backtest", (table, ids, [moment.date()]), {}, "decision"),
        (
            "decision time naive",
            "backtest",
            (table, ids, [moment.replace(tzinfo=None)]),
            {},
            "decision",
        ),
        (
            "ingested_before=date",
            "as_of",
            (table, ids),
            {"as_of": moment, "ingested_before": moment.date()},
            "ingested_before",
        ),
        ("series_ids bool", "as_of", (table, True), {"as_of": moment}, "series_id"),
        ("series_ids str", "as_of", (table, "1"), {"as_of": moment}, "series_id"),
        ("series_ids float", "as_of", (table, 1.0), {"as_of": moment}, "series_id"),
        ("series_ids empty", "as_of", (table, []), {"as_of": moment}, "series_id"),
        ("series_ids [bool]", "latest", (table, [True]), {"as_of": moment}, "series_id"),
        (
            "start naive",
            "vintages",
            (table, ids),
            {"start": start.replace(tzinfo=None), "end": end},
            "start",
        ),
    ]
    for read in ("as_of", "first_release", "vintages", "intervals"):
        extra = {"as_of": moment} if read == "as_of" else {}
        refusals.append(
            (
                f"{read} start > end",
                read,
                (table, ids),
                {"start": end, "end": start, **extra},
                "start",
            )
        )
    refusals.append(
        (
            "cross_section obs_time string",
            "cross_section",
            (table, start.isoformat()),
            {"as_of": moment},
            "obs_time",
        )
    )
    refusals.append(
        ("vintage_dates series_ids str", "vintage_dates", (table, "12"), {}, "series_id")
    )
    return refusals


def test_refused_arguments_name_the_argument(built: Built) -> None:
    """Each refused form raises BadInputError, and its message names the argument."""
    refusals = _refusals(built)
    if built.driver == "sync":
        engine = create_db_engine(built.settings)
        try:
            outcomes = [_refuse_sync(Reader(engine), item) for item in refusals]
        finally:
            engine.dispose()
    else:
        import asyncio

        outcomes = asyncio.run(_refuse_all_async(built, refusals))
    wrong = [outcome for outcome in outcomes if outcome]
    assert not wrong, "\n".join(wrong)


def _verdict(label: str, argument: str, error: BaseException | None) -> str:
    if error is None:
        return f"{label}: accepted, BadInputError expected"
    if not isinstance(error, BadInputError):
        return f"{label}: raised {type(error).__name__}: {error}"
    if argument not in str(error):
        return f"{label}: the message does not name {argument!r}: {error}"
    return ""


def _refuse_sync(
    reader: Reader, item: tuple[str, str, tuple[Any, ...], dict[str, Any], str]
) -> str:
    label, method, args, kwargs, argument = item
    try:
        getattr(reader, method)(*args, **kwargs)
    except Exception as error:
        return _verdict(label, argument, error)
    return _verdict(label, argument, None)


async def _refuse_all_async(
    built: Built, refusals: list[tuple[str, str, tuple[Any, ...], dict[str, Any], str]]
) -> list[str]:
    engine = create_db_engine_async(built.settings)
    try:
        reader = AsyncReader(engine)
        outcomes = []
        for label, method, args, kwargs, argument in refusals:
            try:
                await getattr(reader, method)(*args, **kwargs)
            except Exception as error:
                outcomes.append(_verdict(label, argument, error))
            else:
                outcomes.append(_verdict(label, argument, None))
        return outcomes
    finally:
        await engine.dispose()
