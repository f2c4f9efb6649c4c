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

from typing import Any

import pytest

from mp_testing._scenarios import (
    mp_scenario_metrics,
    record_outcome,
    select_scenarios,
    write_report,
)
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
    "mp_scenario_metrics",
    "mp_template_database",
    "mp_testing_settings",
    "mp_throwaway_postgres",
    "mp_timescaledb_license",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
]

# Autouse fixtures are registered by being names in this module.
_AUTOUSE = (_mp_license_gate, _mp_reset_settings)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--reliability``: run the reliability scenarios (and only them)."""
    parser.addoption(
        "--reliability",
        action="store_true",
        default=False,
        help="run only reliability scenarios, slow ones included",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare mp-testing's markers (runs with ``--strict-markers``)."""
    config.addinivalue_line(
        "markers",
        f"{LICENSE_MARKER}: needs TimescaleDB's community (TSL) features; skipped on an "
        "Apache-2 build",
    )
    config.addinivalue_line("markers", "scenario(suite): a reliability scenario of the named suite")
    config.addinivalue_line(
        "markers", "reliability: a slow or destructive scenario, run by --reliability only"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep slow scenarios out of the default run; with --reliability keep only scenarios."""
    select_scenarios(config, items)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Record each scenario's outcome for the reliability summary."""
    outcome = yield
    record_outcome(item, outcome.get_result())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the scenario report when ``MP_TESTING_REPORT`` asks for one."""
    write_report()
