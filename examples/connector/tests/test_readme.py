"""The README's example runs as written, against this test's database and Redis."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mp_config import PostgresSettings, RedisSettings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_example_runs(
    mp_pg_settings: PostgresSettings,
    mp_redis: RedisSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's python block, given MP_PG_* and MP_REDIS_* of the test's servers, loads
    the data set and prints February's CPI as the latest print at 2024-03-12 13:00Z."""
    monkeypatch.setenv("MP_ENV_FILE", "")
    for prefix, settings, names in (
        ("MP_PG_", mp_pg_settings, ("host", "port", "database", "user")),
        ("MP_REDIS_", mp_redis, ("host", "port", "db", "key_prefix")),
    ):
        for name in names:
            monkeypatch.setenv(f"{prefix}{name.upper()}", str(getattr(settings, name)))
        if settings.password is not None:
            monkeypatch.setenv(f"{prefix}PASSWORD", settings.password.get_secret_value())
    if mp_redis.username is not None:
        monkeypatch.setenv("MP_REDIS_USERNAME", mp_redis.username)
    (block,) = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.DOTALL | re.MULTILINE)
    exec(compile(block, str(README), "exec"), {"__name__": "readme"})  # noqa: S102 - under test
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "80 15 0"
    assert "period=datetime.date(2024, 2, 1), value=310.326" in printed[1]
