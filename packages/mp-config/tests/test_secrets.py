"""No secret appears in a repr, str, dump, log line, URL display or error from mp-config."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import pytest

from mp_config import (
    KafkaSettings,
    MongoSettings,
    MpSettings,
    PostgresSettings,
    RedisSettings,
    S3Settings,
    SettingsValidationError,
)

SECRET = "Zq9@:/%#-not-for-logs"

SECRET_FIELDS: list[tuple[type[MpSettings], str]] = [
    (PostgresSettings, "MP_PG_PASSWORD"),
    (RedisSettings, "MP_REDIS_PASSWORD"),
    (MongoSettings, "MP_MONGO_PASSWORD"),
    (KafkaSettings, "MP_KAFKA_SASL_PASSWORD"),
    (S3Settings, "MP_S3_SECRET_ACCESS_KEY"),
]

pytestmark = pytest.mark.scenario("security")


def _renderings(settings: MpSettings) -> list[str]:
    texts = [repr(settings), str(settings), settings.model_dump_json(), repr(settings.model_dump())]
    display = getattr(settings, "display_url", None)
    if display is not None:
        texts.append(display())
    return texts


@pytest.mark.parametrize(("settings_type", "variable"), SECRET_FIELDS)
def test_secret_absent_from_every_rendering(
    settings_type: type[MpSettings], variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """repr, str, JSON and dict dumps and display URLs show a mask, never the secret."""
    monkeypatch.setenv(variable, SECRET)
    settings = settings_type.load()
    for text in _renderings(settings):
        assert SECRET not in text
        assert "Zq9" not in text


@pytest.mark.parametrize(("settings_type", "variable"), SECRET_FIELDS)
def test_secret_absent_from_logs(
    settings_type: type[MpSettings],
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Logging a settings object, as a careless caller might, prints no secret."""
    monkeypatch.setenv(variable, SECRET)
    settings = settings_type.load()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("mp.test").info("loaded %s / %r", settings, settings)
    assert caplog.text
    assert SECRET not in caplog.text


def test_sqlalchemy_urls_hide_the_password() -> None:
    """str() and repr() of the built URL objects mask the password."""
    settings = PostgresSettings.load(password=SECRET)
    for url in (settings.sync_url(), settings.async_url(), settings.sync_url(read=True)):
        assert SECRET not in str(url)
        assert SECRET not in repr(url)


def test_validation_error_never_echoes_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret pasted into the wrong variable is not printed back by the error."""
    monkeypatch.setenv("MP_PG_PORT", SECRET)
    monkeypatch.setenv("MP_PG_INGEST_ROLE", SECRET)
    with pytest.raises(SettingsValidationError) as caught:
        PostgresSettings.load()
    error = caught.value
    rendered = "".join(traceback.format_exception(error))
    assert SECRET not in rendered
    assert "Zq9" not in rendered
    assert error.__cause__ is None
    assert {problem.variable for problem in error.problems} == {"MP_PG_PORT", "MP_PG_INGEST_ROLE"}


@pytest.mark.parametrize(("settings_type", "variable"), SECRET_FIELDS)
def test_cross_field_error_does_not_leak(
    settings_type: type[MpSettings], variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TLS-rule failure reported while a secret is set does not include the secret."""
    monkeypatch.setenv(variable, SECRET)
    remote: dict[str, str] = {
        PostgresSettings: {"host": "10.0.0.1", "sslmode": "disable"},
        RedisSettings: {"host": "10.0.0.1"},
        MongoSettings: {"host": "10.0.0.1"},
        KafkaSettings: {"bootstrap_servers": "10.0.0.1:9092"},
        S3Settings: {"endpoint_url": "http://10.0.0.1:9000"},
    }[settings_type]
    with pytest.raises(SettingsValidationError) as caught:
        settings_type.load(env_file=None, **remote)
    assert SECRET not in "".join(traceback.format_exception(caught.value))


def test_password_in_env_file_round_trips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A quoted password with special characters in .env arrives intact and stays secret."""
    env_file = tmp_path / ".env"
    env_file.write_text(f"MP_PG_PASSWORD='{SECRET}'\n")
    monkeypatch.setenv("MP_ENV_FILE", str(env_file))
    settings = PostgresSettings.load()
    assert settings.password is not None
    assert settings.password.get_secret_value() == SECRET
    assert SECRET not in repr(settings)
