"""The README's example runs as written, against this test's database."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from curve_example import TENORS
from mp_config import PostgresSettings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_example_runs(
    mp_pg_settings: PostgresSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's python block, given MP_PG_* of the test's database, loads and reads."""
    monkeypatch.setenv("MP_ENV_FILE", "")
    for name in ("host", "port", "database", "user"):
        monkeypatch.setenv(f"MP_PG_{name.upper()}", str(getattr(mp_pg_settings, name)))
    if mp_pg_settings.password is not None:
        monkeypatch.setenv("MP_PG_PASSWORD", mp_pg_settings.password.get_secret_value())
    (block,) = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.DOTALL | re.MULTILINE)
    exec(compile(block, str(README), "exec"), {"__name__": "readme"})  # noqa: S102 - under test
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "13"
    assert ast.literal_eval(printed[1]) == dict.fromkeys(TENORS, 5.0)  # every tenor, any order
