"""The one place where driver and SQLAlchemy errors become mp-db errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy import exc as sa_exc

from mp_db.exceptions import (
    AuthenticationError,
    BadInputError,
    ConfigurationError,
    ConnectionLostError,
    ConstraintViolationError,
    LockTimeoutError,
    MpDbError,
    PermissionDeniedError,
    PoolTimeoutError,
    ReadOnlyError,
    SchemaNotReadyError,
    SerializationError,
    ServerUnavailableError,
    StatementTimeoutError,
    StorageFullError,
)

__all__ = ["classify_error", "translate_errors", "translate_errors_async"]

# SQLSTATE -> class, exact codes first, then two-character classes.
_EXACT: dict[str, type[MpDbError]] = {
    "57014": StatementTimeoutError,
    "55P03": LockTimeoutError,
    "40001": SerializationError,
    "40P01": SerializationError,
    "25006": ReadOnlyError,
    "57P01": ConnectionLostError,  # admin_shutdown: our backend was terminated
    "57P02": ConnectionLostError,  # crash_shutdown
    "57P03": ServerUnavailableError,  # cannot_connect_now: starting up or in recovery
    "53300": ServerUnavailableError,  # too_many_connections
    "53100": StorageFullError,  # disk_full
    "53200": StorageFullError,  # out_of_memory
    "42501": PermissionDeniedError,
    "42P01": SchemaNotReadyError,  # undefined_table
    "3F000": SchemaNotReadyError,  # invalid_schema_name
    "3D000": ConfigurationError,  # the database does not exist
}
_STATE_HINTS = {
    "3D000": "check MP_PG_DATABASE, or create the database with `python3 -m nox -s up`",
}
_CLASSES: dict[str, type[MpDbError]] = {
    "08": ConnectionLostError,
    "23": ConstraintViolationError,
    "22": BadInputError,
    "28": AuthenticationError,
    "53": StorageFullError,
}


# libpq reports a refused connection (the server's FATAL during startup) without a SQLSTATE, so
# psycopg's OperationalError carries none: the server's message is all there is to tell a wrong
# password (never transient) from a server that is down (transient). asyncpg has the SQLSTATE.
_STARTUP_FATAL: tuple[tuple[str, str], ...] = (
    ("password authentication failed", "28P01"),
    ("no pg_hba.conf entry", "28000"),
    ("role ", "28000"),  # role "x" does not exist / is not permitted to log in
    ("authentication failed", "28000"),
    ("permission denied for database", "42501"),
    ("does not exist", "3D000"),  # database "x" does not exist
)


def _startup_sqlstate(message: str) -> str | None:
    if "FATAL:" not in message:
        return None
    fatal = message.split("FATAL:", 1)[1]
    for fragment, state in _STARTUP_FATAL:
        if fragment in fatal:
            return state
    return None


def _sqlstate(original: BaseException | None) -> str | None:
    # psycopg exposes .sqlstate; SQLAlchemy's asyncpg adapter copies it to .sqlstate as well.
    for candidate in (original, getattr(original, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str) and len(state) == 5:
            return state
    return None


def _constraint(original: BaseException | None) -> str | None:
    diag = getattr(original, "diag", None)  # psycopg
    name = getattr(diag, "constraint_name", None)
    if name:
        return str(name)
    cause = getattr(original, "__cause__", None)  # asyncpg, behind SQLAlchemy's adapter
    name = getattr(cause, "constraint_name", None)
    return str(name) if name else None


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _from_state(state: str, message: str, original: BaseException | None) -> MpDbError:
    kind = _EXACT.get(state) or _CLASSES.get(state[:2])
    if kind is ConstraintViolationError:
        return ConstraintViolationError(message, sqlstate=state, constraint=_constraint(original))
    hint = _STATE_HINTS.get(state)
    if hint is not None:
        message = f"{message} -- {hint}"
    if kind is not None:
        return kind(message, sqlstate=state)
    return MpDbError(message, sqlstate=state)


def _is_driver_error(error: BaseException) -> bool:
    return type(error).__module__.split(".")[0] in {"psycopg", "asyncpg"}


def classify_error(error: BaseException) -> MpDbError | None:
    """The mp-db error for ``error``, or ``None`` when it is not a database error.

    The decision uses, in order: SQLAlchemy's pool timeout, ``connection_invalidated`` (a dead
    connection, whatever the driver called it), the SQLSTATE (also of errors the drivers raise
    directly, as binary COPY does), and finally timeouts and OS errors.
    """
    if isinstance(error, MpDbError):
        return error
    if isinstance(error, sa_exc.TimeoutError):
        return PoolTimeoutError(f"no database connection available: {_first_line(error)}")
    if isinstance(error, sa_exc.DBAPIError):
        original = error.orig
        message = _first_line(error)
        state = _sqlstate(original) or _startup_sqlstate(message)
        if error.connection_invalidated and state not in _EXACT:
            return ConnectionLostError(f"connection lost: {message}", sqlstate=state)
        if state is not None:
            return _from_state(state, message, original)
        if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
            return ServerUnavailableError(f"database unreachable: {message}")
        return MpDbError(message)
    if _is_driver_error(error):
        # Raised by the driver directly (binary COPY runs below SQLAlchemy).
        message = _first_line(error)
        state = _sqlstate(error)
        if state is not None:
            return _from_state(state, message, error)
        return ConnectionLostError(f"connection lost: {message}")
    if isinstance(error, TimeoutError):
        # asyncpg's command_timeout: no answer within the client-side deadline, so the
        # connection is presumed lost (half-open), as the psycopg watchdog concludes too.
        return ConnectionLostError(
            "no answer from the server within the client-side deadline (connection presumed lost)"
        )
    if isinstance(error, OSError):
        return ServerUnavailableError(f"database unreachable: {error}")
    if isinstance(error, sa_exc.SQLAlchemyError):
        return MpDbError(_first_line(error))
    return None


@contextmanager
def translate_errors() -> Iterator[None]:
    """Re-raise database errors inside the block as mp-db errors (the cause is kept)."""
    try:
        yield
    except MpDbError:
        raise
    except Exception as error:
        classified = classify_error(error)
        if classified is None:
            raise
        raise classified from error


@asynccontextmanager
async def translate_errors_async() -> AsyncIterator[None]:
    """The async twin of :func:`translate_errors`."""
    with translate_errors():
        yield
