"""Env-file discovery: MP_ENV_FILE first, else the nearest .env up to the repository root."""

from __future__ import annotations

from pathlib import Path

import pytest

from mp_config import EnvFileError, PostgresSettings, find_env_file


def test_explicit_file_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MP_ENV_FILE names the file to read, whatever the working directory."""
    env_file = tmp_path / "custom.env"
    env_file.write_text("MP_PG_PORT=6001\n")
    monkeypatch.setenv("MP_ENV_FILE", str(env_file))
    assert find_env_file() == env_file.resolve()
    assert PostgresSettings.load().port == 6001


def test_explicit_missing_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A MP_ENV_FILE that names nothing fails loudly instead of silently using defaults."""
    monkeypatch.setenv("MP_ENV_FILE", str(tmp_path / "absent.env"))
    with pytest.raises(EnvFileError, match=r"absent\.env"):
        PostgresSettings.load()


def test_empty_variable_turns_env_files_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MP_ENV_FILE set to an empty string disables discovery."""
    (tmp_path / ".env").write_text("MP_PG_PORT=6002\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MP_ENV_FILE", "")
    assert find_env_file() is None
    assert PostgresSettings.load().port != 6002


def test_discovery_walks_up_from_a_package_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from packages/x/tests (as nox does), the repository's .env is still found."""
    (tmp_path / ".git").mkdir()
    (tmp_path / ".env").write_text("MP_PG_PORT=6003\n")
    deep = tmp_path / "packages" / "mp-x" / "tests"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    monkeypatch.delenv("MP_ENV_FILE")
    assert find_env_file() == tmp_path / ".env"
    assert PostgresSettings.load().port == 6003


def test_discovery_stops_at_the_repository_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .env above the repository root (a home folder, say) is not picked up."""
    (tmp_path / ".env").write_text("MP_PG_PORT=6004\n")
    repository = tmp_path / "repo"
    (repository / ".git").mkdir(parents=True)
    monkeypatch.delenv("MP_ENV_FILE")
    assert find_env_file(start=repository) is None


def test_environment_wins_over_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A variable set in the process environment overrides the same one in the file."""
    env_file = tmp_path / ".env"
    env_file.write_text("MP_PG_PORT=6005\nMP_PG_DATABASE=from_file\n")
    monkeypatch.setenv("MP_ENV_FILE", str(env_file))
    monkeypatch.setenv("MP_PG_PORT", "6006")
    settings = PostgresSettings.load()
    assert (settings.port, settings.database) == (6006, "from_file")


def test_secrets_dir_supplies_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MP_SECRETS_DIR reads one file per secret (Docker and Kubernetes secrets)."""
    (tmp_path / "mp_pg_password").write_text("from-secret-file")
    monkeypatch.setenv("MP_SECRETS_DIR", str(tmp_path))
    settings = PostgresSettings.load()
    assert settings.password is not None
    assert settings.password.get_secret_value() == "from-secret-file"


def test_secrets_dir_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A MP_SECRETS_DIR that is not a folder is reported, not ignored."""
    monkeypatch.setenv("MP_SECRETS_DIR", str(tmp_path / "nope"))
    with pytest.raises(EnvFileError, match="MP_SECRETS_DIR"):
        PostgresSettings.load()
