"""Backups of a native cluster with pgBackRest: WAL archiving, full and incremental backups,
retention, verification, and restore to the newest point or to a point in time.

pgBackRest runs as the cluster's OS user (``postgres`` when we are root) and reaches the server
over its private Unix socket. Everything it writes (configuration, logs, locks and, by default,
the repository itself) lives in one folder of its own, so two clusters on one machine never share
a lock or a log, and deleting the cluster's data leaves its backups alone.

The repository is checksummed by pgBackRest: every file of a backup and every archived WAL
segment carries a SHA-1 that ``pgbackrest verify`` (:meth:`BackupRepository.verify`) and every
restore check. With :class:`S3Repository` the repository is an S3-compatible bucket instead.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from mp_stack.exceptions import NativeServiceError
from mp_stack.native._postgres import SUPERUSER, PostgresCluster
from mp_stack.native._system import hand_to_user, run_as

__all__ = [
    "ArchiveStatus",
    "BackupKind",
    "BackupRecord",
    "BackupRepository",
    "S3Repository",
    "find_pgbackrest",
]

BackupKind = Literal["full", "diff", "incr"]
STANZA = "mp"
PGBACKREST_HINT = (
    "install pgBackRest: `mp-stack install` (or `nox -s up`, which runs it), or "
    "`apt-get install pgbackrest`"
)
# A segment is archived when it fills up or after this long, whichever comes first: the most
# committed work a lost data folder can take with it when nothing forced a switch.
ARCHIVE_TIMEOUT = "60s"


def find_pgbackrest() -> str:
    """Path of the ``pgbackrest`` program.

    Raises:
        NativeServiceError: pgBackRest is not installed.
    """
    for candidate in (shutil.which("pgbackrest"), "/usr/bin/pgbackrest"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise NativeServiceError("find pgBackRest", "pgbackrest is not installed", hint=PGBACKREST_HINT)


@dataclass(frozen=True)
class S3Repository:
    """An S3-compatible bucket as the repository (pgBackRest speaks HTTPS to it only).

    Attributes:
        endpoint: host name (and ``:port``) of the S3 endpoint, without the scheme.
        bucket: the bucket holding the repository (it must exist).
        region: the bucket's region (MinIO accepts any).
        key: access key id.
        key_secret: secret access key (written to the 0600 configuration file, never logged).
        path: folder inside the bucket.
        verify_tls: check the endpoint's certificate.
        path_style: ``host/bucket`` URLs (MinIO) rather than ``bucket.host``.
    """

    endpoint: str
    bucket: str
    region: str
    key: str
    key_secret: str = field(repr=False)
    path: str = "/pgbackrest"
    verify_tls: bool = True
    path_style: bool = True

    def options(self) -> dict[str, str]:
        """pgBackRest's ``repo1-*`` options for this bucket."""
        host, _, port = self.endpoint.partition(":")
        values = {
            "repo1-type": "s3",
            "repo1-path": self.path,
            "repo1-s3-bucket": self.bucket,
            "repo1-s3-endpoint": host,
            "repo1-s3-region": self.region,
            "repo1-s3-key": self.key,
            "repo1-s3-key-secret": self.key_secret,
            "repo1-s3-uri-style": "path" if self.path_style else "host",
            "repo1-storage-verify-tls": "y" if self.verify_tls else "n",
        }
        if port:
            values["repo1-storage-port"] = port
        return values


@dataclass(frozen=True, slots=True)
class BackupRecord:
    """One backup in the repository.

    Attributes:
        label: pgBackRest's label (``20261201-201500F``, ``..._20261201-202000I``).
        kind: full, diff or incr.
        started, stopped: when the backup began and ended (UTC).
        database_bytes: size of the cluster it copied.
        repository_bytes: what it added to the repository (compressed; an incremental only
            stores what changed).
        wal_start, wal_stop: first and last WAL segment the backup needs.
    """

    label: str
    kind: str
    started: datetime
    stopped: datetime
    database_bytes: int
    repository_bytes: int
    wal_start: str
    wal_stop: str


@dataclass(frozen=True, slots=True)
class ArchiveStatus:
    """How far WAL archiving lags behind the server (``pg_stat_archiver``).

    Attributes:
        last_archived_wal: newest segment in the repository, or ``None`` before the first one.
        last_archived_at: when it was archived.
        current_wal: the segment the server writes now.
        segments_behind: whole segments written but not archived yet (0 when current;
            ``None`` when the newest archived file is not a segment, as after a promotion).
        failed_count: archive attempts that failed since the statistics were reset.
        last_failed_at: when the newest failure happened.
    """

    last_archived_wal: str | None
    last_archived_at: datetime | None
    current_wal: str
    segments_behind: int | None
    failed_count: int
    last_failed_at: datetime | None

    @property
    def failing(self) -> bool:
        """True when the newest attempt failed (the archive is stuck, not merely behind)."""
        if self.last_failed_at is None:
            return False
        return self.last_archived_at is None or self.last_failed_at > self.last_archived_at


