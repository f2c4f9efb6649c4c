""".env.example documents every setting, and only settings that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mp_config
from mp_config import MpSettings
from mp_testing._settings import TestingSettings

ASSIGNMENT = re.compile(r"^#?\s*(MP_[A-Z0-9_]+)=(.*)$")
COMPOSE_ONLY_PREFIX = "MP_COMPOSE_"
DISCOVERY_VARIABLES = {"MP_ENV_FILE", "MP_SECRETS_DIR"}


def _settings_classes() -> list[type[MpSettings]]:
    classes = [
        value
        for value in vars(mp_config).values()
        if isinstance(value, type) and issubclass(value, MpSettings) and value is not MpSettings
    ]
    return [*classes, TestingSettings]


def _documented(root: Path) -> dict[str, str]:
    values = {}
    for line in (root / ".env.example").read_text().splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    return values


def _known() -> set[str]:
    names = set()
    for settings_type in _settings_classes():
        for field_name in settings_type.model_fields:
            names.add(settings_type.env_variable(field_name))
    return names


def test_every_setting_is_documented(root: Path) -> None:
    """Each field of each settings class has a line in .env.example."""
    missing = _known() - set(_documented(root))
    assert missing == set()


def test_every_documented_variable_exists(root: Path) -> None:
    """.env.example names no variable that nothing reads (typos would be silently ignored)."""
    documented = set(_documented(root))
    unknown = {
        name
        for name in documented - _known() - DISCOVERY_VARIABLES
        if not name.startswith(COMPOSE_ONLY_PREFIX)
    }
    assert unknown == set()


def test_compose_variables_are_documented(root: Path) -> None:
    """Every variable docker-compose.yml interpolates is in .env.example."""
    compose = (root / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{(MP_[A-Z0-9_]+)", compose))
    assert used - set(_documented(root)) == set()


@pytest.mark.scenario("security")
def test_placeholders_are_not_secrets(root: Path) -> None:
    """Secret variables hold the placeholder, never something that looks like a real secret."""
    for name, value in _documented(root).items():
        if name.endswith(("_PASSWORD", "_SECRET_ACCESS_KEY", "_SECRET")):
            assert value in {"", "change-me"}, name


def test_ports_named_twice_agree(root: Path) -> None:
    """Published ports that settings also carry inside URLs have the same value."""
    values = _documented(root)
    assert values["MP_S3_ENDPOINT_URL"].rsplit(":", 1)[1] == values["MP_COMPOSE_MINIO_API_PORT"]
    assert values["MP_KAFKA_BOOTSTRAP_SERVERS"].rsplit(":", 1)[1] == values["MP_COMPOSE_KAFKA_PORT"]


def test_example_loads_cleanly(root: Path) -> None:
    """The example file itself is valid for every settings class."""
    for settings_type in _settings_classes():
        settings_type.load(env_file=root / ".env.example")
