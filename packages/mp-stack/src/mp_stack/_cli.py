"""``mp-stack``: bring the local stack up or down, report its status, install prerequisites,
back the native cluster up and restore it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mp_stack._backups import parse_target, run_backup, run_restore
from mp_stack._env_file import placeholder_warning
from mp_stack._native_stack import run_installer
from mp_stack._stack import (
    StackConfig,
    say,
    stack_down,
    stack_healthy,
    stack_status,
    stack_up,
)
from mp_stack._status import compression_lines, render_table
from mp_stack.exceptions import MpStackError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mp-stack",
        description="Run mp's local stack: compose when a Docker engine answers, else native.",
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=Path.cwd(),
        help="repository root holding docker-compose.yml and .env.example",
    )
    parser.add_argument(
        "--env-file", type=Path, default=None, help="env file to read (default: PROJECT_DIR/.env)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("up", help="start the stack and wait until it is healthy")
    down = commands.add_parser("down", help="stop what up started")
    down.add_argument("--purge", action="store_true", help="also delete the stack's data")
    commands.add_parser("status", help="report every service; exit 1 if one is unhealthy")
    commands.add_parser(
        "install", help="install PostgreSQL, TimescaleDB, redis-server, pgBackRest (Debian)"
    )
    backup = commands.add_parser("backup", help="back up the native cluster with pgBackRest")
    backup.add_argument(
        "--type",
        choices=("full", "diff", "incr"),
        default="incr",
        help="incr (default; full when there is none yet), diff or full",
    )
    backup.add_argument(
        "--verify", action="store_true", help="then check every checksum in the repository"
    )
    restore = commands.add_parser(
        "restore", help="restore the native cluster from its backups (replaces its data)"
    )
    restore.add_argument(
        "--to",
        default=None,
        metavar="TIME",
        help="recover to this ISO 8601 time with offset (2026-12-01T20:30:00Z); "
        "default: the newest archived commit",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mp-stack`` console script."""
    arguments = _parser().parse_args(argv)
    project_dir = arguments.project_dir.resolve()
    try:
        if arguments.command == "up":
            stack_up(project_dir, arguments.env_file)
        elif arguments.command == "down":
            stack_down(project_dir, arguments.env_file, purge=arguments.purge)
        elif arguments.command == "install":
            run_installer(say)
        elif arguments.command in ("backup", "restore"):
            config = StackConfig.load(project_dir, arguments.env_file)
            backend = config.remembered_backend() or "none"
            if arguments.command == "backup":
                run_backup(
                    config.native(), backend, say, kind=arguments.type, verify=arguments.verify
                )
            else:
                target = parse_target(arguments.to) if arguments.to else None
                run_restore(config.native(), backend, say, target=target)
        else:
            config = StackConfig.load(project_dir, arguments.env_file)
            statuses = stack_status(config)
            print(render_table(statuses))
            if statuses[0].healthy:
                print("\n".join(compression_lines(config.postgres)))
            warning = placeholder_warning(config.env_file)
            if warning is not None:
                print(f"mp-stack: {warning}")
            return 0 if stack_healthy(statuses) else 1
    except MpStackError as error:
        print(f"mp-stack: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
