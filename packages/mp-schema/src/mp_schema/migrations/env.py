"""Alembic environment for mp's packaged migrations.

The connection target comes from ``config.attributes["mp_settings"]`` (set by
:func:`mp_schema.alembic_config`) or from ``MP_PG_*``. Offline mode needs no server.
"""

from __future__ import annotations

from alembic import context

from mp_config import PostgresSettings
from mp_schema._autogenerate import include_name, include_object
from mp_schema._migrations import migration_engine
from mp_schema.models import metadata

config = context.config


def run_offline() -> None:
    context.configure(
        dialect_name="postgresql",
        target_metadata=metadata,
        literal_binds=True,
        transaction_per_migration=True,
        include_name=include_name,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    settings = config.attributes.get("mp_settings") or PostgresSettings.load()
    engine = migration_engine(settings)
    try:
        with engine.connect() as connection:
            if settings.owner_role:
                # Objects are created as (and owned by) the owner role the migrating user
                # belongs to.
                connection.exec_driver_sql(f"SET ROLE {settings.owner_role}")
            connection.commit()
            context.configure(
                connection=connection,
                target_metadata=metadata,
                transaction_per_migration=True,
                compare_type=True,
                compare_server_default=True,
                include_schemas=True,
                include_name=include_name,
                include_object=include_object,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
