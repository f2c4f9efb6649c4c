"""``mp-schema``: the packaged migrations from the command line.

Each subcommand calls one library function; errors are printed as one clear message (never a
password, never a traceback) and the exit status is 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mp_config import ConfigError, PostgresSettings
from mp_schema import _migrations
from mp_schema._compression import (
    compression_status,
    enable_compression,
    pause_compression,
)
from mp_schema._features import apply_timescale_features, timescale_feature_status
from mp_schema._revision import revision
from mp_schema.exceptions import SchemaDriftError, SchemaError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mp-schema",
        description="Run mp's packaged Alembic migrations against the database named by MP_PG_*.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    upgrade = commands.add_parser("upgrade", help="migrate up (default: to head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = commands.add_parser("downgrade", help="migrate down to a revision (or base)")
    downgrade.add_argument("revision")
    commands.add_parser("current", help="print the database's revision")
    commands.add_parser("heads", help="print the head revision of the packaged migrations")
    commands.add_parser("history", help="list the packaged migrations, oldest first")
    commands.add_parser("check", help="fail if the database differs from the models")
    commands.add_parser(
        "apply-timescale-features",
        help="apply compression and its policies where the license now allows (idempotent)",
    )
    commands.add_parser("features", help="list license-dependent features and their state")
    compression = commands.add_parser(
        "compression",
        help="the compression lifecycle: status, enable (the backfill is done), pause",
    )
    compression.add_argument("action", choices=("status", "enable", "pause"))
    compression.add_argument(
        "table", nargs="?", default=None, help="one fact table (default: every fact table)"
    )
    written = commands.add_parser(
        "revision",
        help="write the next migration from what the models add over a database at head",
    )
    written.add_argument("-m", "--message", required=True, help="one line: what it does")
    written.add_argument(
        "--versions-dir",
        type=Path,
        default=None,
        help="folder to write into (default: the packaged migrations)",
    )
    sql = commands.add_parser("sql", help="print the SQL of an upgrade without a server")
    sql.add_argument("range", nargs="?", default="base:head", help="FROM:TO (default base:head)")
    return parser


def _run(arguments: argparse.Namespace) -> int:
    name = arguments.command
    if name == "heads":
        print("\n".join(_migrations.heads()))
        return 0
    if name == "history":
        for item in _migrations.history():
            print(f"{item.down_revision or 'base'} -> {item.revision}  {item.description}")
        return 0
    if name == "sql":
        sys.stdout.write(_migrations.offline_sql(arguments.range))
        return 0
    settings = PostgresSettings.load()
    if name == "upgrade":
        print(f"mp-schema: upgrading {settings.display_url()} to {arguments.revision}")
        _migrations.upgrade(settings, arguments.revision)
        print(f"mp-schema: at revision {_migrations.current(settings)}")
    elif name == "downgrade":
        print(f"mp-schema: downgrading {settings.display_url()} to {arguments.revision}")
        _migrations.downgrade(settings, arguments.revision)
        print(f"mp-schema: at revision {_migrations.current(settings) or 'base'}")
    elif name == "current":
        print(_migrations.current(settings) or "base (never migrated)")
    elif name == "check":
        _migrations.check(settings)
        print("mp-schema: the database matches the models")
    elif name == "compression":
        _compression(settings, arguments.action, arguments.table)
    elif name == "revision":
        _revision(settings, arguments.message, arguments.versions_dir)
    elif name in ("apply-timescale-features", "features"):
        function = apply_timescale_features if name != "features" else timescale_feature_status
        for feature in function(settings):
            status = f"{feature.table:<20} {feature.feature:<12} {feature.status:<11}"
            print(f"{status} {feature.reason}")
    return 0


def _compression(settings: PostgresSettings, action: str, table: str | None) -> None:
    if action == "status":
        states = compression_status(settings)
        if table is not None:
            states = [item for item in states if item.table == table.removeprefix("mp.")]
    else:
        function = enable_compression if action == "enable" else pause_compression
        states = function(settings, table)
    for item in states:
        print(item.describe())


def _revision(settings: PostgresSettings, message: str, versions_dir: Path | None) -> None:
    path = revision(settings, message, versions_dir=versions_dir)
    if path is None:
        print(f"mp-schema: the models match {settings.display_url()}; nothing written")
        return
    print(f"mp-schema: wrote {path}")
    print(
        "mp-schema: review it, run `ruff format` on it, and pin its sha256 in"
        " tests/test_frozen_migrations.py"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mp-schema`` console script."""
    arguments = _parser().parse_args(argv)
    try:
        return _run(arguments)
    except SchemaDriftError as error:
        print(f"mp-schema: {error}", file=sys.stderr)
        return 1
    except (SchemaError, ConfigError) as error:
        print(f"mp-schema: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
