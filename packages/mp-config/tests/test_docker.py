"""The Docker-engine probe that MP_STACK_BACKEND=auto and the container test backend share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mp_config import docker_engine_available


@pytest.fixture(autouse=True)
def _fresh_probe() -> Iterator[None]:
    """The probe caches its answer per process: each test asks anew, and leaves no answer."""
    docker_engine_available.cache_clear()
    yield
    docker_engine_available.cache_clear()


def test_no_docker_client_means_no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a ``docker`` program on PATH the probe says no, without raising."""
    monkeypatch.setenv("PATH", "")
    assert docker_engine_available() is False


def test_a_client_without_an_engine_is_no_engine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A ``docker`` client whose ``version`` cannot reach a server (what this machine's client
    does) is not an engine: compose and testcontainers would fail at once."""
    client = tmp_path / "docker"
    client.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    client.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert docker_engine_available() is False
