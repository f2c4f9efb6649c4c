"""A check every package's tests run: ``__all__`` lists exactly the public names."""

from __future__ import annotations

import types

__all__ = ["public_api_problems"]

_IGNORED = frozenset({"annotations"})


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then everything else.
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def public_api_problems(module: types.ModuleType) -> list[str]:
    """What is wrong with ``module.__all__``: unlisted public names, missing or unsorted names.

    Public means: not starting with an underscore, not a module, and defined (or re-exported)
    by the package itself rather than imported for a type annotation from a third party.
    """
    exported = list(getattr(module, "__all__", []))
    problems = [
        f"{name} is in __all__ but not defined" for name in exported if not hasattr(module, name)
    ]
    if len(set(exported)) != len(exported):
        problems.append("__all__ has duplicates")
    if exported != sorted(exported, key=_isort_key):
        problems.append("__all__ is not sorted (constants, classes, then functions)")
    package = module.__name__.split(".")[0]
    for name, value in vars(module).items():
        if name.startswith("_") or name in _IGNORED or isinstance(value, types.ModuleType):
            continue
        origin = getattr(value, "__module__", package) or package
        if origin.split(".")[0] != package and not isinstance(value, (str, int, dict, tuple)):
            continue  # a third-party name imported for use, not re-exported
        if name not in exported:
            problems.append(f"{name} is public but not in __all__")
    return problems
