"""The async curve connector against a real, migrated database."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime
from typing import Any

from curve_example import TENORS, curve_as_of, load, published, register
from mp_db import AsyncDatabase, IngestReport

Run = Callable[[Callable[[AsyncDatabase], Coroutine[Any, Any, Any]]], Any]
CURVES = {
    date(2024, 7, 3): (
        5.48,
        5.50,
        5.47,
        5.41,
        5.31,
        5.08,
        4.71,
        4.51,
        4.32,
        4.33,
        4.36,
        4.63,
        4.55,
    ),
    date(2024, 7, 5): (
        5.49,
        5.51,
        5.47,
        5.39,
        5.27,
        5.01,
        4.60,
        4.38,
        4.22,
        4.24,
        4.28,
        4.56,
        4.47,
    ),
}
CORRECTED = (5.49, 5.51, 5.47, 5.39, 5.27, 5.01, 4.62, 4.38, 4.22, 4.24, 4.28, 4.56, 4.47)


def test_corrections_are_published_on_business_days() -> None:
    """4 July is a federal holiday: a correction dated then comes out on 5 July."""
    assert published(date(2024, 7, 4)) == date(2024, 7, 5)
    assert published(date(2024, 7, 6)) == date(2024, 7, 8)


def test_load_is_idempotent(with_database: Run) -> None:
    """26 points, then nothing new on a re-run; the series is registered once."""

    async def work(database: AsyncDatabase) -> tuple[IngestReport, IngestReport, int, int]:
        first = await load(database, CURVES)
        again = await load(database, CURVES)
        ids = {(await register(database)).series_id for _ in range(2)}
        return first, again, len(ids), len(TENORS)

    first, again, ids, tenors = with_database(work)
    assert (first.received, first.inserted) == (2 * tenors, 2 * tenors)
    assert (again.inserted, again.already_stored) == (0, 2 * tenors)
    assert ids == 1


def test_a_correction_is_a_new_version(with_database: Run) -> None:
    """The 5 July curve at 18:00 EDT (22:00Z); its 2Y corrected on 8 July: as-of reads before
    the correction see the first print, after it the corrected value."""

    async def work(database: AsyncDatabase) -> list[dict[str, float]]:
        await load(database, CURVES, {(date(2024, 7, 5), date(2024, 7, 8)): CORRECTED})
        day = date(2024, 7, 5)
        moments = [
            datetime(2024, 7, 5, 21, 59, tzinfo=UTC),
            datetime(2024, 7, 5, 22, 0, tzinfo=UTC),
            datetime(2024, 7, 8, 22, 0, tzinfo=UTC),
        ]
        return [await curve_as_of(database, day, as_of=moment) for moment in moments]

    before, first_print, corrected = with_database(work)
    assert before == {}
    assert first_print["2Y"] == 4.60
    assert len(first_print) == 13
    assert corrected["2Y"] == 4.62
    assert corrected["10Y"] == 4.28
