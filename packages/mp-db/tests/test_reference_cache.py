"""The reference model with mp's cache in front of the reads (issue 11, cache coherence).

Per table, a scenario's batches are ingested with mp's cache invalidation on (real Redis);
after EVERY batch the reads CachedReader answers from the cache (as_of, latest, first_release,
backtest) are asked through it and must equal the model at that point: an entry cached before
an ingest must never be served after that ingest returned. The same calls run without the
cache in ``test_reference_reads.py``.

Only the psycopg path is covered here (CachedReader); AsyncCachedReader is exercised by the
driver fixture of the contract tests.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import enable_cache
from pit_calls import READS
from pit_harness import (
    Built,
    create_instruments,
    create_series,
    difference,
    normalize,
    vocabulary,
)
from reference.generators import arrival_plan
from reference.model import Model
from reference.tables import TABLES

from mp_cache import Cache, create_client
from mp_config import RedisSettings, reset_settings
from mp_db import CachedReader, Reader, create_db_engine, ingest

pytestmark = pytest.mark.scenario("nothing_lost")

#: The reads CachedReader answers from the cache (the others are the plain reader's).
CACHED_READS = ("as_of", "latest", "first_release", "backtest")
#: Calls of each read asked after each batch.
CALLS_PER_READ = 15
#: Ingest's own invalidation must keep the reader exact; the log is consulted rarely.
MAX_STALENESS_SECONDS = 3600.0


@pytest.fixture
def cache_settings(
    mp_redis_server: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RedisSettings]:
    """Redis settings with a prefix of this test's own, cache enabled for ingest too."""
    settings: RedisSettings = mp_redis_server.settings.model_copy(
        update={"key_prefix": f"mp-ref:{secrets.token_hex(4)}:", "cache_enabled": True}
    )
    enable_cache(monkeypatch, settings)
    yield settings
    reset_settings()


@pytest.mark.parametrize("table", list(TABLES))
def test_cached_reads_match_the_model_after_every_batch(
    table: str, mp_pg_settings: Any, cache_settings: RedisSettings
) -> None:
    """After each ingest returns, every cached read equals the model (no stale entry)."""
    shape = TABLES[table]
    engine = create_db_engine(mp_pg_settings)
    client = create_client(cache_settings)
    try:
        series_ids = create_series(engine, shape.kind, 2)
        (foreign,) = create_series(engine, "curve" if shape.kind != "curve" else "macro", 1)
        instruments = (0, *create_instruments(engine, 2))
        plan = arrival_plan(
            shape, series_ids=series_ids, vocabulary=vocabulary(instruments), seed=1, keep="off"
        )
        built = Built(
            shape,
            1,
            "off",
            "sync+cache",
            mp_pg_settings,
            Model(shape),
            plan,
            series_ids,
            foreign,
            foreign + 1000,
        )
        cached = CachedReader(
            Reader(engine),
            Cache(client, cache_settings, namespace=cache_settings.cache_namespace),
            max_staleness_seconds=MAX_STALENESS_SECONDS,
        )
        for number, (batch, flag) in enumerate(
            zip(plan.batches, plan.keep_republications, strict=True), start=1
        ):
            built.model.ingest(batch, ingest_id=number, keep_republications=flag)
            ingest(engine, shape.name, batch, keep_republications=flag)
            for read in CACHED_READS:
                rng = random.Random(f"{built.label}:{read}:{number}")
                calls = READS[read](built, built.model, rng, False)
                # Twice: the second answer comes from the cache the first one filled.
                for call in [*rng.sample(calls, min(len(calls), CALLS_PER_READ))] * 2:
                    got = normalize(getattr(cached, call.method)(*call.args, **call.kwargs))
                    if got != call.expected:
                        pytest.fail(
                            f"{read} through the cache after batch {number} on {built.label}: "
                            f"{call.label}\n{difference(call.expected, got)}"
                        )
    finally:
        client.close()
        engine.dispose()
