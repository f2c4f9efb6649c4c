"""The calls each read is checked with, and the model's answer to each (shared by the
reference-model tests: plain reads, replay, concurrent writers, in-flight ingests).

Every builder takes a :class:`~pit_harness.Built` scenario and returns :class:`Call` objects;
with ``replay`` it returns only calls with ``ingested_before`` set to one of the scenario's
cutoffs (one passed through ``str`` and ``Cutoff.parse``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from pit_harness import Built, Call, difference, execute
from reference.model import Model

__all__ = ["READS", "check", "replays"]


def check(built: Built, read: str, calls: list[Call]) -> None:
    """Run ``calls`` through the scenario's driver; fail on the first answer that differs
    from the model's, naming the read, the scenario and the call."""
    assert calls, f"no calls for {read}"
    if built.readers is not None:
        answers = built.readers.execute(calls)
    else:
        answers = execute(built.settings, built.driver, calls)
    for call, got in zip(calls, answers, strict=True):
        if got != call.expected:
            pytest.fail(f"{read} on {built.label}: {call.label}\n{difference(call.expected, got)}")


def _sample(rng: random.Random, items: list[Any], count: int) -> list[Any]:
    return items if len(items) <= count else rng.sample(items, count)


def _ranges(built: Built, rng: random.Random) -> list[tuple[datetime | None, datetime | None]]:
    """The whole span, an empty range (start == end), a few inner ones: [start, end); and
    the windows open at one end or both (None: all time that way), which mp-db reads with
    statements of their own (no bounds)."""
    times = built.obs_times
    wide = (times[0] - timedelta(days=30), times[-1] + timedelta(days=30))
    ranges: list[tuple[datetime | None, datetime | None]] = [wide, (times[0], times[0])]
    for _ in range(2):
        start, end = sorted(rng.sample([*times, wide[0], wide[1]], 2))
        ranges.append((start, end))
    middle = rng.choice(times)
    ranges += [(None, None), (middle, None), (None, middle)]
    return ranges


def replays(
    built: Built, rng: random.Random, replay: bool
) -> list[tuple[str, frozenset[int], Any]]:
    """(label, model cutoff, mp-db cutoff) for a few cutoffs (none unless ``replay``); one
    goes through str/parse."""
    if not replay:
        return []
    chosen = _sample(rng, list(enumerate(built.cutoffs)), 3)
    result = []
    for index, (position, (covered, taken)) in enumerate(chosen):
        assert not isinstance(taken, BaseException), f"reader.cutoff() failed: {taken!r}"
        label = f"cutoff {position} ({taken})"
        cutoff = taken
        if index == 0:
            cutoff = type(taken).parse(str(taken))
            label += " via str/parse"
        result.append((label, covered, cutoff))
    return result


def _as_of_calls(built: Built, model: Model, rng: random.Random, replay: bool) -> list[Call]:
    table, ids = built.shape.name, built.all_ids
    calls = [
        Call(
            f"as_of(all ids, T={t})", "as_of", (table, ids), {"as_of": t}, model.as_of(ids, as_of=t)
        )
        for t in built.moments
    ]
    for start, end in _ranges(built, rng):
        for series_id in built.series_ids:
            for t in _sample(rng, built.moments, 3):
                calls.append(
                    Call(
                        f"as_of({series_id}, T={t}, [{start}, {end}))",
                        "as_of",
                        (table, series_id),
                        {"as_of": t, "start": start, "end": end},
                        model.as_of(series_id, as_of=t, start=start, end=end),
                    )
                )
    for label, covered, cutoff in replays(built, rng, replay):
        for t in _sample(rng, built.moments, 8):
            calls.append(
                Call(
                    f"as_of(all ids, T={t}, {label})",
                    "as_of",
                    (table, ids),
                    {"as_of": t, "ingested_before": cutoff},
                    model.as_of(ids, as_of=t, ingested_before=covered),
                )
            )
    return calls


def _latest_calls(built: Built, model: Model, rng: random.Random, replay: bool) -> list[Call]:
    table, ids = built.shape.name, built.all_ids
    calls = []
    for t in built.moments:
        calls.append(
            Call(
                f"latest(all ids, T={t})",
                "latest",
                (table, ids),
                {"as_of": t},
                model.latest(ids, as_of=t),
            )
        )
        series_id = rng.choice(built.series_ids)
        calls.append(
            Call(
                f"latest({series_id}, T={t})",
                "latest",
                (table, series_id),
                {"as_of": t},
                model.latest(series_id, as_of=t),
            )
        )
    for label, covered, cutoff in replays(built, rng, replay):
        for t in _sample(rng, built.moments, 8):
            calls.append(
                Call(
                    f"latest(all ids, T={t}, {label})",
                    "latest",
                    (table, ids),
                    {"as_of": t, "ingested_before": cutoff},
                    model.latest(ids, as_of=t, ingested_before=covered),
                )
            )
    return calls


