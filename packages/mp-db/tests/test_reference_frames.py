"""Frames in equal the reference model on every fact table, both drivers.

The scenarios of ``test_reference_reads.py`` (random histories in random batches: backfills,
re-sends, conflicts, copies inside a batch, revise-then-revert), each batch ingested as a
pyarrow Table instead of dicts. A frame takes the column path: its chunks are judged on
columns, against the stored rows fetched once, when anything is stored for them
(:mod:`mp_db._stored_judgement`), and only the rest goes through the merge. Every batch's
report and the rows stored at the end must be exactly the model's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pit_harness import Built, build, check_ingest, scenario_database
from reference.tables import TABLES

pytestmark = pytest.mark.scenario("nothing_lost")

#: Seeds apart from the dict scenarios', so these histories differ from theirs.
SEEDS = {"sync": 21, "async": 22}


@pytest.fixture(
    scope="module",
    params=[
        pytest.param((table, driver, keep), id=f"{table}-{driver}-keep_{keep}")
        for table in TABLES
        for driver in SEEDS
        for keep in ("off", "mixed")
    ],
)
def built(
    request: pytest.FixtureRequest, mp_postgres_server: Any, mp_template_database: str
) -> Iterator[Built]:
    """One scenario, every batch ingested as a frame."""
    table, driver, keep = request.param
    with scenario_database(mp_postgres_server, mp_template_database) as settings:
        yield build(
            TABLES[table],
            seed=SEEDS[driver],
            keep=keep,
            driver=driver,
            settings=settings,
            frames=True,
        )


def test_frames_ingest_as_the_model_does(built: Built) -> None:
    """Each batch's report has the model's counts, and the table holds exactly the model's
    rows (values, revisions, sources) at the end."""
    check_ingest(built)
