"""Migrations are frozen: literal SQL and values, pinned by content, importing nothing of
mp-schema that can still change (so editing a model, a spec or a builder never changes what an
existing migration does)."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest

VERSIONS = Path(__file__).resolve().parents[1] / "src" / "mp_schema" / "migrations" / "versions"

#: sha256 of every migration file, by revision. A new migration adds its line; an old one never
#: changes (write a new migration instead).
PINNED = {
    "0001": "222b678d273f49d7b9232e3fb601172c182808491c81697caf5ad015dfa50dd4",
    "0002": "3c10595751d826194cb50d35a69905fc57e0618d8146eb74919af00154b58998",
    "0003": "949537265c7487ff975a76778eb48c98cdd8fb8fcd6240f5bec62bd332d9a0d6",
    "0004": "ec2c5af9c5cb41b5553cf3778bdbedad4dcc3ef0a6032979d1e783b347d260fe",
    "0005": "ae7a94bd68c6ce53bc49f7e062a6f37a04ce9599636d75da86375d5876697d81",
    "0006": "bd86cbc8bf759907dea32592852f6c5d328b19b9badb97d9bbd2da166dcfc635",
}

#: What a migration may import: Alembic, SQLAlchemy's constructs, and the settings it reads
#: role names from. Nothing of mp_schema (models, specs, enums, builders) can change under it.
ALLOWED_IMPORTS = {"__future__", "alembic", "sqlalchemy", "sqlalchemy.dialects", "mp_config"}


def imported_modules(source: str) -> set[str]:
    """Every module a Python source imports (``import x`` and ``from x import y``)."""
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    return imported


def _migrations() -> list[Path]:
    return sorted(path for path in VERSIONS.glob("*.py") if path.name[:4].isdigit())


def test_every_migration_is_pinned() -> None:
    """A migration file that is not in PINNED (or a pinned one that is gone) fails."""
    assert [path.name[:4] for path in _migrations()] == sorted(PINNED)


@pytest.mark.parametrize("path", _migrations(), ids=lambda path: path.name)
def test_migration_contents_are_pinned(path: Path) -> None:
    """An old migration's contents never change: its sha256 is the pinned one."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == PINNED[path.name[:4]], (
        f"{path.name} changed; migrations are frozen: revert it and add a new migration"
    )


@pytest.mark.parametrize("path", _migrations(), ids=lambda path: path.name)
def test_migrations_import_nothing_that_can_change(path: Path) -> None:
    """A migration imports Alembic, SQLAlchemy and mp_config's settings only."""
    imported = imported_modules(path.read_text())
    assert imported <= ALLOWED_IMPORTS, sorted(imported - ALLOWED_IMPORTS)
