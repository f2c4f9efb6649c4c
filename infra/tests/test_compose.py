"""docker-compose.yml passes Compose v2's own validation and keeps mp's conventions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ALWAYS_ON = {"timescaledb", "redis", "mongodb", "minio"}


def _compose(
    binary: list[str], root: Path, *arguments: str, env_file: str = ".env.example"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *binary,
            "--project-directory",
            str(root),
            "-f",
            str(root / "docker-compose.yml"),
            "--env-file",
            str(root / env_file) if env_file != "/dev/null" else env_file,
            *arguments,
        ],
        check=False,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )


def _rendered(binary: list[str], root: Path, *profiles: str) -> dict[str, Any]:
    arguments = [item for profile in profiles for item in ("--profile", profile)]
    result = _compose(binary, root, *arguments, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    rendered: dict[str, Any] = json.loads(result.stdout)
    return rendered


def test_compose_validates_without_profiles(compose_binary: list[str], root: Path) -> None:
    """`docker compose config -q` accepts the file; Kafka stays off by default."""
    result = _compose(compose_binary, root, "config", "-q")
    assert result.returncode == 0, result.stderr
    services = set(_rendered(compose_binary, root)["services"])
    assert services == ALWAYS_ON


def test_compose_validates_with_kafka_profile(compose_binary: list[str], root: Path) -> None:
    """With the kafka profile, Kafka joins the always-on services."""
    result = _compose(compose_binary, root, "--profile", "kafka", "config", "-q")
    assert result.returncode == 0, result.stderr
    services = set(_rendered(compose_binary, root, "kafka")["services"])
    assert services == ALWAYS_ON | {"kafka"}


def test_missing_secret_fails_loudly(compose_binary: list[str], root: Path) -> None:
    """Without .env values, compose refuses to render instead of starting with no password."""
    result = _compose(compose_binary, root, "config", "-q", env_file="/dev/null")
    assert result.returncode != 0
    assert "PASSWORD" in result.stderr or "SECRET" in result.stderr


@pytest.mark.scenario("security")
@pytest.mark.parametrize("profiles", [(), ("kafka",)])
def test_rendered_ports_are_loopback_only(
    compose_binary: list[str], root: Path, profiles: tuple[str, ...]
) -> None:
    """Every published port, after interpolation, is bound to 127.0.0.1."""
    rendered = _rendered(compose_binary, root, *profiles)
    for name, service in rendered["services"].items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", (name, port)


def _static() -> dict[str, Any]:
    path = Path(__file__).resolve().parents[2] / "docker-compose.yml"
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_every_service_has_healthcheck_memory_limit_and_named_volume() -> None:
    """Conventions from platform.md hold for each service."""
    document = _static()
    named_volumes = set(document["volumes"])
    for name, service in document["services"].items():
        assert "healthcheck" in service, name
        assert "mem_limit" in service, name
        mounts = [volume.split(":", 1)[0] for volume in service.get("volumes", [])]
        assert any(mount in named_volumes for mount in mounts), name


def test_images_are_pinned() -> None:
    """No floating tags: every image default names an explicit version."""
    for name, service in _static()["services"].items():
        image = service["image"]
        default = image.split(":-", 1)[1].rstrip("}") if ":-" in image else image
        repository, _, tag = default.rpartition(":")
        assert repository, (name, default)
        assert tag, (name, default)
        assert tag != "latest", (name, default)


@pytest.mark.scenario("security")
def test_secrets_are_required_not_defaulted() -> None:
    """Secret variables are interpolated with ${VAR:?}, never given a default."""
    text = (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()
    for variable in (
        "MP_PG_PASSWORD",
        "MP_REDIS_PASSWORD",
        "MP_MONGO_PASSWORD",
        "MP_S3_SECRET_ACCESS_KEY",
        "MP_COMPOSE_PG_SUPERUSER_PASSWORD",
    ):
        assert f"${{{variable}:?" in text, variable
        assert f"${{{variable}:-" not in text, variable
