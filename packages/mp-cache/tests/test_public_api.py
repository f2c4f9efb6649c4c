"""The public surface of mp_cache is exactly what ``__all__`` lists."""

from __future__ import annotations

import types

import pytest

import mp_cache
import mp_cache.exceptions
from mp_testing import public_api_problems


@pytest.mark.parametrize("module", [mp_cache, mp_cache.exceptions])
def test_all_matches_public_names(module: types.ModuleType) -> None:
    """Every public name is in a sorted __all__, and every __all__ name exists."""
    assert public_api_problems(module) == []
