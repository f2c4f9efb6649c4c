"""The public surfaces of mp_testing list exactly what they export."""

from __future__ import annotations

import types

import pytest

import mp_testing
import mp_testing.native
import mp_testing.stack
from mp_testing import public_api_problems


@pytest.mark.parametrize("module", [mp_testing, mp_testing.native, mp_testing.stack])
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
