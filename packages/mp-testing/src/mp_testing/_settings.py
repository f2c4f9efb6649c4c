"""Settings of the test fixtures themselves (``MP_TESTING_*``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic_settings import SettingsConfigDict

from mp_config import MpSettings

__all__ = ["TestingBackend", "TestingSettings"]

TestingBackend = Literal["auto", "settings", "container", "native"]


class TestingSettings(MpSettings):
    """Where the fixtures get PostgreSQL and Redis from, and what to do when they cannot.

    ``auto`` tries, in order: the servers named by ``MP_PG_*``/``MP_REDIS_*`` when they answer
    (throwaway databases and key prefixes are created there), a testcontainers container when a
    Docker engine answers, and finally native throwaway servers on free ports.
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
