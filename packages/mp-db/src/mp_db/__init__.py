"""Database access for mp: engines, point-in-time reads and idempotent ingest, sync and async."""

from mp_db._arguments import BEGINNING, END_OF_TIME
from mp_db._cutoff import Cutoff
from mp_db._database import AsyncDatabase, Database
from mp_db._engines import create_async_db_engine, create_sync_engine, session_parameters
from mp_db._errors import classify_error, translate_errors
from mp_db._frames import to_frame
from mp_db._health import HealthReport, check_health, check_health_async, durability_warnings
from mp_db._ingest import DEFAULT_CHUNK_ROWS, ingest, ingest_async
from mp_db._ingest_sql import IngestProgress, IngestReport
from mp_db._reads import AsyncReader, Query, Reader, join_as_of
from mp_db._retry import DEFAULT_RETRY, RetryPolicy, run_with_retry, run_with_retry_async
from mp_db._rows import (
    ROW_TYPES,
    AlfredInterval,
    AsOfValue,
    CurvePointRow,
    FactRow,
    MacroObservationRow,
    MarketBarRow,
    PositioningFlowRow,
    RateFixingRow,
    ReleaseCalendarRow,
    SignalValueRow,
)
from mp_db._tables import FactTable, resolve_table
from mp_db._validation import PROBLEM_CODES, validate_batch
from mp_db._version import __version__
from mp_db.exceptions import (
    AuthenticationError,
    BadInputError,
    ConfigurationError,
    ConnectionLostError,
    ConstraintViolationError,
    IngestValidationError,
    LockTimeoutError,
    MpDbError,
    PermissionDeniedError,
    PoolTimeoutError,
    QueryTimeoutError,
    ReadOnlyError,
    RowProblem,
    SchemaNotReadyError,
    SerializationError,
    ServerUnavailableError,
    StatementTimeoutError,
    StorageFullError,
    TransientError,
)

__all__ = [
    "BEGINNING",
    "DEFAULT_CHUNK_ROWS",
    "DEFAULT_RETRY",
    "END_OF_TIME",
    "PROBLEM_CODES",
    "ROW_TYPES",
    "AlfredInterval",
    "AsOfValue",
    "AsyncDatabase",
    "AsyncReader",
    "AuthenticationError",
    "BadInputError",
    "ConfigurationError",
    "ConnectionLostError",
    "ConstraintViolationError",
    "CurvePointRow",
    "Cutoff",
    "Database",
    "FactRow",
    "FactTable",
    "HealthReport",
    "IngestProgress",
    "IngestReport",
    "IngestValidationError",
    "LockTimeoutError",
    "MacroObservationRow",
    "MarketBarRow",
    "MpDbError",
    "PermissionDeniedError",
    "PoolTimeoutError",
    "PositioningFlowRow",
    "Query",
    "QueryTimeoutError",
    "RateFixingRow",
    "ReadOnlyError",
    "Reader",
    "ReleaseCalendarRow",
    "RetryPolicy",
    "RowProblem",
    "SchemaNotReadyError",
    "SerializationError",
    "ServerUnavailableError",
    "SignalValueRow",
    "StatementTimeoutError",
    "StorageFullError",
    "TransientError",
    "__version__",
    "check_health",
    "check_health_async",
    "classify_error",
    "create_async_db_engine",
    "create_sync_engine",
    "durability_warnings",
    "ingest",
    "ingest_async",
    "join_as_of",
    "resolve_table",
    "run_with_retry",
    "run_with_retry_async",
    "session_parameters",
    "to_frame",
    "translate_errors",
    "validate_batch",
]
