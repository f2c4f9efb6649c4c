"""The pytest plugin of mp's reliability scenarios, registered through ``pytest11``.

mp's suites mark scenarios with ``@pytest.mark.scenario("suite")`` and slow or destructive ones
with ``@pytest.mark.reliability``; ``nox -s reliability`` runs them with ``--reliability`` and
sums up the report (``infra/tools/reliability_summary.py``). This lives outside mp-testing so
the plugin a downstream repository installs carries none of it.
"""

from __future__ import annotations

from typing import Any

import pytest

from mp_reliability._scenarios import (
    mp_scenario_metrics,
    record_outcome,
    select_scenarios,
    write_report,
)

__all__ = [
    "mp_scenario_metrics",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--reliability``: run the reliability scenarios (and only them)."""
    group = parser.getgroup("mp-reliability", "mp's reliability scenarios")
    group.addoption(
        "--reliability",
        action="store_true",
        default=False,
        help="run only reliability scenarios, slow ones included (also MP_TESTING_RELIABILITY)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare the scenario markers (the suites run with ``--strict-markers``)."""
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
