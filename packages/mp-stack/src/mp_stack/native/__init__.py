"""Native servers run by this process: PostgreSQL with TimescaleDB (backed up by pgBackRest),
redis-server, Redis Cluster.

These are the building blocks of the native stack (``mp-stack up``) and of mp-testing's
throwaway test servers (its ``native`` extra installs mp-stack for them). On a machine without
the programs, :data:`INSTALL_SCRIPT` installs them from Debian packages (building TimescaleDB
from Debian's source package where no binary exists).
"""

from pathlib import Path

from mp_stack.native._backup import (
    ArchiveStatus,
    BackupKind,
    BackupRecord,
    BackupRepository,
    S3Repository,
    find_pgbackrest,
)
from mp_stack.native._logical import DumpSummary, export_database, import_database
from mp_stack.native._postgres import SUPERUSER, PostgresCluster, StopMode
from mp_stack.native._redis import RedisClusterProcesses, RedisServer
from mp_stack.native._resp import RespError, redis_command
from mp_stack.native._system import (
    PostgresBinaries,
    find_postgres,
    find_redis_server,
    free_cluster_port,
    free_port,
    port_is_open,
    service_os_user,
    user_can_enter,
)

#: Idempotent installer of PostgreSQL, TimescaleDB and redis-server for Debian machines.
INSTALL_SCRIPT = Path(__file__).with_name("install.sh")

__all__ = [
    "INSTALL_SCRIPT",
    "SUPERUSER",
    "ArchiveStatus",
    "BackupKind",
    "BackupRecord",
    "BackupRepository",
    "DumpSummary",
    "PostgresBinaries",
    "PostgresCluster",
    "RedisClusterProcesses",
    "RedisServer",
    "RespError",
    "S3Repository",
    "StopMode",
    "export_database",
    "find_pgbackrest",
    "find_postgres",
    "find_redis_server",
    "free_cluster_port",
    "free_port",
    "import_database",
    "port_is_open",
    "redis_command",
    "service_os_user",
    "user_can_enter",
]
