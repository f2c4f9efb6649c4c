"""mp's point-in-time schema: models, packaged Alembic migrations and the commands to run them.

Example:
    >>> from mp_schema import heads
    >>> len(heads())
    1
"""

from mp_schema._migrations import (
    MIGRATIONS_DIR,
    RevisionInfo,
    alembic_config,
    check,
    current,
    downgrade,
    heads,
    history,
    offline_sql,
    upgrade,
)
from mp_schema._version import __version__
from mp_schema.exceptions import MigrationError, SchemaDriftError, SchemaError
from mp_schema.models import metadata

__all__ = [
    "MIGRATIONS_DIR",
    "MigrationError",
    "RevisionInfo",
    "SchemaDriftError",
    "SchemaError",
    "__version__",
    "alembic_config",
    "check",
    "current",
    "downgrade",
    "heads",
    "history",
    "metadata",
    "offline_sql",
    "upgrade",
]
