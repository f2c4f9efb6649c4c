"""The local stack: ``up``, ``down`` and ``status`` for the compose and native backends, and
``backup`` and ``restore`` of the native one."""

from mp_testing.stack._backups import backup_status, parse_target, run_backup, run_restore
from mp_testing.stack._env_file import (
    ensure_env_file,
    is_secret_variable,
    placeholder_secrets,
    placeholder_warning,
)
from mp_testing.stack._native import NativeStack, missing_prerequisites, run_installer
from mp_testing.stack._stack import StackConfig, choose_backend, stack_down, stack_status, stack_up
from mp_testing.stack._status import ServiceStatus, render_table

__all__ = [
    "NativeStack",
    "ServiceStatus",
    "StackConfig",
    "backup_status",
    "choose_backend",
    "ensure_env_file",
    "is_secret_variable",
    "missing_prerequisites",
    "parse_target",
    "placeholder_secrets",
    "placeholder_warning",
    "render_table",
    "run_backup",
    "run_installer",
    "run_restore",
    "stack_down",
    "stack_status",
    "stack_up",
]
