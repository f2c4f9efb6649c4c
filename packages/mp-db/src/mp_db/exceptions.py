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
    │   ├── IngestValidationError       a batch refused before any SQL (rows named)
    │   └── UnknownTableError           no fact table of that name (also a KeyError)
    └── ConfigurationError
        ├── AuthenticationError         wrong user or password
        ├── PermissionDeniedError       the role lacks a privilege
        ├── SchemaNotReadyError         mp's tables are missing: migrate first
        └── CatalogConflictError        a code is already registered with another definition

Authentication and authorization failures are configuration errors, never transient:
:func:`mp_db.run_with_retry` raises them at once. Every message ends with what to do (``--
is the stack up? run `python3 -m nox -s up```, ``-- check MP_PG_USER and MP_PG_PASSWORD``),
the class's :attr:`MpDbError.hint`. No message carries a bound parameter or a password: engines
hide parameters and settings mask passwords.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AuthenticationError",
    "BadInputError",
    "CatalogConflictError",
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
    "UnknownTableError",
]


class MpDbError(RuntimeError):
    """Root of every mp-db error.

    Attributes:
        sqlstate: the server's SQLSTATE, when there was one.
        retryable: True when retrying the whole unit of work may succeed.
        hint: what to do about it (the command or the setting), appended to the message.
    """

    retryable = False
    hint = ""

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        # The hint goes into the message itself: logs and tracebacks show str(error) only.
        if self.hint and self.hint not in message:
            message = f"{message} -- {self.hint}"
        super().__init__(message)
        self.sqlstate = sqlstate


class TransientError(MpDbError):
    """A fault that may pass: retry the whole unit of work."""

    retryable = True


class ConnectionLostError(TransientError):
    """The connection died (backend terminated, network cut); its transaction is gone."""

    hint = "retry the whole unit of work (mp_db.run_with_retry)"


class ServerUnavailableError(TransientError):
    """The server cannot be reached or does not accept connections right now."""

    hint = "is the stack up? run `python3 -m nox -s up` (or check MP_PG_HOST and MP_PG_PORT)"


class SerializationError(TransientError):
    """A serialization failure or deadlock: the transaction was rolled back."""

    hint = "retry the whole unit of work (mp_db.run_with_retry)"


class QueryTimeoutError(MpDbError):
    """A time limit was reached."""


class StatementTimeoutError(QueryTimeoutError):
    """``statement_timeout`` cancelled the statement (SQLSTATE 57014)."""

    hint = "narrow the query or raise MP_PG_STATEMENT_TIMEOUT_MS"


class LockTimeoutError(QueryTimeoutError):
    """``lock_timeout`` expired waiting for a lock (SQLSTATE 55P03)."""

    hint = "another transaction holds the lock; retry later or raise MP_PG_LOCK_TIMEOUT_MS"


class PoolTimeoutError(QueryTimeoutError):
    """Every pooled connection stayed busy for ``MP_PG_POOL_TIMEOUT`` seconds."""

    hint = "hold connections for less time or raise MP_PG_POOL_SIZE / MP_PG_POOL_TIMEOUT"


class ReadOnlyError(MpDbError):
    """A write reached a read-only server or transaction (a standby, SQLSTATE 25006)."""

    hint = "send writes to the primary: MP_PG_HOST must name it, not a standby"


class StorageFullError(MpDbError):
    """The server ran out of disk or memory (SQLSTATE class 53)."""

    hint = "free disk space (or memory) on the database server"


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


class UnknownTableError(BadInputError, KeyError):
    """A name, kind or class that names no fact table.

    Also a ``KeyError``, as the plain ``KeyError`` it replaces, so older ``except KeyError``
    blocks keep working.
    """

    hint = "name one of the tables listed (or a SeriesKind, or a row class)"

    def __str__(self) -> str:
        # KeyError quotes its message; this one is a sentence.
        return str(self.args[0]) if self.args else ""


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

    hint = "check MP_PG_USER and MP_PG_PASSWORD (in .env; see .env.example)"


class PermissionDeniedError(ConfigurationError):
    """The role lacks a privilege (SQLSTATE 42501)."""

    hint = (
        "connect as a role that holds the privilege (MP_PG_USER) or grant it with"
        " `python3 -m nox -s migrate`"
    )


class SchemaNotReadyError(ConfigurationError):
    """mp's tables are missing or older than this code: run ``mp-schema upgrade``."""

    hint = "migrate the database: `python3 -m nox -s migrate` (or `mp-schema upgrade`)"


class CatalogConflictError(ConfigurationError):
    """A code is already registered with a different definition (another kind or frequency).

    Attributes:
        table: the catalog table (``series``, ``instruments``, ``data_sources``).
        key: the natural key that clashed, as a readable string.
        conflicts: ``(field, stored, given)`` for each field that differs.
    """

    hint = "keep the registered definition, or register the new one under another code"

    def __init__(
        self, table: str, key: str, conflicts: Sequence[tuple[str, object, object]]
    ) -> None:
        self.table = table
        self.key = key
        self.conflicts = tuple(conflicts)
        differences = "; ".join(
            f"{field} is {stored!r}, not {given!r}" for field, stored, given in self.conflicts
        )
        super().__init__(f"mp.{table} {key} is already registered: {differences}")
