"""Errors raised by mp-stack.

The hierarchy::

    MpStackError (RuntimeError)
    ├── NativeServiceError        a native server failed a step (initdb, start, stop, bootstrap)
    └── StackError                ``mp-stack`` could not bring the stack up or down

Each error says which step failed and, where there is one, how to fix it.
"""

from __future__ import annotations

__all__ = ["MpStackError", "NativeServiceError", "StackError"]


class MpStackError(RuntimeError):
    """Root of every mp-stack error."""


class NativeServiceError(MpStackError):
    """A step of running a native PostgreSQL or redis-server failed.

    Attributes:
        step: what was being done ("initdb", "start PostgreSQL", ...).
        hint: how to fix it, when known.
        log_tail: the last lines of the server's log, when there is one.
    """

    def __init__(self, step: str, detail: str, *, hint: str = "", log_tail: str = "") -> None:
        self.step = step
        self.detail = detail
        self.hint = hint
        self.log_tail = log_tail
        message = f"{step} failed: {detail}"
        if hint:
            message += f"\n  how to fix: {hint}"
        if log_tail:
            message += f"\n  last log lines:\n{log_tail}"
        super().__init__(message)


class StackError(MpStackError):
    """The local stack could not be brought up, down or inspected."""
