"""The public surfaces of mp_schema list exactly what they export."""

from __future__ import annotations

import types

import pytest

import mp_schema
import mp_schema.enums
import mp_schema.models
from mp_testing import public_api_problems


@pytest.mark.parametrize("module", [mp_schema, mp_schema.enums, mp_schema.models])
def test_all_matches_public_names(module: types.ModuleType) -> None:
    """Every public name is in a sorted __all__, and every __all__ name exists."""
    assert public_api_problems(module) == []
