"""The native backend: a project-owned PostgreSQL cluster and redis-server, no Docker needed."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mp_config import PostgresSettings, RedisSettings, is_local_host
from mp_testing.exceptions import MpTestingError, NativeServiceError, StackError
from mp_testing.native import (
    INSTALL_SCRIPT,
    PostgresCluster,
    RedisServer,
    find_postgres,
    find_redis_server,
    service_os_user,
    user_can_enter,
)

__all__ = ["NativeStack", "missing_prerequisites", "run_installer"]

Progress = Callable[[str], None]


def missing_prerequisites() -> list[str]:
    """What the native stack lacks on this machine (empty when nothing)."""
    missing = []
    try:
        binaries = find_postgres()
    except NativeServiceError:
        missing.append("PostgreSQL server")
    else:
        if binaries.timescaledb_version is None:
            missing.append(f"TimescaleDB for PostgreSQL {binaries.major}")
    try:
        find_redis_server()
    except NativeServiceError:
        missing.append("redis-server")
    return missing


def run_installer(progress: Progress) -> None:
    """Run the Debian installer script, streaming its progress lines."""
    if shutil.which("apt-get") is None:
        raise StackError(
            "the native stack needs PostgreSQL, TimescaleDB and redis-server, and this machine "
            "has no apt-get to install them: install them by hand, or use a machine with Docker"
        )
    progress(f"installing native prerequisites with {INSTALL_SCRIPT.name} (idempotent)")
    with subprocess.Popen(
        ["bash", str(INSTALL_SCRIPT)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("[mp-native]"):
                progress(line.rstrip())
            else:
                sys.stdout.write(f"    {line}" if line.strip() else line)
        status = process.wait()
    if status != 0:
        raise StackError(
            f"installing the native prerequisites failed (exit status {status}); "
            "the step that failed is named above, and re-running is safe"
        )


@dataclass
class NativeStack:
    """The native stack of one project folder.

    Args:
        project_dir: the repository root (data goes to ``.mp/native`` in it by default).
        postgres: ``MP_PG_*``; host must be loopback, port is where the cluster listens.
        redis: ``MP_REDIS_*``; host must be loopback, port is where redis-server listens.
        data_dir: ``MP_STACK_DATA_DIR``, when set.
    """

    project_dir: Path
    postgres: PostgresSettings
    redis: RedisSettings
    data_dir: Path | None = None

    def resolve_data_dir(self) -> Path:
        """The data folder: the configured one, else ``.mp/native`` in the project, else (when
        the database's OS user cannot reach into the project) a folder under ``/var/tmp`` keyed
        by the project's path."""
        if self.data_dir is not None:
            return self.data_dir
        preferred = self.project_dir / ".mp" / "native"
        user = service_os_user()
        if user is None or user_can_enter(self.project_dir, user):
            return preferred
        digest = hashlib.sha256(str(self.project_dir.resolve()).encode()).hexdigest()[:12]
        # /var/tmp survives reboots (unlike /tmp on many systems) and every user can enter it.
        return Path("/var/tmp") / f"mp-native-{digest}"  # noqa: S108 - a fixed, keyed folder

    def cluster(self) -> PostgresCluster:
        """The project's PostgreSQL cluster (not started by this call)."""
        return PostgresCluster(
            self.resolve_data_dir() / "postgres", self.postgres.port, durable=True
        )

    def redis_server(self) -> RedisServer:
        """The project's redis-server (not started by this call)."""
        password = self.redis.password.get_secret_value() if self.redis.password else None
        return RedisServer(self.resolve_data_dir() / "redis", self.redis.port, password=password)

    def _check_hosts(self) -> None:
        for variable, host in (
            ("MP_PG_HOST", self.postgres.host),
            ("MP_REDIS_HOST", self.redis.host),
        ):
            if not is_local_host(host) or host.startswith("/"):
                raise StackError(
                    f"the native stack serves 127.0.0.1 only, but {variable} is {host!r}: set "
                    f"it to 127.0.0.1, or use MP_STACK_BACKEND=external for a remote server"
                )
        if self.redis.mode != "standalone":
            raise StackError(
                "the native stack runs a standalone Redis: set MP_REDIS_MODE="
                "standalone (tests start their own cluster when they need one)"
            )

    def up(self, progress: Progress) -> None:
        """Install what is missing, start both servers, create the mp role and database."""
        self._check_hosts()
        missing = missing_prerequisites()
        if missing:
            progress("missing: " + ", ".join(missing))
            run_installer(progress)
        data_dir = self.resolve_data_dir()
        progress(f"data folder: {data_dir}")
        cluster = self.cluster()
        try:
            progress(
                f"PostgreSQL {cluster.binaries.major} + TimescaleDB "
                f"{cluster.binaries.timescaledb_version}: starting on "
                f"127.0.0.1:{self.postgres.port}"
            )
            cluster.start()
            password = self.postgres.password.get_secret_value() if self.postgres.password else None
            if password is None:
                raise StackError(
                    "MP_PG_PASSWORD is not set: the native stack needs one "
                    "(mp-stack up writes it to .env for a new clone)"
                )
            cluster.ensure_login_role(self.postgres.user, password)
            cluster.ensure_database(self.postgres.database, self.postgres.user)
            progress(
                f"PostgreSQL ready: role {self.postgres.user}, database {self.postgres.database}"
            )
            server = self.redis_server()
            progress(f"redis-server: starting on 127.0.0.1:{self.redis.port}")
            server.start()
            progress("redis-server ready")
        except NativeServiceError as error:
            raise StackError(f"native stack: {error}") from error

    def down(self, progress: Progress, *, purge: bool = False) -> None:
        """Stop both servers (idempotent); ``purge`` also deletes the data folder."""
        try:
            cluster = self.cluster()
        except MpTestingError:
            cluster = None  # PostgreSQL is not even installed: nothing can be running
        if cluster is not None and cluster.is_running():
            progress("stopping PostgreSQL")
            cluster.stop("fast")
        server = self.redis_server()
        if server.pid() is not None:
            progress("stopping redis-server")
            server.stop()
        if purge:
            data_dir = self.resolve_data_dir()
            progress(f"deleting {data_dir}")
            shutil.rmtree(data_dir, ignore_errors=True)
