"""Errors raised by mp-schema.

The hierarchy::

    SchemaError (RuntimeError)
    ├── MigrationError        an Alembic command failed (the message names the revision)
    ├── CompressionUnavailableError  compression asked of a server whose license lacks it
    └── SchemaDriftError      the database differs from the models (``mp-schema check``)
"""

from __future__ import annotations

__all__ = ["CompressionUnavailableError", "MigrationError", "SchemaDriftError", "SchemaError"]


class SchemaError(RuntimeError):
    """Root of every mp-schema error."""


class MigrationError(SchemaError):
    """An Alembic command failed; the message says which and against which database."""


class CompressionUnavailableError(SchemaError):
    """Compression was asked of a server whose TimescaleDB license (``apache``) has none; it
    needs a build with the Timescale License (TSL) code, such as the community image."""


class SchemaDriftError(SchemaError):
    """The migrated database and the SQLAlchemy models differ.

    Attributes:
        differences: Alembic's description of each difference.
    """

    def __init__(self, differences: list[str]) -> None:
        self.differences = differences
        listing = "\n".join(f"  - {item}" for item in differences)
        super().__init__(f"the database differs from the models:\n{listing}")
