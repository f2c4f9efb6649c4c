"""The public surfaces of mp_testing list exactly what they export."""

from __future__ import annotations

import types

import pytest

import mp_testing
import mp_testing.faults
from mp_testing import public_api_problems


@pytest.mark.parametrize("module", [mp_testing, mp_testing.faults])
def test_all_matches_public_names(module: types.ModuleType) -> None:
    """Every public name is in a sorted __all__, and every __all__ name exists."""
    assert public_api_problems(module) == []


def test_the_check_finds_problems() -> None:
    """An unlisted public name, a missing name and an unsorted list are all reported."""
    module = types.ModuleType("mp_testing.fake")
    module.__all__ = ["zeta", "Alpha", "missing"]  # type: ignore[attr-defined]

    def zeta() -> None: ...

    class Alpha: ...

    def extra() -> None: ...

    for item in (zeta, Alpha, extra):
        item.__module__ = "mp_testing.fake"
        setattr(module, item.__name__, item)
    problems = public_api_problems(module)
    assert "missing is in __all__ but not defined" in problems
    assert "extra is public but not in __all__" in problems
    assert any("not sorted" in problem for problem in problems)


def test_the_plugin_brings_no_process_supervisor() -> None:
    """Importing mp-testing and its plugin loads nothing of mp-stack: the native servers are an
    extra (``mp-testing[native]``), imported only by the fixtures that start one."""
    import subprocess
    import sys

    script = (
        "import sys, mp_testing, mp_testing.plugin, mp_testing.faults; "
        "print(sorted(m for m in sys.modules if m.startswith(('mp_stack', 'mp_reliability'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert loaded == "[]"
