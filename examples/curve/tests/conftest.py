"""mp-testing's plugin gives each test a migrated database; async tests run with asyncio.run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from mp_config import PostgresSettings
from mp_db import AsyncDatabase

T = TypeVar("T")


@pytest.fixture
def with_database(
    mp_pg_settings: PostgresSettings,
) -> Callable[[Callable[[AsyncDatabase], Coroutine[Any, Any, T]]], T]:
    """Run ``work(database)`` on an AsyncDatabase of this test's database, in a fresh loop."""

    def run(work: Callable[[AsyncDatabase], Coroutine[Any, Any, T]]) -> T:
        async def main() -> T:
            async with AsyncDatabase(mp_pg_settings) as database:
                return await work(database)

        return asyncio.run(main())

    return run
