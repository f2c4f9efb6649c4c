"""Trying service backends in order and reporting why each one that failed did."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from mp_testing.exceptions import MpTestingError, ServiceUnavailableError

__all__ = ["BACKEND_ORDER", "USED", "backend_order", "first_working", "run_closers"]

T = TypeVar("T")

#: What each value of ``MP_TESTING_BACKEND`` tries, in order.
BACKEND_ORDER: Mapping[str, tuple[str, ...]] = {
    "auto": ("settings", "container", "native"),
    "settings": ("settings",),
    "container": ("container",),
    "native": ("native",),
}


#: What was used this session, service -> description (printed in the pytest summary).
USED: dict[str, str] = {}


def backend_order(choice: str, configured: str | None) -> tuple[str, ...]:
    """The backends to try: only ``settings`` under ``auto`` when the service is configured."""
    if choice == "auto" and configured is not None:
        return ("settings",)
    return BACKEND_ORDER[choice]


def first_working(
    choice: str,
    factories: Mapping[str, Callable[[], T]],
    service: str,
    *,
    configured: str | None = None,
) -> T:
    """Call the factories named by ``choice`` in order; return the first result.

    Args:
        configured: where the service's settings are configured, if they are (see
            :func:`mp_testing._settings.configured_by`): then ``auto`` uses them or fails.

    Raises:
        ServiceUnavailableError: every factory failed; the message lists each reason.
    """
    reasons = []
    for backend in backend_order(choice, configured):
        try:
            return factories[backend]()
        except MpTestingError as error:
            reasons.append(f"{backend}: {error}")
    advice = ""
    if choice == "auto" and configured is not None:
        advice = (
            f"\n{service} is configured ({configured}), so no throwaway server replaces it:"
            " is the stack up? run `python3 -m nox -s up` (and check the password in .env),"
            " or set MP_TESTING_BACKEND=native to test against throwaway servers instead"
        )
    raise ServiceUnavailableError(
        f"no {service} for the tests:\n  " + "\n  ".join(reasons) + advice
    )


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
