"""Clients reach a real Redis with the configured credentials."""

from __future__ import annotations

import asyncio

from mp_cache import create_async_client, create_client
from mp_config import RedisSettings


def test_sync_client_round_trip(mp_redis: RedisSettings) -> None:
    """SET then GET through the sync client returns the value."""
    client = create_client(mp_redis)
    try:
        key = f"{mp_redis.key_prefix}greeting"
        client.set(key, b"hello")
        assert client.get(key) == b"hello"
    finally:
        client.close()


def test_async_client_round_trip(mp_redis: RedisSettings) -> None:
    """SET then GET through the asyncio client returns the value."""

    async def round_trip() -> bytes | None:
        client = create_async_client(mp_redis)
        try:
            key = f"{mp_redis.key_prefix}greeting"
            await client.set(key, b"hello")
            value = await client.get(key)
            assert value is None or isinstance(value, bytes)
            return value
        finally:
            await client.aclose()

    assert asyncio.run(round_trip()) == b"hello"