_SEGMENT = re.compile(r"^[0-9A-F]{24}")


def _segment_number(name: str) -> int:
    # A segment name is timeline (8 hex digits) + log (8) + segment (8); with the default 16 MB
    # segments there are 256 segments per log file.
    return int(name[8:16], 16) * 256 + int(name[16:24], 16)


@dataclass
class BackupRepository:
    """pgBackRest for one cluster: its configuration, archive command, backups and restores.

    Args:
        cluster: the cluster to back up (its ``settings`` must include :meth:`archive_settings`;
            :meth:`attach` arranges that for a running cluster).
        root: pgBackRest's folder (configuration, logs, locks; the repository unless ``s3``).
        retention_full: full backups to keep; older ones, and the WAL only they need, expire.
        s3: an S3-compatible bucket as the repository instead of ``root/repo``.
    """

    cluster: PostgresCluster
    root: Path
    retention_full: int = 2
    s3: S3Repository | None = None
    process_max: int = 2

    @property
    def config_file(self) -> Path:
        """pgBackRest's configuration (mode 0600: it may hold the S3 secret)."""
        return self.root / "pgbackrest.conf"

    @property
    def repo_dir(self) -> Path:
        """The local repository (unused with ``s3``)."""
        return self.root / "repo"

    @property
    def log_dir(self) -> Path:
        """pgBackRest's log files, one per stanza and command."""
        return self.root / "log"

    def archive_command(self) -> str:
        """What PostgreSQL runs for each finished WAL segment."""
        return f"{find_pgbackrest()} --config={self.config_file} --stanza={STANZA} archive-push %p"

    def archive_settings(self) -> dict[str, str]:
        """The ``postgresql.conf`` settings that ship every WAL segment to the repository."""
        return {
            "archive_mode": "on",
            "archive_command": f"'{self.archive_command()}'",
            "archive_timeout": f"'{ARCHIVE_TIMEOUT}'",
        }

    def configure(self) -> None:
        """Write pgBackRest's configuration and create its folders (idempotent)."""
        options = {
            "log-path": str(self.log_dir),
            "lock-path": str(self.root / "lock"),
            "spool-path": str(self.root / "spool"),
            "log-level-console": "warn",
            "log-level-file": "info",
            "start-fast": "y",
            "compress-type": "lz4",
            "process-max": str(self.process_max),
            "repo1-retention-full": str(self.retention_full),
            **(self.s3.options() if self.s3 else {"repo1-path": str(self.repo_dir)}),
        }
        stanza = {
            "pg1-path": str(self.cluster.data_dir),
            "pg1-port": str(self.cluster.port),
            "pg1-socket-path": str(self.cluster.socket_dir),
            "pg1-user": SUPERUSER,
        }
        body = "# Written by mp-stack; edit mp's settings, not this file.\n[global]\n"
        body += "".join(f"{key}={value}\n" for key, value in options.items())
        body += f"\n[{STANZA}]\n" + "".join(f"{key}={value}\n" for key, value in stanza.items())
        for folder in (self.root, self.log_dir, self.root / "lock", self.root / "spool"):
            folder.mkdir(parents=True, exist_ok=True)
        if self.s3 is None:
            self.repo_dir.mkdir(exist_ok=True)
            self.repo_dir.chmod(0o750)
        self.config_file.write_text(body)
        self.config_file.chmod(0o600)
        hand_to_user(self.root, self.cluster.os_user)

    def _run(self, *arguments: str, step: str, timeout: float = 1800.0) -> str:
        result = run_as(
            [find_pgbackrest(), f"--config={self.config_file}", f"--stanza={STANZA}", *arguments],
            self.cluster.os_user,
            step=step,
            cwd=self.root,
            timeout=timeout,
            hint=f"read the logs in {self.log_dir}",
        )
        return result.stdout

    def attach(self) -> None:
        """Make the running cluster archive into this repository, then create the stanza.

        Restarts the cluster when ``archive_mode`` was off (it takes effect only at start);
        only reloads when just the command changed. Idempotent.
        """
        self.configure()
        self.cluster.settings = {**self.cluster.settings, **self.archive_settings()}
        with self.cluster.connect_admin() as connection:
            row = connection.execute("SELECT current_setting('archive_mode')").fetchone()
        if row is None or row[0] != "on":
            self.cluster.restart("fast")
        else:
            self.cluster.reload()
        self.create_stanza()

    def create_stanza(self) -> None:
        """Create the repository's stanza (idempotent) and check that archiving works."""
        self._run("stanza-create", step="pgbackrest stanza-create")
        self._run("check", step="pgbackrest check (archive_command reaches the repository)")

    def backup(self, kind: BackupKind = "incr") -> BackupRecord:
        """Take a backup while the cluster runs; expire what retention no longer keeps.

        An ``incr`` or ``diff`` with no full backup to build on becomes a full one.
        """
        self._run("backup", f"--type={kind}", step=f"pgbackrest backup --type={kind}")
        return self.backups()[-1]

    def verify(self) -> None:
        """Re-read every backup file and archived segment and check its checksum.

        Raises:
            NativeServiceError: a file is missing or does not match its checksum.
        """
        self._run("verify", step="pgbackrest verify")

    def _info(self) -> dict[str, object]:
        output = self._run("info", "--output=json", step="pgbackrest info")
        stanzas = json.loads(output)
        return dict(stanzas[0]) if stanzas else {}

    def backups(self) -> list[BackupRecord]:
        """The repository's backups, oldest first."""
        records = []
        for item in self._info().get("backup", []):  # type: ignore[attr-defined]
            stamp = item["timestamp"]
            archive = item["archive"]
            records.append(
                BackupRecord(
                    label=item["label"],
                    kind=item["type"],
                    started=datetime.fromtimestamp(stamp["start"], UTC),
                    stopped=datetime.fromtimestamp(stamp["stop"], UTC),
                    database_bytes=int(item["info"]["size"]),
                    repository_bytes=int(item["info"]["repository"]["delta"]),
                    wal_start=archive["start"],
                    wal_stop=archive["stop"],
                )
            )
        return records

    def archive_status(self) -> ArchiveStatus:
        """How far archiving lags (the cluster must be running)."""
        with self.cluster.connect_admin() as connection:
            row = connection.execute(
                "SELECT last_archived_wal, last_archived_time, failed_count, last_failed_time,"
                " pg_walfile_name(pg_current_wal_lsn()) FROM pg_stat_archiver"
            ).fetchone()
        assert row is not None
        last, last_at, failed, failed_at, current = row
        # The newest archived file can be a segment with a suffix (.partial) or a timeline's
        # history file (just after a promotion), which says nothing about the lag.
        last_segment = str(last)[:24] if last and _SEGMENT.match(str(last)) else None
        behind = (
            max(0, _segment_number(str(current)) - _segment_number(last_segment) - 1)
            if last_segment
            else None
        )
        return ArchiveStatus(
            last_archived_wal=last_segment,
            last_archived_at=last_at,  # type: ignore[arg-type]
            current_wal=str(current),
            segments_behind=behind,
            failed_count=int(str(failed)),
            last_failed_at=failed_at,  # type: ignore[arg-type]
        )

    def switch_and_archive(self, timeout: float = 60.0) -> str:
        """Close the current WAL segment and wait until it is in the repository.

        What an operator runs before planned maintenance, and what a drill runs before it
        destroys the data folder: afterwards every commit so far can be restored.

        Returns:
            the name of the segment that was archived.
        """
        with self.cluster.connect_admin() as connection:
            row = connection.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
            assert row is not None
            segment = str(row[0])
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                done = connection.execute(
                    "SELECT last_archived_wal >= %s FROM pg_stat_archiver", (segment,)
                ).fetchone()
                if done is not None and done[0]:
                    return segment
                time.sleep(0.1)
        raise NativeServiceError(
            "archive the current WAL segment",
            f"{segment} was not archived within {timeout:.0f} s",
            hint=f"read {self.cluster.log_file} and the logs in {self.log_dir}",
        )

    def restore(self, target: datetime | None = None, *, timeout: float = 600.0) -> None:
        """Replace the cluster's data with a restore, replay WAL, and open it for writes.

        The cluster is stopped first (if running); its data folder is rewritten in place
        (pgBackRest's delta restore reuses files whose checksum matches), recreated if it was
        lost. Recovery replays archived WAL up to ``target`` (every commit at or before that
        moment, nothing after it) or, without one, to the end of the archive; then the server
        is promoted and starts a new timeline.

        Args:
            target: a point in time (timezone-aware) to recover to; ``None`` for the newest.
        """
        arguments = ["restore", "--delta"]
        if target is not None:
            if target.tzinfo is None:
                raise ValueError("the recovery target must be timezone-aware")
            earliest = min((record.stopped for record in self.backups()), default=None)
            if earliest is None or target <= earliest:
                raise NativeServiceError(
                    "choose a backup to restore",
                    f"no backup ended before {target.isoformat()}"
                    + (f" (the oldest ended at {earliest.isoformat()})" if earliest else ""),
                    hint="a point in time is restorable from the end of the oldest backup on",
                )
            stamp = target.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
            arguments += ["--type=time", f"--target={stamp}", "--target-action=promote"]
        self.cluster.stop("fast")
        data = self.cluster.data_dir
        data.mkdir(parents=True, exist_ok=True)
        data.chmod(0o700)
        hand_to_user(data, self.cluster.os_user)
        self._run(*arguments, step="pgbackrest restore", timeout=timeout)
        self.cluster.start(timeout)
        self._wait_promoted(timeout)

    def _wait_promoted(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.cluster.connect_admin() as connection:
                row = connection.execute("SELECT pg_is_in_recovery()").fetchone()
            if row is not None and not row[0]:
                return
            time.sleep(0.2)
        raise NativeServiceError(
            "finish recovery",
            f"the restored cluster was still recovering after {timeout:.0f} s",
            hint=f"read {self.cluster.log_file}",
        )
