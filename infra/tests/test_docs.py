"""Docs that are generated from code stay in step with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mp_schema import erd_dot, metadata


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
        import pytest

        pytest.skip("Debian's iso-codes package is not installed")
    result = subprocess.run(
        [sys.executable, str(root / "infra" / "tools" / "generate_iso_enums.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
