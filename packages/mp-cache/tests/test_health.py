"""The health check reports instead of raising."""

from __future__ import annotations

import pytest
from helpers import run, settings_for, shut_down

import mp_cache
from mp_cache import create_client, create_client_async, health, health_async
from mp_config import RedisSettings
from mp_stack.native import RedisServer


def test_a_live_server_is_healthy_with_its_version(settings: RedisSettings) -> None:
    """ok, a measured latency, the server's version and the standalone mode."""
    client = create_client(settings)
    try:
        report = health(client)
    finally:
        client.close()
    assert report.ok
    assert report.error is None
    assert report.mode == "standalone"
    assert report.latency_seconds is not None
    assert report.latency_seconds >= 0
    assert report.server_version is not None
    assert report.server_version[0].isdigit()


def test_a_cluster_is_healthy_and_says_so(cluster_settings: RedisSettings) -> None:
    """A cluster client's report names the cluster mode and a version."""
    client = create_client(cluster_settings)
    try:
        report = health(client)
    finally:
        client.close()
    assert report.ok
    assert report.mode == "cluster"
    assert report.server_version is not None


def test_a_stopped_server_is_reported_not_raised(fault_server: RedisServer) -> None:
    """With the server down the report says why, without the password."""
    settings = settings_for(fault_server)
    shut_down(fault_server)
    client = create_client(settings)
    try:
        report = health(client)
    finally:
        client.close()
    assert not report.ok
    assert report.error is not None
    assert "ConnectionError" in report.error
    assert fault_server.password is not None
    assert fault_server.password not in report.error


def test_the_async_check_matches_the_sync_one(settings: RedisSettings) -> None:
    """health_async gives the same kind of report."""

    async def check() -> tuple[bool, str | None]:
        client = create_client_async(settings)
        try:
            report = await health_async(client)
        finally:
            await client.aclose()
        return report.ok, report.server_version

    ok, version = run(check())
    assert ok
    assert version is not None


def test_the_old_async_names_work_and_say_they_are_deprecated(settings: RedisSettings) -> None:
    """create_async_client and async_health still work, with a DeprecationWarning naming
    the function to use instead."""

    async def check() -> bool:
        with pytest.warns(DeprecationWarning, match="use create_client_async$"):
            client = mp_cache.create_async_client(settings)
        try:
            with pytest.warns(DeprecationWarning, match="use health_async$"):
                report = await mp_cache.async_health(client)
        finally:
            await client.aclose()
        return report.ok

    assert run(check()) is True
