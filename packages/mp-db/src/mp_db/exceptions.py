"""Errors raised by mp-db: one taxonomy, whatever the driver.

The same fault arrives as different exception classes under psycopg and asyncpg (a killed
backend is ``AdminShutdown`` 57P01 under psycopg and an ``InterfaceError`` without SQLSTATE
under asyncpg). mp-db classifies on SQLAlchemy's ``connection_invalidated`` flag and the
SQLSTATE in one place (:func:`mp_db.classify_error`), so callers handle one tree::

    MpDbError (RuntimeError)
    ├── TransientError              retry the whole unit of work (ingest is idempotent)
    │   ├── ConnectionLostError         the connection died; an open transaction is gone
    │   ├── ServerUnavailableError      cannot connect, shutting down, starting, or full
    │   └── SerializationError          serialization failure or deadlock
    ├── QueryTimeoutError
    │   ├── StatementTimeoutError       statement_timeout (57014)
    │   ├── LockTimeoutError            lock_timeout (55P03)
    │   └── PoolTimeoutError            no pooled connection within MP_PG_POOL_TIMEOUT
    ├── ReadOnlyError                   the server or transaction is read-only (a standby)
    ├── StorageFullError                disk full or out of memory
    ├── ConstraintViolationError        the database refused a row (constraint named)
    ├── BadInputError                   data the database cannot take (class 22)
    │   └── IngestValidationError       a batch refused before any SQL (rows named)
    └── ConfigurationError
        ├── AuthenticationError         wrong user or password
        ├── PermissionDeniedError       the role lacks a privilege
        └── SchemaNotReadyError         mp's tables are missing: migrate first

No message carries a bound parameter or a password: engines hide parameters and settings mask
passwords.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AuthenticationError",
    "BadInputError",
    "ConfigurationError",
    "ConnectionLostError",
    "ConstraintViolationError",
    "IngestValidationError",
    "LockTimeoutError",
    "MpDbError",
    "PermissionDeniedError",
    "PoolTimeoutError",
    "QueryTimeoutError",
    "ReadOnlyError",
    "RowProblem",
    "SchemaNotReadyError",
    "SerializationError",
    "ServerUnavailableError",
    "StatementTimeoutError",
    "StorageFullError",
    "TransientError",
]


class MpDbError(RuntimeError):
    """Root of every mp-db error.

    Attributes:
        sqlstate: the server's SQLSTATE, when there was one.
        retryable: True when retrying the whole unit of work may succeed.
    """

    retryable = False

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class TransientError(MpDbError):
    """A fault that may pass: retry the whole unit of work."""

    retryable = True


class ConnectionLostError(TransientError):
    """The connection died (backend terminated, network cut); its transaction is gone."""


class ServerUnavailableError(TransientError):
    """The server cannot be reached or does not accept connections right now."""


class SerializationError(TransientError):
    """A serialization failure or deadlock: the transaction was rolled back."""


class QueryTimeoutError(MpDbError):
    """A time limit was reached."""


class StatementTimeoutError(QueryTimeoutError):
    """``statement_timeout`` cancelled the statement (SQLSTATE 57014)."""


class LockTimeoutError(QueryTimeoutError):
    """``lock_timeout`` expired waiting for a lock (SQLSTATE 55P03)."""


class PoolTimeoutError(QueryTimeoutError):
    """Every pooled connection stayed busy for ``MP_PG_POOL_TIMEOUT`` seconds."""


class ReadOnlyError(MpDbError):
    """A write reached a read-only server or transaction (a standby, SQLSTATE 25006)."""


class StorageFullError(MpDbError):
    """The server ran out of disk or memory (SQLSTATE class 53)."""


class ConstraintViolationError(MpDbError):
    """The database refused a row.

    Attributes:
        constraint: the constraint's name (``ck_macro_observations_value_finite``...).
    """

    def __init__(
        self, message: str, *, sqlstate: str | None = None, constraint: str | None = None
    ) -> None:
        super().__init__(message, sqlstate=sqlstate)
        self.constraint = constraint


class BadInputError(MpDbError):
    """Input the database cannot take (SQLSTATE class 22), or refused before sending it."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One reason a row of a batch was refused.

    Attributes:
        index: the row's position in the batch (0-based).
        field: the column at fault (``""`` for the row as a whole).
        code: a stable machine-readable code (see :data:`mp_db.PROBLEM_CODES`).
        message: what is wrong, for people.
    """

    index: int
    field: str
    code: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.index}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.message} [{self.code}]"


class IngestValidationError(BadInputError):
    """A batch was refused before any SQL was sent; nothing was written.

    Attributes:
        problems: every problem found, in row order.
    """

    shown = 20

    def __init__(self, table: str, problems: Sequence[RowProblem]) -> None:
        self.table = table
        self.problems = tuple(problems)
        rows = len({problem.index for problem in self.problems})
        lines = "\n".join(f"  - {problem}" for problem in self.problems[: self.shown])
        more = len(self.problems) - self.shown
        if more > 0:
            lines += f"\n  ... and {more} more (see .problems)"
        super().__init__(
            f"batch for mp.{table} refused, nothing written: {len(self.problems)} problem(s) in "
            f"{rows} row(s)\n{lines}"
        )

    @property
    def codes(self) -> set[str]:
        """The distinct problem codes."""
        return {problem.code for problem in self.problems}


class ConfigurationError(MpDbError):
    """Settings, credentials, privileges or schema do not fit: retrying will not help."""


class AuthenticationError(ConfigurationError):
    """The server refused the user or password (SQLSTATE class 28)."""


class PermissionDeniedError(ConfigurationError):
    """The role lacks a privilege (SQLSTATE 42501)."""


class SchemaNotReadyError(ConfigurationError):
    """mp's tables are missing or older than this code: run ``mp-schema upgrade``."""
