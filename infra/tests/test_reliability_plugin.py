"""mp's reliability plugin (infra/reliability): scenario selection and the report, and that the
plugin downstream repositories install (mp-testing) carries none of it. Run through pytester."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SCENARIOS = """
import pytest

def test_plain():
    pass

@pytest.mark.scenario("nothing_lost")
def test_quick_scenario(mp_scenario_metrics):
    mp_scenario_metrics["rows_verified"] = 3

@pytest.mark.reliability
@pytest.mark.scenario("faults_survived")
def test_slow_scenario():
    pass
"""


def test_default_run_leaves_slow_scenarios_out(pytester: pytest.Pytester) -> None:
    """Without --reliability: plain tests and quick scenarios run, slow scenarios do not."""
    pytester.makepyfile(SCENARIOS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=2, deselected=1)


def test_reliability_runs_every_scenario_and_writes_the_report(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--reliability keeps only scenarios, slow ones included; MP_TESTING_REPORT receives one
    JSON line per scenario with its suite, outcome and metrics."""
    report = tmp_path / "reliability.jsonl"
    monkeypatch.setenv("MP_TESTING_REPORT", str(report))
    pytester.makepyfile(SCENARIOS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--reliability")
    result.assert_outcomes(passed=2, deselected=1)
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert sorted(line["suite"] for line in lines) == ["faults_survived", "nothing_lost"]
    quick = next(line for line in lines if line["suite"] == "nothing_lost")
    assert quick["outcome"] == "passed"
    assert quick["metrics"] == {"rows_verified": 3}


def test_an_unknown_suite_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """A scenario naming a suite the summary does not know stops the run, naming the test."""
    pytester.makepyfile(
        "import pytest\n\n@pytest.mark.scenario('speed')\ndef test_x():\n    pass\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    assert "unknown scenario suite 'speed'" in result.stderr.str()


def test_mp_testing_alone_knows_no_scenario_marker(pytester: pytest.Pytester) -> None:
    """With only mp-testing's plugin (what a downstream repository installs), the scenario
    marker is unknown and --reliability does not exist: the reporting is not in that plugin."""
    pytester.makepyfile(SCENARIOS)
    strict = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:mp_reliability", "--strict-markers"
    )
    assert strict.ret != 0
    assert "'scenario' not found in `markers` configuration option" in strict.stdout.str()
    option = pytester.runpytest_subprocess("-p", "no:mp_reliability", "--reliability")
    assert "unrecognized arguments: --reliability" in option.stderr.str()
