"""The public surfaces of mp_stack list exactly what they export."""

from __future__ import annotations

import types

import pytest

import mp_stack
import mp_stack.native
from mp_testing import public_api_problems


@pytest.mark.parametrize("module", [mp_stack, mp_stack.native])
def test_all_matches_public_names(module: types.ModuleType) -> None:
    """Every public name is in a sorted __all__, and every __all__ name exists."""
    assert public_api_problems(module) == []


def test_no_pytest_plugin_is_registered() -> None:
    """mp-stack registers no pytest11 entry point: installing it for ``nox -s up`` must not
    add a plugin to anyone's test runs."""
    from importlib import metadata

    entry_points = metadata.distribution("mp-stack").entry_points
    assert [point.group for point in entry_points] == ["console_scripts"]
    assert [point.name for point in entry_points] == ["mp-stack"]
