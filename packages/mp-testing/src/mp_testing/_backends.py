"""Trying service backends in order and reporting why each one that failed did."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from mp_testing.exceptions import MpTestingError, ServiceUnavailableError

__all__ = ["BACKEND_ORDER", "first_working", "run_closers"]

T = TypeVar("T")

#: What each value of ``MP_TESTING_BACKEND`` tries, in order.
BACKEND_ORDER: Mapping[str, tuple[str, ...]] = {
    "auto": ("settings", "container", "native"),
    "settings": ("settings",),
    "container": ("container",),
    "native": ("native",),
}


def first_working(choice: str, factories: Mapping[str, Callable[[], T]], service: str) -> T:
    """Call the factories named by ``choice`` in order; return the first result.

    Raises:
        ServiceUnavailableError: every factory failed; the message lists each reason.
    """
    reasons = []
    for backend in BACKEND_ORDER[choice]:
        try:
            return factories[backend]()
        except MpTestingError as error:
            reasons.append(f"{backend}: {error}")
    raise ServiceUnavailableError(f"no {service} for the tests:\n  " + "\n  ".join(reasons))


def run_closers(closers: list[Callable[[], None]]) -> None:
    """Run cleanup callbacks, newest first, logging (not raising) each failure.

    Teardown must go on whatever one step does: a container that will not stop must not keep a
    temporary folder from being deleted.
    """
    while closers:
        closer = closers.pop()
        try:
            closer()
        except Exception:
            logging.getLogger("mp_testing").exception("mp-testing: cleanup step failed")
