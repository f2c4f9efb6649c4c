"""What every section of the mp-db benchmark shares: sizes, the database context, timing."""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mp_testing import ThrowawayPostgres

__all__ = [
    "FULL",
    "QUICK",
    "Context",
    "Sizes",
    "Timing",
    "interleaved",
    "log",
    "quiet_gc",
    "ratio",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Sizes:
    """How much work each section does."""

    backfill_series: int
    backfill_years: float
    backfill_vintages: int
    ingest_repeats: int
    subset_rows: int
    handwritten_repeats: int
    read_series: int
    read_years: float
    read_vintages: int
    read_repeats: int
    backtest_days: int
    backtest_repeats: int
    growth_millions: tuple[float, ...]
    growth_repeats: int

    def as_dict(self) -> dict[str, Any]:
        """Plain values for the JSON results."""
        return asdict(self)


FULL = Sizes(
    backfill_series=20,
    backfill_years=30,
    backfill_vintages=5,
    ingest_repeats=3,
    subset_rows=50_000,
    handwritten_repeats=3,
    read_series=500,
    read_years=4,
    read_vintages=2,
    read_repeats=20,
    backtest_days=2500,
    backtest_repeats=5,
    growth_millions=(0.1, 1.0, 10.0),
    growth_repeats=20,
)
QUICK = Sizes(
    backfill_series=4,
    backfill_years=3,
    backfill_vintages=5,
    ingest_repeats=2,
    subset_rows=5_000,
    handwritten_repeats=2,
    read_series=500,
    read_years=0.25,
    read_vintages=2,
    read_repeats=5,
    backtest_days=250,
    backtest_repeats=2,
    growth_millions=(0.02, 0.1),
    growth_repeats=5,
)


def log(message: str) -> None:
    """Progress on stderr (the results go to files)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Context:
    """The throwaway database and the clients every section uses.

    Attributes:
        server: the cluster (its superuser runs CHECKPOINT between timed loads).
        engine: mp-db's sync engine (psycopg 3).
        async_engine: mp-db's async engine (asyncpg), used on ``runner``'s event loop.
        runner: one event loop for the whole run, so pooled asyncpg connections stay valid.
        sizes: how much work to do.
    """

    server: ThrowawayPostgres
    engine: Engine
    async_engine: AsyncEngine
    runner: asyncio.Runner
    sizes: Sizes

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the benchmark's event loop."""
        return self.runner.run(coroutine)

    def checkpoint(self) -> None:
        """Flush dirty pages now, so no timed load pays for an earlier one's checkpoint."""
        with self.server.cluster.connect_admin("mp") as admin:
            admin.execute("CHECKPOINT")

    def empty_table(self) -> None:
        """Start a first load from nothing: TRUNCATE drops the hypertable's chunks too."""
        with self.engine.begin() as connection:
            connection.execute(text("TRUNCATE mp.macro_observations"))
        self.checkpoint()

    def analyze(self) -> None:
        """VACUUM (ANALYZE): fresh statistics and visibility map before reads.

        Autovacuum would do the same on its own schedule, possibly in the middle of a timed
        read; doing it here makes every run read the same settled table.
        """
        with self.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.execute(text("VACUUM (ANALYZE) mp.macro_observations"))

    def stored_rows(self) -> int:
        """Rows in the hypertable."""
        with self.engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM mp.macro_observations"))
            return int(count.scalar_one())


@dataclass
class Timing:
    """Samples of one variant (seconds) and what its last run returned."""

    samples: list[float]
    last: Any = None

    @property
    def median(self) -> float:
        """The median sample."""
        return statistics.median(self.samples)

    def as_dict(self) -> dict[str, Any]:
        """Median, spread and every raw sample."""
        return {
            "median_seconds": self.median,
            "min_seconds": min(self.samples),
            "max_seconds": max(self.samples),
            "samples_seconds": self.samples,
        }


@contextmanager
def quiet_gc(*, collect: bool = True) -> Iterator[None]:
    """Hide the objects alive now from Python's cyclic garbage collector for the duration.

    The benchmark holds millions of input rows for later sections. A full collection,
    triggered by whichever variant happens to allocate at the wrong moment, walks all of them
    and bills that variant (measured: a 52k-row read went from 224 to 349 ms). Frozen objects
    are still freed by reference counting; garbage made by the timed code is collected as
    usual.
    """
    if collect:
        gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def interleaved(
    variants: dict[str, Callable[[], object]],
    repeats: int,
    *,
    before: Callable[[str], object] | None = None,
    warm_up: bool = False,
) -> dict[str, Timing]:
    """Time each variant ``repeats`` times, round-robin with a rotating start.

    On a shared machine load drifts; running every variant once per round spreads the drift
    over all of them instead of penalizing whichever ran during a busy minute. ``before`` runs
    untimed ahead of each sample (for example emptying the table); ``warm_up`` runs each
    variant once untimed first (plans, caches, pooled connections).
    """
    names = list(variants)
    if warm_up:
        for name in names:
            if before is not None:
                before(name)
            variants[name]()
    timings = {name: Timing([]) for name in names}
    with quiet_gc():
        for repeat in range(repeats):
            shift = repeat % len(names)
            for name in names[shift:] + names[:shift]:
                if before is not None:
                    before(name)
                started = time.perf_counter()
                result = variants[name]()
                timings[name].samples.append(time.perf_counter() - started)
                timings[name].last = result
    return timings


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is zero."""
    return numerator / denominator if denominator else None
