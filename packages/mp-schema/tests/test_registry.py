"""The fact-table registry: each spec derives its table, CHECKs, model, DDL and grants."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from sqlalchemy import CheckConstraint

from mp_schema import FACT_TABLES, FactSpec, fact_spec
from mp_schema._roles import RoleNames, fact_table_grant_statements, grant_statements
from mp_schema.enums import SeriesKind
from mp_schema.models import (
    FACT_MODELS,
    FACT_SPECS,
    FLOAT8,
    Column,
    NonNegative,
    fact_model,
    fact_table_ddl,
    metadata,
    register_fact_table,
    unregister_fact_table,
)

VERSIONS = Path(__file__).resolve().parents[1] / "src" / "mp_schema" / "migrations" / "versions"
REGISTRY_DOC = Path(__file__).resolve().parents[3] / "docs" / "registry.md"
ROLES = RoleNames(ingest="mp_ingest", research="mp_research", research_statement_timeout_ms=5)

SCRATCH = FactSpec(
    name="scratch_facts",
    kind=SeriesKind.MACRO,
    values=(Column("value", FLOAT8), Column("count", FLOAT8, nullable=True)),
    rules=(NonNegative(("count",), name="count_non_negative"),),
)


def test_every_built_in_spec_is_registered_with_its_model() -> None:
    """FACT_TABLES, FACT_SPECS and FACT_MODELS list the same seven tables in the same order,
    each table carrying its spec and mapped by the model the spec names."""
    assert list(FACT_TABLES) == [spec.name for spec in FACT_SPECS]
    for spec, model in zip(FACT_SPECS, FACT_MODELS, strict=True):
        assert fact_spec(FACT_TABLES[spec.name]) is spec
        assert model.__name__ == spec.model
        assert model.__table__ is FACT_TABLES[spec.name]  # type: ignore[attr-defined]
        assert fact_model(spec.name) is model


def test_grants_from_the_registry_are_what_migration_0003_wrote() -> None:
    """The registry's grants for the seven tables equal migration 0003's literal statements,
    so deriving them changed nothing for existing databases."""
    loader = importlib.util.spec_from_file_location("m0003", VERSIONS / "0003_roles.py")
    assert loader is not None
    assert loader.loader is not None
    migration = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(migration)
    frozen = [
        statement.format(ingest=ROLES.ingest, research=ROLES.research, timeout=5)
        for statement in migration.GRANTS
    ]
    assert grant_statements(ROLES) == frozen


def test_a_registered_table_derives_its_checks_ddl_and_grants() -> None:
    """Registering a spec adds its table to the metadata with the spec's CHECKs; its DDL and
    grants come from the same spec; unregistering removes it again."""
    table = register_fact_table(SCRATCH)
    try:
        assert FACT_TABLES["scratch_facts"] is table
        assert metadata.tables["mp.scratch_facts"] is table
        checks = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
        wanted = {"count_non_negative", "value_finite", "count_finite"}
        assert {f"ck_scratch_facts_{name}" for name in wanted} <= checks
        ddl = fact_table_ddl("scratch_facts")
        assert "CONSTRAINT ck_scratch_facts_count_non_negative CHECK" in ddl[0]
        assert ddl[-2].startswith("SELECT create_hypertable('mp.scratch_facts'")
        assert ddl[-1].startswith("CREATE TRIGGER series_exists BEFORE INSERT")
        assert ddl[-1].endswith("mp.check_series_exists('macro', 'scratch_facts')")
        assert fact_table_grant_statements(ROLES, SCRATCH) == [
            "GRANT SELECT, INSERT ON mp.scratch_facts TO mp_ingest",
            "GRANT SELECT ON mp.scratch_facts TO mp_research",
        ]
    finally:
        unregister_fact_table("scratch_facts")
    assert "scratch_facts" not in FACT_TABLES
    assert "mp.scratch_facts" not in metadata.tables


def test_a_name_is_registered_once() -> None:
    """A second spec under a registered name is refused, and a built-in table (it has a
    model) cannot be unregistered."""
    with pytest.raises(ValueError, match="already registered"):
        register_fact_table(FACT_SPECS[0])
    with pytest.raises(ValueError, match="model class"):
        unregister_fact_table("macro_observations")


def test_registry_doc_examples_run() -> None:
    """Every python block of docs/registry.md runs, in order and in one namespace."""
    blocks = re.findall(r"^```python\n(.*?)^```", REGISTRY_DOC.read_text(), re.DOTALL | re.M)
    assert blocks
    namespace: dict[str, object] = {}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/registry.md (python block {number})", "exec"), namespace)  # noqa: S102
