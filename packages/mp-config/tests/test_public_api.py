"""The public surface of mp_config is exactly what ``__all__`` lists."""

from __future__ import annotations

import mp_config


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then everything else.
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def test_all_is_sorted_and_unique() -> None:
    """``__all__`` is sorted (constants, classes, then functions) and has no repeats."""
    names = list(mp_config.__all__)
    assert names == sorted(names, key=_isort_key)
    assert len(names) == len(set(names))


def test_every_exported_name_exists() -> None:
    """Each name in ``__all__`` resolves on the package."""
    missing = [name for name in mp_config.__all__ if not hasattr(mp_config, name)]
    assert missing == []


def test_no_public_name_is_left_out_of_all() -> None:
    """Public attributes that are not modules are all listed in ``__all__``."""
    import types

    public = {
        name
        for name, value in vars(mp_config).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - set(mp_config.__all__) == set()
