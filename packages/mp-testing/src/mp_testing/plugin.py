"""The pytest plugin, registered through the ``pytest11`` entry point.

Installing mp-testing is enough: its fixtures (see :mod:`mp_testing.fixtures`) and markers are
available in every test run of that environment. Fixtures are lazy: a test that uses none of
them starts no server.

Markers:
    ``timescale_license``: the test needs a TimescaleDB feature the Apache-2 edition lacks
    (compression, policies, continuous aggregates); it is skipped, with that reason, on an
    ``apache`` server.
"""

from __future__ import annotations

import pytest

from mp_testing.fixtures import (
    LICENSE_MARKER,
    _mp_license_gate,
    _mp_reset_settings,
    mp_database,
    mp_empty_database,
    mp_migrate,
    mp_pg_settings,
    mp_postgres_server,
    mp_redis,
    mp_redis_cluster,
    mp_redis_server,
    mp_template_database,
    mp_testing_settings,
    mp_throwaway_postgres,
    mp_timescaledb_license,
)

__all__ = [
    "mp_database",
    "mp_empty_database",
    "mp_migrate",
    "mp_pg_settings",
    "mp_postgres_server",
    "mp_redis",
    "mp_redis_cluster",
    "mp_redis_server",
    "mp_template_database",
    "mp_testing_settings",
    "mp_throwaway_postgres",
    "mp_timescaledb_license",
    "pytest_configure",
]

# Autouse fixtures are registered by being names in this module.
_AUTOUSE = (_mp_license_gate, _mp_reset_settings)


def pytest_configure(config: pytest.Config) -> None:
    """Declare mp-testing's markers (runs with ``--strict-markers``)."""
    config.addinivalue_line(
        "markers",
        f"{LICENSE_MARKER}: needs TimescaleDB's community (TSL) features; skipped on an "
        "Apache-2 build",
    )