def _ranged_calls(name: str) -> Callable[[Built, Model, random.Random, bool], list[Call]]:
    """first_release, vintages, iter_vintages and intervals: ranges x as_of (None included)."""
    model_name = "vintages" if name == "iter_vintages" else name

    def calls(built: Built, model: Model, rng: random.Random, replay: bool) -> list[Call]:
        table, ids = built.shape.name, built.all_ids
        read = getattr(model, model_name)
        result = []
        for start, end in _ranges(built, rng):
            # iter_vintages runs vintages' statement as a stream: fewer calls suffice.
            count = 2 if name == "iter_vintages" else 5
            for t in [None, *_sample(rng, built.moments, count)]:
                for series in (ids, rng.choice(built.series_ids)):
                    arguments = {"start": start, "end": end, "as_of": t}
                    result.append(
                        Call(
                            f"{name}({series}, [{start}, {end}), as_of={t})",
                            name,
                            (table, series),
                            arguments,
                            read(series, **arguments),
                        )
                    )
        for label, covered, cutoff in replays(built, rng, replay):
            start, end = _ranges(built, rng)[0]
            for t in [None, *_sample(rng, built.moments, 4)]:
                arguments = {"start": start, "end": end, "as_of": t}
                result.append(
                    Call(
                        f"{name}(all ids, as_of={t}, {label})",
                        name,
                        (table, ids),
                        {**arguments, "ingested_before": cutoff},
                        read(ids, **arguments, ingested_before=covered),
                    )
                )
        return result

    return calls


def _vintage_dates_calls(
    built: Built, model: Model, rng: random.Random, replay: bool
) -> list[Call]:
    table, ids = built.shape.name, built.all_ids
    calls = []
    for t in [None, *_sample(rng, built.moments, 12)]:
        choices: list[int | list[int]] = [ids, *built.series_ids, built.unknown_id]
        for series in choices:
            calls.append(
                Call(
                    f"vintage_dates({series}, as_of={t})",
                    "vintage_dates",
                    (table, series),
                    {"as_of": t},
                    model.vintage_dates(series, as_of=t),
                )
            )
    for label, covered, cutoff in replays(built, rng, replay):
        calls.append(
            Call(
                f"vintage_dates(all ids, {label})",
                "vintage_dates",
                (table, ids),
                {"ingested_before": cutoff},
                model.vintage_dates(ids, ingested_before=covered),
            )
        )
    return calls


def _cross_section_calls(
    built: Built, model: Model, rng: random.Random, replay: bool
) -> list[Call]:
    table = built.shape.name
    calls = []
    periods = [*built.obs_times, built.obs_times[-1] + timedelta(days=1)]
    for period in periods:
        for t in _sample(rng, built.moments, 6):
            for series in (None, [built.series_ids[0], built.unknown_id], built.series_ids[-1]):
                extra = {} if series is None else {"series_ids": series}
                calls.append(
                    Call(
                        f"cross_section({period}, T={t}, series_ids={series})",
                        "cross_section",
                        (table, period),
                        {"as_of": t, **extra},
                        model.cross_section(period, as_of=t, series_ids=series),
                    )
                )
    for label, covered, cutoff in replays(built, rng, replay):
        period = rng.choice(built.obs_times)
        for t in _sample(rng, built.moments, 4):
            calls.append(
                Call(
                    f"cross_section({period}, T={t}, {label})",
                    "cross_section",
                    (table, period),
                    {"as_of": t, "ingested_before": cutoff},
                    model.cross_section(period, as_of=t, ingested_before=covered),
                )
            )
    return calls


def _decision_times(built: Built, rng: random.Random) -> list[list[datetime]]:
    """Unsorted, with duplicates, starting before anything is known; and single times, one
    of them early in the history (so a read at a past T always has a backtest to run whose
    decision times are all before it)."""
    moments = built.moments
    lists = []
    for _ in range(3):
        times = [moments[0], *rng.choices(moments, k=12)]
        rng.shuffle(times)
        lists.append(times)
    lists += [[rng.choice(moments)], [moments[len(moments) // 3]]]
    return lists


def _backtest_calls(built: Built, model: Model, rng: random.Random, replay: bool) -> list[Call]:
    table, ids = built.shape.name, built.all_ids
    calls = []
    for times in _decision_times(built, rng):
        for series in (ids, built.series_ids[0]):
            calls.append(
                Call(
                    f"backtest({series}, {times})",
                    "backtest",
                    (table, series, times),
                    {},
                    model.backtest(series, times),
                )
            )
    for label, covered, cutoff in replays(built, rng, replay):
        times = _decision_times(built, rng)[0]
        calls.append(
            Call(
                f"backtest(all ids, {times}, {label})",
                "backtest",
                (table, ids, times),
                {"ingested_before": cutoff},
                model.backtest(ids, times, ingested_before=covered),
            )
        )
    return calls


def _join_as_of_calls(built: Built, model: Model, rng: random.Random, replay: bool) -> list[Call]:
    """join_as_of over the release stream mp-db's vintages return (the model's own vintages
    stand for that stream on the model's side; the vintages test checks they agree)."""
    table, ids = built.shape.name, built.all_ids
    start, end = _ranges(built, rng)[0]
    read = {"start": start, "end": end}
    stream = model.vintages(ids, start=start, end=end)
    return [
        Call(
            f"join_as_of(vintages(all ids), {times})",
            "join_as_of",
            (table, ids, times, read),
            {},
            model.join_as_of(stream, times),
        )
        for times in _decision_times(built, rng)
    ]


READS: dict[str, Callable[[Built, Model, random.Random, bool], list[Call]]] = {
    "as_of": _as_of_calls,
    "latest": _latest_calls,
    "first_release": _ranged_calls("first_release"),
    "vintages": _ranged_calls("vintages"),
    "iter_vintages": _ranged_calls("iter_vintages"),
    "intervals": _ranged_calls("intervals"),
    "vintage_dates": _vintage_dates_calls,
    "cross_section": _cross_section_calls,
    "backtest": _backtest_calls,
    "join_as_of": _join_as_of_calls,
}
