"""What Alembic's autogenerate and ``check`` should look at: mp's objects, not TimescaleDB's."""

from __future__ import annotations

__all__ = ["include_name", "include_object"]

# TimescaleDB keeps its catalog and its chunks in these schemas; none of it is mp's to manage.
_FOREIGN_SCHEMAS = frozenset(
    {
        "_timescaledb_cache",
        "_timescaledb_catalog",
        "_timescaledb_config",
        "_timescaledb_functions",
        "_timescaledb_internal",
        "_timescaledb_debug",
        "timescaledb_experimental",
        "timescaledb_information",
        "toolkit_experimental",
    }
)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Skip TimescaleDB's schemas entirely."""
    if type_ == "schema":
        return name not in _FOREIGN_SCHEMAS
    return True


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Skip reflected objects that only exist because TimescaleDB made them.

    TimescaleDB names each hypertable's insert-blocker trigger ``ts_insert_blocker`` and, if the
    default indexes were ever created, ``<table>_obs_time_idx``; neither is in the models.
    """
    if type_ == "table" and reflected and compare_to is None and name == "alembic_version":
        return False
    return not (
        type_ == "index"
        and reflected
        and compare_to is None
        and name
        and name.endswith("_obs_time_idx")
    )
