"""Random but valid batches for each fact table, and the arrival orders that stress the merge.

A scenario is a few series x a few observations (x a few entities), each observation with one
to four publications whose values come from a small palette (so restatements are common), then
split into batches that arrive in random order: late backfills, exact re-sends (with another
``knowledge_time_source``, which must decide nothing), conflicting versions of a stored key,
revise-then-revert histories, exact copies inside a batch, knowledge times shared by many rows,
one microsecond apart, and local release times (08:30 New York, 07:00 London) on days around the
daylight-saving changes, given in their local zone.

Standard library only; the vocabularies the schema allows (trader categories, release statuses,
instrument ids) are passed in by the tests.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from reference.tables import TableShape

__all__ = ["ArrivalPlan", "Vocabulary", "arrival_plan", "moments_around"]

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
#: First observation days: the Fridays before the US and European daylight-saving changes of
#: 2024, so release times at local 08:30 / 07:00 move by an hour in UTC within a scenario.
BASE_DAYS = (date(2024, 3, 8), date(2024, 3, 29), date(2024, 11, 1), date(2024, 10, 25))
TENORS = ("ON", "1W", "3M", "2Y", "10Y", "30Y")
SOURCES = ("vendor", "calendar", "rule", "captured")
MICROSECOND = timedelta(microseconds=1)
#: How much older every other series' history is (104 weeks: the same weekdays).
EARLIER = timedelta(weeks=104)


@dataclass(frozen=True)
class Vocabulary:
    """Values the schema allows, read from mp_schema by the tests (the model never imports it)."""

    categories: tuple[str, ...]
    statuses: tuple[str, ...]
    instruments: tuple[int, ...]


@dataclass
class ArrivalPlan:
    """Batches in arrival order, with the flag each one is ingested with."""

    batches: list[list[dict[str, Any]]]
    keep_republications: list[bool]
    features: set[str] = field(default_factory=set)


def _value_maker(
    shape: TableShape, vocabulary: Vocabulary
) -> Callable[[random.Random], dict[str, Any]]:
    """One random, valid set of value columns for ``shape``."""

    def number(rng: random.Random) -> float:
        return rng.choice([-1.5, 0.0, 0.25, 1.0, 2.0, 3.125, 1e-9, 12345.678])

    def macro(rng: random.Random) -> dict[str, Any]:
        return {"value": number(rng)}

    def bars(rng: random.Random) -> dict[str, Any]:
        low = rng.choice([10.0, 10.5, 99.25])
        high = low + rng.choice([0.0, 0.5, 2.0])
        prices = {
            "open": rng.choice([low, high, None]),
            "high": rng.choice([high, None]),
            "low": rng.choice([low, None]),
            "close": rng.choice([low, high, None]),
            "settle": rng.choice([high, None]),
        }
        if all(value is None for value in prices.values()):
            prices["close"] = low  # a bar needs a price
        return {
            **prices,
            "volume": rng.choice([0.0, 1500.0, None]),
            "open_interest": rng.choice([0.0, 42.0, None]),
        }

    def releases(rng: random.Random) -> dict[str, Any]:
        day = rng.choice(BASE_DAYS) + timedelta(days=rng.randrange(5))
        zone = rng.choice([NEW_YORK, LONDON])
        return {
            "scheduled_at": datetime.combine(day, time(8, 30), zone),
            "status": rng.choice(vocabulary.statuses),
            "consensus": rng.choice([None, 0.2, 0.3]),
            "actual": rng.choice([None, 0.1, 0.4]),
            "prior": rng.choice([None, 0.25]),
        }

    def positioning(rng: random.Random) -> dict[str, Any]:
        figures = {
            "long_positions": rng.choice([None, 0.0, 1000.0, 2500.0]),
            "short_positions": rng.choice([None, 0.0, 800.0]),
            "spread_positions": rng.choice([None, 50.0]),
            "value": rng.choice([None, -300.0, 120.0]),
        }
        if all(value is None for value in figures.values()):
            figures["value"] = 7.0  # a positioning row needs a figure
        return figures

    makers = {
        "macro_observations": macro,
        "rate_fixings": macro,
        "curve_points": macro,
        "signal_values": macro,
        "market_bars": bars,
        "release_calendar": releases,
        "positioning_flows": positioning,
    }
    return makers[shape.name]


def _palette(shape: TableShape, vocabulary: Vocabulary, rng: random.Random) -> list[dict[str, Any]]:
    """Three distinct value sets: few enough that restatements and reverts happen often."""
    make = _value_maker(shape, vocabulary)
    palette: list[dict[str, Any]] = []
    while len(palette) < 3:
        candidate = make(rng)
        if candidate not in palette:
            palette.append(candidate)
    return palette


def _entities(
    shape: TableShape, vocabulary: Vocabulary, rng: random.Random
) -> list[dict[str, Any]]:
    if not shape.entities:
        return [{}]
    (entity,) = shape.entities
    choices: tuple[Any, ...] = {
        "tenor": TENORS,
        "category": vocabulary.categories,
        "instrument_id": vocabulary.instruments,
    }[entity]
    return [
        {entity: value} for value in rng.sample(choices, k=min(len(choices), rng.randint(1, 3)))
    ]


def _obs_time(shape: TableShape, day: date, rng: random.Random) -> datetime:
    midnight = datetime.combine(day, time(0), UTC)
    if shape.dated:
        return midnight
    # Undated (signals): any instant, sometimes a microsecond off a round time.
    return midnight + timedelta(
        hours=rng.choice([0, 9, 14]), microseconds=rng.choice([0, 1, 999_999])
    )


def _knowledge_candidates(shape: TableShape, obs: datetime, rng: random.Random) -> list[datetime]:
    """Instants a version may become known: local release times around DST changes (given in
    their zone), UTC instants shared by many rows, one microsecond apart, and obs_time itself."""
    day = obs.date()
    lags = range(-3, 7) if not shape.knowledge_after_obs else range(7)
    candidates: list[datetime] = []
    for lag in lags:
        moment = day + timedelta(days=lag)
        candidates.append(datetime.combine(moment, time(8, 30), NEW_YORK))
        candidates.append(datetime.combine(moment, time(7, 0), LONDON))
        shared = datetime.combine(moment, time(21, 0), UTC)
        candidates += [shared, shared + MICROSECOND]
    candidates.append(obs)
    candidates.append(obs + MICROSECOND)
    if shape.knowledge_after_obs:
        candidates = [moment for moment in candidates if moment >= obs]
    rng.shuffle(candidates)
    return candidates


def _history(
    shape: TableShape, palette: list[dict[str, Any]], obs: datetime, rng: random.Random
) -> tuple[list[tuple[datetime, dict[str, Any]]], set[str]]:
    """One to four publications of one observation, in knowledge-time order."""
    features: set[str] = set()
    candidates = _knowledge_candidates(shape, obs, rng)
    count = rng.randint(1, 4)
    chosen: list[datetime] = []
    for moment in candidates:
        if all(moment.astimezone(UTC) != other.astimezone(UTC) for other in chosen):
            chosen.append(moment)
        if len(chosen) == count:
            break
    chosen.sort(key=lambda moment: moment.astimezone(UTC))
    if len(chosen) >= 3 and rng.random() < 0.4:
        first, second = rng.sample(palette, 2)
        values = [first, second, first] + [rng.choice(palette) for _ in chosen[3:]]
        features.add("revise_then_revert")
    else:
        values = [rng.choice(palette) for _ in chosen]
    if any(a == b for a, b in itertools.pairwise(values)):
        features.add("restatement")
    return list(zip(chosen, values, strict=True)), features


def arrival_plan(
    shape: TableShape,
    *,
    series_ids: list[int],
    vocabulary: Vocabulary,
    seed: int,
    keep: str,
) -> ArrivalPlan:
    """A random valid history of ``shape`` split into batches in a random arrival order.

    ``keep``: ``"off"`` (every batch without keep_republications), ``"on"`` (every batch with
    it, from the first) or ``"mixed"`` (a random flag per batch).
    """
    rng = random.Random(f"{shape.name}:{seed}:{keep}")
    palette = _palette(shape, vocabulary, rng)
    base = rng.choice(BASE_DAYS)
    features: set[str] = set()
    publications: list[dict[str, Any]] = []
    for number, series_id in enumerate(series_ids):
        entities = _entities(shape, vocabulary, rng)
        # Every other series' history is two years older: at T after it, its latest print lies
        # before the window mp looks in first (LATEST_WINDOW), beside series inside it.
        start = base - (EARLIER if number % 2 else timedelta(0))
        for day_offset in rng.sample(range(5), k=rng.randint(1, 3)):
            obs = _obs_time(shape, start + timedelta(days=day_offset), rng)
            for entity in entities:
                history, found = _history(shape, palette, obs, rng)
                features |= found
                for moment, values in history:
                    publications.append(
                        {
                            "series_id": series_id,
                            "obs_time": obs,
                            **entity,
                            "knowledge_time": moment,
                            **values,
                        }
                    )
    count = rng.randint(2, 5)
    batches: list[list[dict[str, Any]]] = [[] for _ in range(count)]
    for publication in publications:
        batches[rng.randrange(count)].append(publication)
    batches = [batch for batch in batches if batch]
    rng.shuffle(batches)  # later knowledge often arrives first: late backfills
    features.add("backfill")
    batches = _with_conflicts(batches, palette, rng, features)
    batches = [_with_source(batch, rng) for batch in batches]
    if rng.random() < 0.7:
        # An exact re-send of an earlier batch, stamped with another source.
        again = rng.choice(batches)
        source = rng.choice(SOURCES)
        batches.insert(
            rng.randrange(batches.index(again) + 1, len(batches) + 1),
            [{**row, "knowledge_time_source": source} for row in again],
        )
        features.add("resend")
    for batch in batches:
        if rng.random() < 0.3:
            batch.append(dict(rng.choice(batch)))  # an exact copy inside the batch
            features.add("in_batch_copy")
    flags = {
        "off": [False] * len(batches),
        "on": [True] * len(batches),
        "mixed": [rng.random() < 0.5 for _ in batches],
    }[keep]
    return ArrivalPlan(batches, flags, features)


def _with_conflicts(
    batches: list[list[dict[str, Any]]],
    palette: list[dict[str, Any]],
    rng: random.Random,
    features: set[str],
) -> list[list[dict[str, Any]]]:
    """Copies of some rows with other values, in another batch (never the same one: that
    would be a duplicate key). Whichever arrives first is stored; the other is a conflict."""
    if len(batches) < 2:
        batches.append([])
    for _ in range(rng.randint(0, 3)):
        origin = rng.randrange(len(batches))
        if not batches[origin]:
            continue
        row = rng.choice(batches[origin])
        values = {column: row[column] for column in palette[0]}
        other = rng.choice([candidate for candidate in palette if candidate != values])
        target = rng.choice([index for index in range(len(batches)) if index != origin])
        key = _key(row)
        if any(_key(existing) == key for existing in batches[target]):
            continue
        batches[target].append({**row, **other})
        features.add("conflict")
    return [batch for batch in batches if batch]


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["series_id"],
        row["obs_time"],
        row.get("tenor"),
        row.get("category"),
        row.get("instrument_id"),
        row["knowledge_time"].astimezone(UTC),
    )


def _with_source(batch: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    source = rng.choice(SOURCES)
    return [{**row, "knowledge_time_source": source} for row in batch]


def moments_around(plan: ArrivalPlan) -> list[datetime]:
    """Every knowledge_time of the plan, one microsecond before and after it, and instants
    before and after everything (UTC, sorted, distinct)."""
    known = {row["knowledge_time"].astimezone(UTC) for batch in plan.batches for row in batch}
    moments = {
        moment + delta for moment in known for delta in (-MICROSECOND, timedelta(0), MICROSECOND)
    }
    moments |= {min(known) - timedelta(days=1), max(known) + timedelta(days=1)}
    return sorted(moments)
