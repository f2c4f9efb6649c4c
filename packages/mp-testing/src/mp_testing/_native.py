"""The fixtures' one door to mp-stack's native servers (the ``native`` extra).

A throwaway server is a fixture concern, but starting, waiting for and stopping PostgreSQL and
redis-server processes is mp-stack's: the native stack runs the same servers, so mp-testing
uses that code rather than a copy of it. It is an extra because most repositories that install
mp-testing test against a running stack (the ``settings`` backend) or a container and need no
process supervisor; only the ``native`` backend and the fault fixtures
(``mp_throwaway_postgres``, ``mp_redis_cluster``) import it, lazily.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

from mp_testing.exceptions import ServiceUnavailableError

__all__ = ["INSTALL_HINT", "native_unavailable_as_skip", "require_native"]

INSTALL_HINT = "pip install 'mp-testing[native]' (it brings mp-stack, which runs the servers)"


def require_native(what: str) -> None:
    """Refuse, with the install hint, when mp-stack is not installed.

    Raises:
        ServiceUnavailableError: mp-stack is missing; the message names ``what`` needed it.
    """
    if importlib.util.find_spec("mp_stack") is None:
        raise ServiceUnavailableError(f"{what} needs mp-stack's native servers: {INSTALL_HINT}")


@contextmanager
def native_unavailable_as_skip(what: str) -> Iterator[None]:
    """Turn mp-stack's errors (a server that would not start) into ``ServiceUnavailableError``,
    which the fixtures report as a skip or a failure with the reason."""
    require_native(what)
    from mp_stack.exceptions import MpStackError

    try:
        yield
    except MpStackError as error:
        raise ServiceUnavailableError(f"{what}: {error}") from error
