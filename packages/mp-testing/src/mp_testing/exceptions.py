"""Errors raised by mp-testing.

The hierarchy::

    MpTestingError (RuntimeError)
    └── ServiceUnavailableError   no backend could provide PostgreSQL or Redis

A native server that fails a step raises mp-stack's ``NativeServiceError`` (mp-stack runs the
servers); the fixtures turn it into a skip or failure with its message.
"""

from __future__ import annotations

__all__ = ["MpTestingError", "ServiceUnavailableError"]


class MpTestingError(RuntimeError):
    """Root of every mp-testing error."""


class ServiceUnavailableError(MpTestingError):
    """No backend (settings, container, native) could provide the service."""
