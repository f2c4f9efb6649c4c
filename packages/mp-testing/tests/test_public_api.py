"""The public surfaces of mp_testing list exactly what they export."""

from __future__ import annotations

import types

import pytest

import mp_testing
import mp_testing.native
import mp_testing.stack


@pytest.mark.parametrize("module", [mp_testing, mp_testing.native, mp_testing.stack])
def test_all_matches_public_names(module: types.ModuleType) -> None:
    """Every public, non-module attribute is in __all__ and every __all__ name exists."""
    exported = set(module.__all__)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name not in {"annotations", "Path"}
    }
    assert public - exported == set()
    assert {name for name in exported if not hasattr(module, name)} == set()
