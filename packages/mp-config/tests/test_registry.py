"""The cached accessor reads settings once per process until reset."""

from __future__ import annotations

import pytest

from mp_config import PostgresSettings, RedisSettings, get_settings, reset_settings


def test_settings_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second call returns the same object even if the environment changed meanwhile."""
    monkeypatch.setenv("MP_PG_PORT", "7001")
    first = get_settings(PostgresSettings)
    monkeypatch.setenv("MP_PG_PORT", "7002")
    assert get_settings(PostgresSettings) is first
    assert first.port == 7001


def test_reset_rereads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """After reset_settings the next call sees the current environment."""
    monkeypatch.setenv("MP_REDIS_PORT", "7101")
    assert get_settings(RedisSettings).port == 7101
    monkeypatch.setenv("MP_REDIS_PORT", "7102")
    reset_settings()
    assert get_settings(RedisSettings).port == 7102


def test_each_class_is_cached_separately() -> None:
    """Different settings classes do not share a cache slot."""
    assert isinstance(get_settings(PostgresSettings), PostgresSettings)
    assert isinstance(get_settings(RedisSettings), RedisSettings)
