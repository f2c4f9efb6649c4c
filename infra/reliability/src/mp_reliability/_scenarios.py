"""Reliability scenarios: markers, selection, metrics and the summary report.

* ``@pytest.mark.scenario("suite")`` names a test as a scenario of one of the reliability
  suites (load_held, faults_survived, bad_inputs, nothing_lost, migrations, security).
* ``@pytest.mark.reliability`` marks a slow or destructive scenario: deselected by default,
  run with ``--reliability`` (what ``nox -s reliability`` does), which selects every scenario.
* The ``mp_scenario_metrics`` fixture gives a dict a scenario fills with figures (rows
  verified, crash cycles, lost rows...). With ``MP_TESTING_REPORT`` set, every scenario's
  outcome and figures are appended to that file as JSON lines at the end of the session (the
  variable keeps the name it had when mp-testing carried this plugin: nox and CI set it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "REPORT_VARIABLE",
    "SUITES",
    "mp_scenario_metrics",
    "record_outcome",
    "select_scenarios",
    "write_report",
]

REPORT_VARIABLE = "MP_TESTING_REPORT"
SUITES = ("load_held", "faults_survived", "bad_inputs", "nothing_lost", "migrations", "security")
_METRICS = pytest.StashKey[dict[str, Any]]()
_RESULTS: list[dict[str, Any]] = []


def _suite(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("scenario")
    if marker is None:
        return "unassigned" if item.get_closest_marker("reliability") else None
    suite = str(marker.args[0]) if marker.args else "unassigned"
    if suite not in SUITES:
        raise pytest.UsageError(
            f"{item.nodeid}: unknown scenario suite {suite!r}; use one of {', '.join(SUITES)}"
        )
    return suite


def select_scenarios(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Default run: drop slow scenarios. ``--reliability``: keep only scenarios."""
    wanted = config.getoption("reliability") or os.environ.get(
        "MP_TESTING_RELIABILITY", ""
    ).lower() in {"1", "true", "yes"}
    keep, drop = [], []
    for item in items:
        is_scenario = _suite(item) is not None
        slow = item.get_closest_marker("reliability") is not None
        if (wanted and is_scenario) or (not wanted and not slow):
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def mp_scenario_metrics(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A dict this scenario fills with its figures (reported by ``nox -s reliability``)."""
    metrics: dict[str, Any] = {}
    request.node.stash[_METRICS] = metrics
    return metrics


def record_outcome(item: pytest.Item, report: pytest.TestReport) -> None:
    """Remember the outcome of a scenario's call phase (or a failed or skipped setup)."""
    suite = _suite(item)
    if suite is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _RESULTS.append(
            {
                "suite": suite,
                "scenario": item.nodeid,
                "outcome": report.outcome,
                "seconds": round(report.duration, 3),
                "metrics": item.stash.get(_METRICS, {}),
            }
        )


def write_report() -> Path | None:
    """Append the scenarios' results to ``MP_TESTING_REPORT`` (one JSON object a line)."""
    target = os.environ.get(REPORT_VARIABLE)
    if not target or not _RESULTS:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as handle:
        for result in _RESULTS:
            handle.write(json.dumps(result, default=str) + "\n")
    return path
