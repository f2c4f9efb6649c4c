"""The mp-schema console script, run as a user would, against a real database."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mp_config import PostgresSettings
from mp_schema import heads
from mp_schema._cli import _parser
from mp_testing.fixtures import TestDatabase


def environment_for(settings: PostgresSettings) -> dict[str, str]:
    return {
        **os.environ,
        "MP_ENV_FILE": "",
        "MP_PG_HOST": settings.host,
        "MP_PG_PORT": str(settings.port),
        "MP_PG_USER": settings.user,
        "MP_PG_PASSWORD": settings.password.get_secret_value() if settings.password else "",
        "MP_PG_DATABASE": settings.database,
    }


def _script() -> str:
    # The console script installed next to this interpreter (a venv's bin folder).
    candidate = Path(sys.executable).with_name("mp-schema")
    found = str(candidate) if candidate.exists() else shutil.which("mp-schema")
    if found is None:
        pytest.fail("the mp-schema console script is not installed")
    return found


def run_script(*arguments: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the installed ``mp-schema`` with ``arguments``, capturing its output."""
    return subprocess.run(
        [_script(), *arguments],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_console_script_upgrades_and_reports(mp_empty_database: TestDatabase) -> None:
    """`mp-schema upgrade head`, `current`, `check` and `features` work end to end."""
    environment = environment_for(mp_empty_database.settings)

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return run_script(*arguments, environment=environment)

    upgraded = run("upgrade", "head")
    assert upgraded.returncode == 0, upgraded.stderr
    assert run("current").stdout.strip() == heads()[0]
    checked = run("check")
    assert checked.returncode == 0, checked.stderr
    assert "matches the models" in checked.stdout
    features = run("apply-timescale-features")
    assert features.returncode == 0, features.stderr
    assert len(features.stdout.strip().splitlines()) == 7
    listed = run("features")
    assert "macro_observations" in listed.stdout


def test_console_script_sql_runs_offline() -> None:
    """`mp-schema sql` prints the schema's SQL with no server configured at all."""
    environment = {**os.environ, "MP_ENV_FILE": "", "MP_PG_PORT": "1"}
    result = run_script("sql", environment=environment)
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE mp.macro_observations" in result.stdout
    assert "CREATE OR REPLACE FUNCTION mp.apply_timescale_features()" in result.stdout


def test_features_on_unmigrated_database_is_a_clear_error(
    mp_empty_database: TestDatabase,
) -> None:
    """Asking for features before migrating says so instead of printing a traceback."""
    result = run_script("features", environment=environment_for(mp_empty_database.settings))
    assert result.returncode == 1
    assert "is the database migrated" in result.stderr
    assert "Traceback" not in result.stderr


def test_importing_main_runs_nothing() -> None:
    """Importing ``mp_schema.__main__`` does not start the CLI (it would exit the process)."""
    import importlib

    module = importlib.import_module("mp_schema.__main__")
    assert callable(module.main)


def test_readme_lists_every_command() -> None:
    """Every subcommand of the console script is named in the package README's command list."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    commands = readme.split("```bash", 1)[1].split("```", 1)[0]
    parser = _parser()
    choices = next(
        action.choices
        for action in parser._actions  # argparse keeps subparsers only here
        if isinstance(action.choices, dict)
    )
    missing = [name for name in choices if not re.search(rf"\b{re.escape(name)}\b", commands)]
    assert missing == []
