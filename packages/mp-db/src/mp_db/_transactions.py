"""Whether a connection begins its transactions plainly: no isolation level, read-only or
deferrable setting of its own (an engine's ``execution_options``).

Only such a connection may run a read's one statement without a BEGIN (its own implicit
transaction): otherwise the setting the caller asked for would not hold for it. Shared by the
row reads (:mod:`mp_db._reads`) and the frame reads (:mod:`mp_db._columnar_fetch`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["plain", "plain_async"]


def plain(raw: Any) -> bool:
    """For a psycopg connection."""
    return raw.isolation_level is None and raw.read_only is None and raw.deferrable is None


def plain_async(adapted: Any) -> bool:
    """For SQLAlchemy's adapter of an asyncpg connection."""
    return adapted.isolation_level is None and not (adapted.readonly or adapted.deferrable)
