"""Every read x every fact table x both drivers equals the reference model (issue 11).

Each scenario (table, seed, keep_republications mode, driver) is a database of its own into
which a random valid history arrives in random batches (backfills, re-sends, conflicts,
revise-then-revert, shared instants, microsecond offsets, DST-crossing local times) through
``ingest`` (sync) or ``ingest_async``; the model applies the same batches. Then each read is
asked at T on and one microsecond beside every knowledge time, over several ranges, series
selections (including a series of another kind and an unknown id) and replay cutoffs taken
after each batch, and must answer exactly what the model answers. A failure names the table,
read, driver, seed and the call.

The default run uses one seed per driver; ``nox -s reliability`` adds more seeds and batches
ingested with a mix of keep_republications flags.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

import pytest
from pit_calls import READS, check
from pit_harness import Built, build, check_ingest, scenario_database
from reference.tables import TABLES

pytestmark = pytest.mark.scenario("nothing_lost")

#: The default run: one seed per driver (different ones, so the two drivers see different
#: histories), every table, keep_republications off and on.
DEFAULT_SEEDS = {"sync": 1, "async": 2}
#: ``nox -s reliability`` runs these seeds for both drivers, with batches ingested with
#: keep_republications off, on, and a random flag each ("mixed"). MP_REFERENCE_SEEDS raises the
#: count for a deeper search (CI keeps the default).
LONG_SEEDS = tuple(range(1, 1 + int(os.environ.get("MP_REFERENCE_SEEDS", "3"))))
DRIVERS = ("sync", "async")


def _scenarios() -> list[Any]:
    params = []
    for table in TABLES:
        for driver in DRIVERS:
            for seed in LONG_SEEDS:
                for keep in ("off", "on", "mixed"):
                    default = seed == DEFAULT_SEEDS[driver] and keep != "mixed"
                    params.append(
                        pytest.param(
                            (table, seed, keep, driver),
                            id=f"{table}-seed{seed}-keep_{keep}-{driver}",
                            marks=[] if default else [pytest.mark.reliability],
                        )
                    )
    return params


@pytest.fixture(scope="module", params=_scenarios())
def built(
    request: pytest.FixtureRequest, mp_postgres_server: Any, mp_template_database: str
) -> Iterator[Built]:
    """One scenario, ingested; shared by the read tests of that scenario."""
    table, seed, keep, driver = request.param
    with scenario_database(mp_postgres_server, mp_template_database) as settings:
        scenario = build(TABLES[table], seed=seed, keep=keep, driver=driver, settings=settings)
        scenario.open_readers()
        try:
            yield scenario
        finally:
            scenario.close()


def test_ingest_matches_model(built: Built) -> None:
    """Each batch's IngestReport has the model's counts and adds up, and the table holds
    exactly the model's rows (values, revisions, sources) at the end."""
    check_ingest(built)


def test_rows_carry_their_ingest_id(built: Built) -> None:
    """Every stored row carries the ingest_id of the ingest call that stored it (the one its
    IngestReport names), and different calls have different ids."""
    assert built.stored, "every scenario stores rows"
    assert "ingest_id" in built.stored[0], f"no ingest_id column on {built.shape.name}"
    reported = [getattr(report, "ingest_id", None) for _, report in built.reports]
    assert None not in reported, "IngestReport has no ingest_id"
    assert len(set(reported)) == len(reported), f"ingest ids repeat: {reported}"
    expected = [reported[row.ingest_id - 1] for row in built.model.stored()]
    assert [row["ingest_id"] for row in built.stored] == expected, built.label


@pytest.mark.parametrize("read", list(READS))
def test_read_matches_model(built: Built, read: str) -> None:
    """The read answers exactly what the model answers, for every call built for it."""
    rng = random.Random(f"{built.label}:{read}")
    check(built, read, READS[read](built, built.model, rng, False))


@pytest.mark.parametrize("read", [read for read in READS if read != "join_as_of"])
def test_replay_read_matches_model(built: Built, read: str) -> None:
    """With ``ingested_before`` set to a cutoff taken after some of the batches (one passed
    through ``str`` and ``Cutoff.parse``), the read answers what the model answers over just
    the ingests committed when that cutoff was taken."""
    rng = random.Random(f"{built.label}:{read}:replay")
    calls = READS[read](built, built.model, rng, True)
    check(built, read, [call for call in calls if "ingested_before" in call.kwargs])
