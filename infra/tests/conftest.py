"""Shared helpers for the repository-level checks (compose file, .env.example, docs)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FETCHED_COMPOSE = ROOT / ".mp/tools/docker-compose/usr/libexec/docker/cli-plugins/docker-compose"


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def compose_binary() -> list[str]:
    """A real Docker Compose v2 command, or a skip (a failure under MP_TESTING_REQUIRE_SERVICES).

    Looked for in: MP_DOCKER_COMPOSE, the copy infra/tools/get-docker-compose.sh fetches,
    ``docker compose``, ``docker-compose``.
    """
    explicit = os.environ.get("MP_DOCKER_COMPOSE")
    if explicit:
        return [explicit]
    if FETCHED_COMPOSE.is_file():
        return [str(FETCHED_COMPOSE)]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run(
            [docker, "compose", "version"], check=False, capture_output=True
        ).returncode
        == 0
    ):
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone:
        return [standalone]
    reason = "no Docker Compose v2 binary: run infra/tools/get-docker-compose.sh"
    if _truthy("MP_TESTING_REQUIRE_SERVICES"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
