"""Allow-listing SQL identifiers that come from settings (role names, key prefixes)."""

from __future__ import annotations

import re

__all__ = ["validate_identifier"]

# Lower-case, unquoted PostgreSQL identifiers only: such a name can be placed in DDL without
# quoting tricks, and it reads the same in psql as in settings.
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def validate_identifier(name: str) -> str:
    """Return ``name`` if it is a plain lower-case SQL identifier, else raise ``ValueError``.

    The message says which rule failed but does not echo the name back, so a value pasted into
    the wrong variable (a password, say) does not end up in a log.
    """
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            "must be a lower-case SQL identifier: a letter or underscore, then letters, digits "
            "or underscores, at most 63 characters"
        )
    return name
