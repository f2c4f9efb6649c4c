"""The reference model itself, without a database: it gives the contract's worked examples,
its table descriptions match the schema, and with keep_republications on for every batch its
reads do not depend on the arrival order (the contract's exactness claim)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pit_harness import vocabulary
from reference.generators import arrival_plan, moments_around
from reference.model import Model, ModelReport
from reference.tables import TABLES

from mp_schema import FACT_TABLES, fact_spec

D1 = datetime(2024, 3, 1, tzinfo=UTC)
D2, D3 = D1 + timedelta(days=1), D1 + timedelta(days=2)


def _macro(known: datetime, value: float) -> dict[str, Any]:
    return {"series_id": 1, "obs_time": D1, "knowledge_time": known, "value": value}


def _report(**counts: int) -> ModelReport:
    fields = dict.fromkeys(ModelReport.__dataclass_fields__, 0)
    return ModelReport(**{**fields, **counts})


def test_the_descriptions_match_the_schema() -> None:
    """Each hand-written table description says what mp_schema's FactSpec says."""
    assert set(TABLES) == set(FACT_TABLES)
    for name, shape in TABLES.items():
        spec = fact_spec(FACT_TABLES[name])
        assert (shape.kind, shape.entities, shape.values) == (
            spec.kind.value,
            spec.entity_columns,
            spec.value_columns,
        ), name
        assert (shape.knowledge_after_obs, shape.dated) == (
            spec.knowledge_after_obs,
            spec.dated,
        ), name


def test_a_conflict_never_hides_the_version_after_it() -> None:
    """Stored [D1=1.0], batch [D1=5.0, D2=5.0]: D1 is a conflict, D2 is revision 1."""
    model = Model(TABLES["macro_observations"])
    model.ingest([_macro(D1, 1.0)], ingest_id=1)
    report = model.ingest([_macro(D1, 5.0), _macro(D2, 5.0)], ingest_id=2)
    assert report == _report(received=2, inserted=1, revisions=1, conflicts=1)
    (row,) = model.as_of(1, as_of=D2)
    assert (row["value"], row["revision"]) == (5.0, 1)


def test_a_conflict_never_fakes_a_version() -> None:
    """Stored [D1=1.0], batch [D1=5.0, D2=1.0]: D2 restates D1 and is not stored."""
    model = Model(TABLES["macro_observations"])
    model.ingest([_macro(D1, 1.0)], ingest_id=1)
    report = model.ingest([_macro(D1, 5.0), _macro(D2, 1.0)], ingest_id=2)
    assert report == _report(received=2, unchanged=1, conflicts=1)
    assert [row["knowledge_time"] for row in model.as_of(1, as_of=D3)] == [D1]


def test_keep_republications_stores_the_restatement_with_its_number() -> None:
    """With keep_republications, [D1=5.0, D2=5.0] after [D1=1.0] stores D2 as revision 1;
    [D2=1.0] would be a republication of revision 0."""
    model = Model(TABLES["macro_observations"])
    model.ingest([_macro(D1, 1.0)], ingest_id=1)
    report = model.ingest([_macro(D1, 5.0), _macro(D2, 5.0)], ingest_id=2, keep_republications=True)
    assert report == _report(received=2, inserted=1, revisions=1, conflicts=1)
    report = model.ingest([_macro(D3, 5.0)], ingest_id=3, keep_republications=True)
    assert report == _report(received=1, inserted=1, republications=1)
    assert [row["revision"] for row in model.vintages(1, start=None, end=None)] == [0, 1]
    assert model.vintage_dates(1) == [D1, D2]
    assert model.vintage_dates([1, 2]) == {1: [D1, D2], 2: []}


def _first_arrivals(batches: list[list[dict[str, Any]]], model: Model) -> list[dict[str, Any]]:
    """Every publication once, the first-arriving version of each key (what a conflict
    keeps), as one batch."""
    chosen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for batch in batches:
        for row in batch:
            publication = model.publication(row)
            chosen.setdefault((*publication.observation, publication.knowledge_time), row)
    return list(chosen.values())


@pytest.mark.parametrize("table", list(TABLES))
@pytest.mark.parametrize("seed", range(20))
def test_with_keep_republications_arrival_order_does_not_matter(table: str, seed: int) -> None:
    """keep_republications on for every batch: every read equals the same history ingested
    as one batch (the contract's "every read equals the model in any arrival order")."""
    shape = TABLES[table]
    plan = arrival_plan(
        shape, series_ids=[1, 2], vocabulary=vocabulary((0, 7, 8)), seed=seed, keep="on"
    )
    arrived, at_once = Model(shape), Model(shape)
    for number, batch in enumerate(plan.batches, start=1):
        arrived.ingest(batch, ingest_id=number, keep_republications=True)
    at_once.ingest(_first_arrivals(plan.batches, arrived), ingest_id=1, keep_republications=True)
    ids = [1, 2]
    for moment in moments_around(plan):
        for point in ("as_of", "latest"):
            assert _without_revisions(
                getattr(arrived, point)(ids, as_of=moment)
            ) == _without_revisions(getattr(at_once, point)(ids, as_of=moment))
        for read in ("first_release", "vintages", "intervals"):
            assert _without_revisions(
                getattr(arrived, read)(ids, start=None, end=None, as_of=moment)
            ) == _without_revisions(getattr(at_once, read)(ids, start=None, end=None, as_of=moment))
        assert arrived.vintage_dates(ids, as_of=moment) == at_once.vintage_dates(ids, as_of=moment)


def _without_revisions(rows: list[Any]) -> list[Any]:
    """Revision numbers may differ after a backfill (never renumbered); nothing else may."""

    def strip(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: value for key, value in item.items() if key != "revision"}
        if isinstance(item, tuple):
            return tuple(strip(part) for part in item)
        return item

    return [strip(row) for row in rows]
