"""The native backend: a project-owned PostgreSQL cluster and redis-server, no Docker needed."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mp_config import BackupSettings, PostgresSettings, RedisSettings, S3Settings, is_local_host
from mp_stack.exceptions import MpStackError, NativeServiceError, StackError
from mp_stack.native import (
    INSTALL_SCRIPT,
    BackupRepository,
    PostgresCluster,
    RedisServer,
    S3Repository,
    find_pgbackrest,
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
    try:
        find_pgbackrest()
    except NativeServiceError:
        missing.append("pgBackRest")
    return missing


def run_installer(progress: Progress) -> None:
    """Run the Debian installer script, streaming its progress lines."""
    if shutil.which("apt-get") is None:
        raise StackError(
            "the native stack needs PostgreSQL, TimescaleDB, redis-server and pgBackRest, and "
            "this machine "
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
        backup: ``MP_BACKUP_*`` (where pgBackRest keeps the cluster's backups).
        s3: ``MP_S3_*``, the store of an S3 backup repository (``MP_BACKUP_S3_BUCKET``).
    """

    project_dir: Path
    postgres: PostgresSettings
    redis: RedisSettings
    data_dir: Path | None = None
    backup: BackupSettings | None = None
    s3: S3Settings | None = None

    def _project_folder(self, name: str) -> Path:
        preferred = self.project_dir / ".mp" / name
        user = service_os_user()
        if user is None or user_can_enter(self.project_dir, user):
            return preferred
        digest = hashlib.sha256(str(self.project_dir.resolve()).encode()).hexdigest()[:12]
        # /var/tmp survives reboots (unlike /tmp on many systems) and every user can enter it.
        return Path("/var/tmp") / f"mp-{name}-{digest}"  # noqa: S108 - a fixed, keyed folder

    def resolve_data_dir(self) -> Path:
        """The data folder: the configured one, else ``.mp/native`` in the project, else (when
        the database's OS user cannot reach into the project) a folder under ``/var/tmp`` keyed
        by the project's path."""
        if self.data_dir is not None:
            return self.data_dir
        return self._project_folder("native")

    def resolve_backup_dir(self) -> Path:
        """pgBackRest's folder: ``MP_BACKUP_DIR``, else ``.mp/backup`` (or its fallback).

        Kept apart from the data folder, so that ``down --purge`` leaves the backups alone.
        """
        if self.backup is not None and self.backup.dir is not None:
            return self.backup.dir
        if self.data_dir is not None:
            return self.data_dir.parent / f"{self.data_dir.name}-backup"
        return self._project_folder("backup")

    def _s3_repository(self) -> S3Repository | None:
        if self.backup is None or self.backup.s3_bucket is None:
            return None
        from urllib.parse import urlsplit

        s3 = self.s3 or S3Settings.load(env_file=None)
        parts = urlsplit(s3.endpoint_url)
        if parts.scheme != "https":
            raise StackError(
                "MP_BACKUP_S3_BUCKET is set, but pgBackRest talks to S3 over HTTPS only and "
                f"MP_S3_ENDPOINT_URL is {s3.endpoint_url}: serve the store over TLS, or unset "
                "MP_BACKUP_S3_BUCKET to keep the repository on local disk"
            )
        if s3.secret_access_key is None:
            raise StackError("MP_BACKUP_S3_BUCKET is set, but MP_S3_SECRET_ACCESS_KEY is not")
        return S3Repository(
            endpoint=parts.netloc,
            bucket=self.backup.s3_bucket,
            region=s3.region,
            key=s3.access_key_id,
            key_secret=s3.secret_access_key.get_secret_value(),
            path=self.backup.s3_path,
            verify_tls=s3.verify_tls,
            path_style=s3.path_style,
        )

    def backups(self) -> BackupRepository:
        """pgBackRest for the project's cluster (its archive settings included)."""
        return self._backups(self._bare_cluster())

    def _bare_cluster(self) -> PostgresCluster:
        return PostgresCluster(
            self.resolve_data_dir() / "postgres", self.postgres.port, durable=True
        )

    def _backups(self, cluster: PostgresCluster) -> BackupRepository:
        retention = self.backup.retention_full if self.backup is not None else 2
        repository = BackupRepository(
            cluster, self.resolve_backup_dir(), retention, self._s3_repository()
        )
        cluster.settings = {**cluster.settings, **repository.archive_settings()}
        return repository

    def cluster(self) -> PostgresCluster:
        """The project's PostgreSQL cluster (not started by this call); it archives its WAL to
        the backup repository when pgBackRest is installed."""
        cluster = self._bare_cluster()
        try:
            find_pgbackrest()
        except NativeServiceError:
            return cluster
        return self._backups(cluster).cluster

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
            repository = self._backups(cluster)
            repository.attach()
            where = self.backup.s3_bucket if self.backup and self.backup.s3_bucket else None
            progress(
                "backups: WAL archived by pgBackRest to "
                + (f"bucket {where}" if where else str(repository.repo_dir))
                + " (nox -s backup takes one)"
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
        except MpStackError:
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
