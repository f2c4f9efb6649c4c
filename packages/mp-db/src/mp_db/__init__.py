"""Database access for mp: engines for both drivers built from ``MP_PG_*`` settings."""

from mp_db._engines import create_async_db_engine, create_sync_engine, session_parameters
from mp_db._version import __version__

__all__ = ["__version__", "create_async_db_engine", "create_sync_engine", "session_parameters"]
