"""mp_db exports exactly its public names."""

from __future__ import annotations

import mp_db
from mp_testing import public_api_problems


def test_all_matches_public_names() -> None:
    """Every public name is in a sorted __all__, and every __all__ name exists."""
    assert public_api_problems(mp_db) == []
