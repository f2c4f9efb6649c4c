"""Docs that are generated from code stay in step with it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mp_config import PostgresSettings
from mp_db import PROBLEM_CODES
from mp_schema import erd_dot, metadata

PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_schema_diagram_matches_the_models(root: Path) -> None:
    """docs/schema-erd.dot is what the models produce now (run `nox -s erd` after a change)."""
    committed = (root / "docs" / "schema-erd.dot").read_text()
    assert committed == erd_dot(metadata)
    assert (root / "docs" / "schema-erd.svg").stat().st_size > 0


def test_iso_enums_match_the_generator(root: Path) -> None:
    """The committed Country/Currency enums are what the generator writes (when iso-codes is
    installed; the comparison is the generator's own --check)."""
    iso = Path("/usr/share/iso-codes/json/iso_3166-1.json")
    if not iso.is_file():
        pytest.skip("Debian's iso-codes package is not installed")
    result = subprocess.run(
        [sys.executable, str(root / "infra" / "tools" / "generate_iso_enums.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_package_graph_matches_the_pyproject_files(root: Path) -> None:
    """docs/package-graph.dot is what the packages' dependencies draw now (run
    `python3 infra/tools/render_package_graph.py` after changing a dependency)."""
    result = subprocess.run(
        [sys.executable, str(root / "infra" / "tools" / "render_package_graph.py"), "--stdout"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert (root / "docs" / "package-graph.dot").read_text() == result.stdout
    assert (root / "docs" / "package-graph.svg").stat().st_size > 0


def test_pit_guide_examples_run(
    root: Path, mp_pg_settings: PostgresSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every python block of docs/pit-guide.md runs, in order and in one namespace, against a
    fresh migrated database that ``Database()`` finds through MP_PG_* (as a reader's would)."""
    monkeypatch.setenv("MP_ENV_FILE", "")
    for name in ("host", "port", "database", "user"):
        monkeypatch.setenv(f"MP_PG_{name.upper()}", str(getattr(mp_pg_settings, name)))
    if mp_pg_settings.password is not None:
        monkeypatch.setenv("MP_PG_PASSWORD", mp_pg_settings.password.get_secret_value())
    blocks = PYTHON_BLOCK.findall((root / "docs" / "pit-guide.md").read_text())
    assert len(blocks) > 10
    namespace: dict[str, object] = {"__name__": "pit_guide"}
    try:
        for number, block in enumerate(blocks, start=1):
            code = compile(block, f"docs/pit-guide.md (python block {number})", "exec")
            exec(code, namespace)  # noqa: S102 - the guide's examples are the code under test
    finally:
        database = namespace.get("db")
        if database is not None:
            database.close()  # type: ignore[attr-defined]


def test_pit_guide_lists_every_rejection_code(root: Path) -> None:
    """The guide's table of rejection codes has a row for each of mp_db.PROBLEM_CODES."""
    text = (root / "docs" / "pit-guide.md").read_text()
    missing = [code for code in PROBLEM_CODES if f"| `{code}` |" not in text]
    assert missing == []
