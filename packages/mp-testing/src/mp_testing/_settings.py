"""Settings of the test fixtures themselves (``MP_TESTING_*``)."""

from __future__ import annotations

import os
from typing import ClassVar, Literal, get_args

from pydantic_settings import SettingsConfigDict

from mp_config import ConfigError, MpSettings, find_env_file

__all__ = ["BACKENDS", "TestingBackend", "TestingSettings", "configured_by"]

TestingBackend = Literal["auto", "settings", "container", "native"]
#: The values ``MP_TESTING_BACKEND`` (and the ``mp_testing_backend`` ini option) accept.
BACKENDS: tuple[str, ...] = get_args(TestingBackend)


def configured_by(prefix: str) -> str | None:
    """Where settings with ``prefix`` (``MP_PG_``, ``MP_REDIS_``) are configured, or ``None``.

    A service someone configured (in the environment or the ``.env`` file) is the one the tests
    must use: when it does not answer, ``auto`` fails with the reason rather than falling back
    to a throwaway server, which would let the tests pass against a different server unnoticed.
    """
    named = sorted(name for name in os.environ if name.startswith(prefix))
    if named:
        return f"{', '.join(named)} in the environment"
    try:
        env_file = find_env_file()
    except ConfigError:
        return None
    if env_file is None:
        return None
    for line in env_file.read_text(errors="replace").splitlines():
        if line.strip().removeprefix("export ").lstrip().startswith(prefix):
            return f"{prefix}* in {env_file}"
    return None


class TestingSettings(MpSettings):
    """Where the fixtures get PostgreSQL and Redis from, and what to do when they cannot.

    ``auto`` uses the servers named by ``MP_PG_*``/``MP_REDIS_*`` when those are configured
    (in the environment or ``.env``), and fails with the reason when they do not answer.
    Otherwise it tries, in order: the default addresses, a testcontainers container when a
    Docker engine answers, and finally native throwaway servers on free ports. The pytest
    header says which rule applies; the summary says which servers were used.
    """

    model_config = SettingsConfigDict(env_prefix="MP_TESTING_")
    display_name: ClassVar[str] = "test fixture settings (MP_TESTING_*)"
    __test__: ClassVar[bool] = False  # a settings class, not a pytest test class

    backend: TestingBackend = "auto"
    #: Fail instead of skipping when no backend can provide a service (CI sets this).
    require_services: bool = False
    #: Keep per-test databases after the test, for debugging.
    keep_databases: bool = False
    postgres_image: str = "timescale/timescaledb:2.19.3-pg17"
    redis_image: str = "redis:7.4.2-alpine"
