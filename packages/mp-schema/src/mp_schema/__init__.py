"""mp's point-in-time schema: enums, models, packaged Alembic migrations and their commands.

Models live in :mod:`mp_schema.models`, enums in :mod:`mp_schema.enums`.

Example:
    >>> from mp_schema import heads
    >>> len(heads())
    1
"""

from mp_schema._compression import (
    COMPRESSION_STATES,
    CompressionState,
    compression_status,
    enable_compression,
    pause_compression,
)
from mp_schema._enum_checks import enum_check, enum_check_sql, replace_enum_check
from mp_schema._erd import erd_dot
from mp_schema._features import FeatureStatus, apply_timescale_features, timescale_feature_status
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
from mp_schema._revision import revision
from mp_schema._specs import FactSpec, fact_spec
from mp_schema._version import __version__
from mp_schema.exceptions import (
    CompressionUnavailableError,
    MigrationError,
    SchemaDriftError,
    SchemaError,
)
from mp_schema.models import FACT_TABLES, SCHEMA, fact_table_for, metadata

__all__ = [
    "COMPRESSION_STATES",
    "FACT_TABLES",
    "MIGRATIONS_DIR",
    "SCHEMA",
    "CompressionState",
    "CompressionUnavailableError",
    "FactSpec",
    "FeatureStatus",
    "MigrationError",
    "RevisionInfo",
    "SchemaDriftError",
    "SchemaError",
    "__version__",
    "alembic_config",
    "apply_timescale_features",
    "check",
    "compression_status",
    "current",
    "downgrade",
    "enable_compression",
    "enum_check",
    "enum_check_sql",
    "erd_dot",
    "fact_spec",
    "fact_table_for",
    "heads",
    "history",
    "metadata",
    "offline_sql",
    "pause_compression",
    "replace_enum_check",
    "revision",
    "timescale_feature_status",
    "upgrade",
]
