"""The README's example runs as written against a real Redis."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mp_config import RedisSettings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_example_runs(mp_redis: RedisSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first python block, with MP_REDIS_* aimed at the test Redis, runs without error."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "the README has no python example"
    assert mp_redis.password is not None
    monkeypatch.setenv("MP_ENV_FILE", "")
    monkeypatch.setenv("MP_REDIS_HOST", mp_redis.host)
    monkeypatch.setenv("MP_REDIS_PORT", str(mp_redis.port))
    monkeypatch.setenv("MP_REDIS_PASSWORD", mp_redis.password.get_secret_value())
    monkeypatch.setenv("MP_REDIS_KEY_PREFIX", mp_redis.key_prefix)
    monkeypatch.setenv("MP_REDIS_RATE_LIMITS", "fred=120/60")
    if mp_redis.username:
        monkeypatch.setenv("MP_REDIS_USERNAME", mp_redis.username)
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile(blocks[0], str(README), "exec"), namespace)  # noqa: S102 - our own README
    assert "lease" in namespace
