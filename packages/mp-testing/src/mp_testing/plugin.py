"""The pytest plugin, registered through the ``pytest11`` entry point.

Installing mp-testing is enough: its fixtures (see :mod:`mp_testing.fixtures`) and markers are
available in every test run of that environment. Fixtures are lazy: a test that uses none of
them starts no server.

Options (``pytest --help``, group ``mp``): each ``--mp-testing-*`` flag has an ``mp_testing_*``
ini option and an ``MP_TESTING_*`` environment variable (see :mod:`mp_testing._options`).

Markers:
    ``timescale_license``: the test needs a TimescaleDB feature the Apache-2 edition lacks
    (compression, policies, continuous aggregates); it is skipped, with that reason, on an
    ``apache`` server.
"""

from __future__ import annotations

from typing import Any

import pytest

from mp_testing._backends import USED
from mp_testing._options import add_options, resolve_options
from mp_testing._settings import configured_by
from mp_testing.fixtures import (
    LICENSE_MARKER,
    _mp_license_gate,
    _mp_reset_settings,
    chosen_backend,
    mp_database,
    mp_db_client,
    mp_empty_database,
    mp_migrate,
    mp_pg_settings,
    mp_postgres_server,
    mp_redis,
    mp_redis_cluster,
    mp_redis_prefix,
    mp_redis_server,
    mp_source,
    mp_source_spec,
    mp_template_database,
    mp_testing_settings,
    mp_throwaway_postgres,
    mp_timescaledb_license,
)

__all__ = [
    "mp_database",
    "mp_db_client",
    "mp_empty_database",
    "mp_migrate",
    "mp_pg_settings",
    "mp_postgres_server",
    "mp_redis",
    "mp_redis_cluster",
    "mp_redis_prefix",
    "mp_redis_server",
    "mp_source",
    "mp_source_spec",
    "mp_template_database",
    "mp_testing_settings",
    "mp_throwaway_postgres",
    "mp_timescaledb_license",
    "pytest_addoption",
    "pytest_configure",
    "pytest_report_header",
    "pytest_terminal_summary",
]

# Autouse fixtures are registered by being names in this module.
_AUTOUSE = (_mp_license_gate, _mp_reset_settings)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``mp`` group: ``--mp-testing-backend`` and the other ``--mp-testing-*`` flags, each
    with its ``mp_testing_*`` ini option."""
    add_options(parser)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say where the servers will come from, before any test runs."""
    backend, chosen_by = chosen_backend(config)
    lines = [f"mp-testing: backend {backend} (from {chosen_by})"]
    for service, prefix in (("PostgreSQL", "MP_PG_"), ("Redis", "MP_REDIS_")):
        where = configured_by(prefix)
        if backend == "auto" and where is not None:
            rule = f"configured ({where}): that server only, a failure if it does not answer"
        elif backend == "auto":
            rule = "not configured: default address, else a container, else a throwaway server"
        else:
            rule = f"{backend} only"
        lines.append(f"  {service}: {rule}")
    resolved = resolve_options(config)
    if resolved.settings.require_services:
        source = resolved.sources["require_services"]
        lines.append(f"  a service that cannot be had fails its tests (from {source})")
    return lines


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say which servers the session used (nothing when no test needed one)."""
    for service, description in sorted(USED.items()):
        terminalreporter.write_line(f"mp-testing: {service} was {description}")


def pytest_configure(config: pytest.Config) -> None:
    """Declare mp-testing's markers (runs with ``--strict-markers``)."""
    config.addinivalue_line(
        "markers",
        f"{LICENSE_MARKER}: needs TimescaleDB's community (TSL) features; skipped on an "
        "Apache-2 build",
    )
