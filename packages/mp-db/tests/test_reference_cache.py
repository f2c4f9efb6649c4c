"""PLACEHOLDER: the reference model with mp's cache in front of the reads (issue 11).

The contract's cache coherence ("after an mp ingest call returns, no read through mp's cache
that starts afterwards returns pre-commit data while Redis is reachable") is to be checked by
running the reference-model reads through a cache-backed reader, with the cache on and off,
after every batch. No cache-backed reader had landed on main when this suite was written, so
this test is skipped with that reason; it must be replaced once one exists (see the report of
the reference-model branch).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.scenario("nothing_lost")


@pytest.mark.skip(
    reason="placeholder: no cache-backed reader on main yet; the reference-model reads through "
    "the cache (on and off, after each batch) are to be added when it lands"
)
def test_reads_through_the_cache_match_the_model() -> None:
    """Every read through the cache equals the model after each ingest returns."""
    raise AssertionError("placeholder: never runs")
