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

from mp_testing._backends import USED
from mp_testing._scenarios import (
    mp_scenario_metrics,
    record_outcome,
    select_scenarios,
    write_report,
)
from mp_testing._settings import BACKENDS, configured_by
from mp_testing.fixtures import (
    BACKEND_OPTION,
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
    "mp_redis_server",
    "mp_scenario_metrics",
    "mp_source",
    "mp_source_spec",
    "mp_template_database",
    "mp_testing_settings",
    "mp_throwaway_postgres",
    "mp_timescaledb_license",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_report_header",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
]

# Autouse fixtures are registered by being names in this module.
_AUTOUSE = (_mp_license_gate, _mp_reset_settings)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--reliability``: run the reliability scenarios (and only them); ``--mp-testing-backend``
    and the ``mp_testing_backend`` ini option: where the servers come from."""
    parser.addoption(
        "--reliability",
        action="store_true",
        default=False,
        help="run only reliability scenarios, slow ones included",
    )
    group = parser.getgroup("mp-testing", "mp-testing: real PostgreSQL/TimescaleDB and Redis")
    group.addoption(
        "--mp-testing-backend",
        dest=BACKEND_OPTION,
        choices=BACKENDS,
        default=None,
        help="where the test servers come from (overrides MP_TESTING_BACKEND and the ini option)",
    )
    parser.addini(
        BACKEND_OPTION,
        help="where the test servers come from: " + ", ".join(BACKENDS) + " (default auto)",
        default="",
    )


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
