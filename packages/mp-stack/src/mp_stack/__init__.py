"""mp's local stack: ``up``, ``down`` and ``status`` for the compose and native backends,
``backup`` and ``restore`` of the native one, and the native servers behind it.

The commands are functions (:func:`stack_up`, :func:`stack_status`, ...); the ``mp-stack``
console script only parses arguments and calls them. :mod:`mp_stack.native` runs PostgreSQL
with TimescaleDB, redis-server and Redis Cluster as processes of their own, for the native
stack and for mp-testing's throwaway test servers. No pytest plugin lives here.
"""

from mp_stack._backups import backup_status, parse_target, run_backup, run_restore
from mp_stack._env_file import (
    ensure_env_file,
    is_secret_variable,
    placeholder_secrets,
    placeholder_warning,
)
from mp_stack._native_stack import NativeStack, missing_prerequisites, run_installer
from mp_stack._stack import StackConfig, choose_backend, stack_down, stack_status, stack_up
from mp_stack._status import ServiceStatus, render_table
from mp_stack._version import __version__
from mp_stack.exceptions import MpStackError, NativeServiceError, StackError

__all__ = [
    "MpStackError",
    "NativeServiceError",
    "NativeStack",
    "ServiceStatus",
    "StackConfig",
    "StackError",
    "__version__",
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
