"""``mp-schema revision``: write the next migration from what the models add over head.

The comparison runs against a database at the head revision (Alembic's rule for autogenerate):
the schema the existing migrations produced. What differs (see :mod:`mp_schema._schema_diff`) is
written as a frozen migration: Alembic's rendered operations plus literal SQL, importing only
Alembic, SQLAlchemy and (for role names, as migrations 0003 and 0004 do) mp-config. Nothing in
it reads a model, a spec or a builder, so editing the models later never changes what it does.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from alembic.autogenerate import render_python_code
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.operations.ops import DowngradeOps, UpgradeOps
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, PrimaryKeyConstraint

from mp_config import PostgresSettings
from mp_schema._migrations import MIGRATIONS_DIR, _failures, alembic_config, migration_engine
from mp_schema._schema_diff import SchemaDiff, comparison_context, diff_schema
from mp_schema.exceptions import MigrationError

__all__ = ["render_migration", "revision", "revision_config"]

#: Where ``revision`` writes unless told otherwise: the packaged migrations.
VERSIONS_DIR = MIGRATIONS_DIR / "versions"


def revision_config(settings: PostgresSettings | None, versions_dir: Path | None = None) -> Config:
    """The packaged migrations' Alembic config, with ``versions_dir`` as a second location.

    Migrations written to a folder of their own (a test's temporary folder, say) then chain onto
    the packaged ones, and ``alembic.command.upgrade`` with this config runs through both.
    """
    config = alembic_config(settings)
    if versions_dir is not None and Path(versions_dir).resolve() != VERSIONS_DIR.resolve():
        locations = [str(VERSIONS_DIR), str(Path(versions_dir).resolve())]
        config.set_main_option("path_separator", "os")
        # ConfigParser interpolates '%': a literal one is written doubled.
        config.set_main_option(
            "version_locations", os.pathsep.join(item.replace("%", "%%") for item in locations)
        )
    return config


def revision(
    settings: PostgresSettings | None,
    message: str,
    *,
    metadata: MetaData | None = None,
    versions_dir: Path | None = None,
) -> Path | None:
    """Write the next migration from the difference between ``metadata`` and the database.

    Args:
        settings: a database at the head revision (``MP_PG_*`` when omitted); only read.
        message: one line saying what the migration does (its docstring and file name).
        metadata: the models to compare; mp's own (``mp_schema.metadata``) when omitted.
        versions_dir: the folder to write into; the packaged migrations when omitted.

    Returns:
        The written file, or ``None`` when the models and the database agree (nothing is
        written: an empty migration would only lengthen the frozen chain).

    Raises:
        MigrationError: the message is empty or spans lines, the database is not at head,
            or the difference is one this command does not render (see ``diff_schema``).
    """
    message = message.strip()
    if not message or "\n" in message or '"""' in message or "\\" in message:
        raise MigrationError(
            'the revision message must be one line of plain text (no backslash, no \'"""\')'
        )
    if metadata is None:
        from mp_schema.models import metadata as models

        metadata = models
    settings = settings if settings is not None else PostgresSettings.load()
    target = Path(versions_dir) if versions_dir is not None else VERSIONS_DIR
    script = ScriptDirectory.from_config(revision_config(settings, target))
    head = script.get_current_head()
    if head is None or not head.isdigit():
        raise MigrationError(f"the migrations' head {head!r} is not a numbered revision")
    engine = migration_engine(settings)
    try:
        with (
            _failures("compare the models with the database", settings),
            engine.connect() as connection,
        ):
            at = MigrationContext.configure(connection).get_current_revision()
            if at != head:
                raise MigrationError(
                    f"{settings.display_url()} is at revision {at or 'base'}, the migrations' "
                    f"head is {head}: run `mp-schema upgrade` (on a scratch database) first"
                )
            diff = diff_schema(connection, metadata)
            new_id = f"{int(head) + 1:0{len(head)}d}"
            text = render_migration(
                diff,
                comparison_context(connection, metadata),
                revision_id=new_id,
                down_revision=head,
                message=message,
            )
            connection.rollback()
    finally:
        engine.dispose()
    if diff.is_empty:
        return None
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{new_id}_{_slug(message)}.py"
    path.write_text(text, encoding="utf-8")
    return path


def _slug(message: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")
    return slug[:40].rstrip("_") or "revision"


def _literal(value: str) -> str:
    # Multi-line SQL reads best as it will run; anything else is a JSON string, which is also
    # a valid Python literal (same escapes, always double quotes).
    if "\n" in value and '"""' not in value and "\\" not in value and not value.endswith('"'):
        return f'"""{value}"""'
    return json.dumps(value)


def _statements(name: str, comment: str, statements: list[str]) -> str:
    if not statements:
        return ""
    items = "".join(f"    {_literal(item)},\n" for item in statements)
    return f"#: {comment}\n{name}: list[str] = [\n{items}]\n\n"


def _render_item(type_: str, item: object, context: AutogenContext) -> str | Literal[False]:
    # Alembic renders a primary key without its INCLUDE columns: a spec's key_include would be
    # lost, so they are rendered here.
    if type_ != "primary_key" or not isinstance(item, PrimaryKeyConstraint):
        return False
    include = item.dialect_options["postgresql"]["include"] or []
    if not include:
        return False
    columns = ", ".join(repr(column.name) for column in item.columns)
    names = [getattr(column, "name", column) for column in include]
    options = f"name=op.f({item.name!r}), postgresql_include={names!r}"
    return f"sa.PrimaryKeyConstraint({columns}, {options})"


def _autogenerated(ops: UpgradeOps | DowngradeOps, context: MigrationContext) -> str:
    if ops.is_empty():
        return ""
    code = render_python_code(ops, migration_context=context, render_item=_render_item)
    # Alembic's renderer indents every line but the first.
    return "    " + code.strip() + "\n"


def _body(before: str | None, autogenerated: str, after: str | None, grants: str | None) -> str:
    lines = []
    if before:
        lines.append(f"    for statement in {before}:\n        op.execute(statement)\n")
    lines.append(autogenerated)
    if after:
        lines.append(f"    for statement in {after}:\n        op.execute(statement)\n")
    if grants:
        lines.append(f"    _grant({grants})\n")
    body = "".join(line for line in lines if line)
    return body or "    pass\n"


_GRANT_HELPER = """

def _grant(templates: list[str]) -> None:
    # Role names are deployment settings, read as migration 0003 reads them.
    settings = context.config.attributes.get("mp_settings") or PostgresSettings.load()
    names = {
        "ingest": validate_identifier(settings.ingest_role),
        "research": validate_identifier(settings.research_role),
    }
    for template in templates:
        op.execute(template.format(**names))
"""


def render_migration(
    diff: SchemaDiff,
    context: MigrationContext,
    *,
    revision_id: str,
    down_revision: str,
    message: str,
    created: date | None = None,
) -> str:
    """The migration file's text for ``diff`` (what :func:`revision` writes).

    Args:
        diff: the difference, from :func:`mp_schema._schema_diff.diff_schema`.
        context: the comparison's migration context (it renders types for its dialect).
        revision_id: the new revision.
        down_revision: its parent, the current head.
        message: the one-line description.
        created: the date in the header; today (UTC) when omitted.
    """
    up = _autogenerated(diff.upgrade_ops, context)
    down = _autogenerated(diff.downgrade_ops, context)
    lists = {
        "UPGRADE_BEFORE": ("run before the operations on upgrade", diff.upgrade_before),
        "UPGRADE_AFTER": ("run after the operations on upgrade", diff.upgrade_after),
        "UPGRADE_GRANTS": ("granted on upgrade ({ingest}, {research}: roles)", diff.upgrade_grants),
        "DOWNGRADE_BEFORE": ("run before the operations on downgrade", diff.downgrade_before),
        "DOWNGRADE_AFTER": ("run after the operations on downgrade", diff.downgrade_after),
        "DOWNGRADE_GRANTS": ("granted on downgrade", diff.downgrade_grants),
    }
    present = {name: name if items else None for name, (_, items) in lists.items()}
    grants = bool(diff.upgrade_grants or diff.downgrade_grants)
    code = up + down
    imports = ["from __future__ import annotations", ""]
    if "sa." in code:
        imports.append("import sqlalchemy as sa")
    imports.append("from alembic import context, op" if grants else "from alembic import op")
    if "postgresql." in code:
        imports.append("from sqlalchemy.dialects import postgresql")
    if grants:
        imports += ["", "from mp_config import PostgresSettings, validate_identifier"]
    created = created or datetime.now(UTC).date()
    constants = "".join(
        _statements(name, comment, items) for name, (comment, items) in lists.items()
    )
    upgrade_body = _body(
        present["UPGRADE_BEFORE"], up, present["UPGRADE_AFTER"], present["UPGRADE_GRANTS"]
    )
    downgrade_body = _body(
        present["DOWNGRADE_BEFORE"], down, present["DOWNGRADE_AFTER"], present["DOWNGRADE_GRANTS"]
    )
    import_block = "\n".join(imports)
    return f'''"""{message}

Written by `mp-schema revision` from the difference between the models and revision
{down_revision}: Alembic's autogenerate for tables, columns, indexes, keys and defaults, and
literal SQL for what autogenerate does not see (hypertables, the compression feature function,
CHECKs of existing tables, grants). Frozen: review it, then pin its sha256 in
tests/test_frozen_migrations.py; later model changes go into a new migration.

Revision ID: {revision_id}
Revises: {down_revision}
Create Date: {created.isoformat()}
"""

{import_block}

revision = "{revision_id}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None

{constants}
def upgrade() -> None:
{upgrade_body}

def downgrade() -> None:
{downgrade_body}{_GRANT_HELPER if grants else ""}'''
