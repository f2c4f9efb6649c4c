"""``mp-stack backup``, ``mp-stack restore`` and the backup row of ``mp-stack status``.

The native backend's cluster archives its WAL with pgBackRest from the first ``up``; these
commands take backups and restore them. Compose and external servers are backed up by their
operators' own pgBackRest (docs/operations.md): these commands refuse them rather than guess.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mp_stack._status import ServiceStatus
from mp_stack.exceptions import NativeServiceError, StackError
from mp_stack.native import BackupKind, BackupRecord, find_pgbackrest

if TYPE_CHECKING:
    from mp_stack._native_stack import NativeStack

__all__ = ["backup_status", "describe_backup", "parse_target", "run_backup", "run_restore"]

Progress = Callable[[str], None]


def parse_target(text: str) -> datetime:
    """A recovery target from the command line: ISO 8601 with an explicit offset.

    Raises:
        StackError: the text is not such a time (a time without offset would be ambiguous).
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise StackError(
            f"--to {text!r} is not an ISO 8601 time (for example 2026-12-01T20:30:00Z)"
        ) from error
    if moment.tzinfo is None:
        raise StackError(
            f"--to {text!r} has no UTC offset: add one (Z or +00:00) so the target is not "
            "read in the wrong time zone"
        )
    return moment.astimezone(UTC)


def describe_backup(record: BackupRecord) -> str:
    """One line about one backup, for progress output."""
    seconds = (record.stopped - record.started).total_seconds()
    return (
        f"{record.kind} backup {record.label}: {record.database_bytes / 1e6:.1f} MB of data, "
        f"{record.repository_bytes / 1e6:.1f} MB added to the repository, {seconds:.0f} s"
    )


def _native_only(stack: NativeStack | None, backend: str) -> NativeStack:
    if stack is None or backend != "native":
        raise StackError(
            f"backups through mp-stack serve the native backend, and this stack is {backend!r}: "
            "back up compose or external servers with their own pgBackRest (docs/operations.md)"
        )
    return stack


def run_backup(
    stack: NativeStack | None,
    backend: str,
    progress: Progress,
    *,
    kind: BackupKind = "incr",
    verify: bool = False,
) -> BackupRecord:
    """Take a backup of the running native cluster (then, with ``verify``, check the repo)."""
    native = _native_only(stack, backend)
    repository = native.backups()
    try:
        if not repository.cluster.is_running():
            raise StackError("PostgreSQL is not running: `nox -s up` first")
        repository.attach()
        progress(f"{kind} backup of {repository.cluster.data_dir} starting")
        record = repository.backup(kind)
        progress(describe_backup(record))
        if verify:
            started = time.monotonic()
            repository.verify()
            progress(
                f"repository verified: every checksum matches ({time.monotonic() - started:.0f} s)"
            )
    except NativeServiceError as error:
        raise StackError(f"backup: {error}") from error
    return record


def run_restore(
    stack: NativeStack | None, backend: str, progress: Progress, *, target: datetime | None
) -> None:
    """Restore the native cluster to ``target`` (``None``: the newest archived commit)."""
    native = _native_only(stack, backend)
    repository = native.backups()
    try:
        if not repository.backups():
            raise StackError("the repository holds no backup to restore: `nox -s backup` first")
        where = f"to {target.isoformat()}" if target else "to the newest archived commit"
        progress(f"restoring {repository.cluster.data_dir} {where} (the server is stopped first)")
        started = time.monotonic()
        repository.restore(target)
        progress(
            f"restored and promoted in {time.monotonic() - started:.0f} s; take a full backup "
            "of the new timeline: nox -s backup -- --type full"
        )
    except NativeServiceError as error:
        raise StackError(f"restore: {error}") from error


def _age(moment: datetime) -> str:
    seconds = max(0.0, (datetime.now(UTC) - moment).total_seconds())
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def backup_status(stack: NativeStack | None, backend: str) -> ServiceStatus:
    """The ``backup`` row: newest backup and how far WAL archiving lags.

    Healthy when a backup exists and the archive is not failing; absent for backends whose
    backups mp-stack does not run.
    """
    if stack is None or backend != "native":
        return ServiceStatus(
            "backup", backend, "-", None, "native backend only (docs/operations.md)"
        )
    try:
        find_pgbackrest()
        repository = stack.backups()
    except (NativeServiceError, StackError) as error:
        return ServiceStatus("backup", backend, "-", False, str(error))
    import psycopg

    address = str(repository.repo_dir if repository.s3 is None else repository.s3.bucket)
    try:
        records = repository.backups() if repository.config_file.is_file() else []
        archive = repository.archive_status() if repository.cluster.is_running() else None
    except (NativeServiceError, OSError, psycopg.Error) as error:
        return ServiceStatus("backup", backend, address, False, str(error).strip())
    parts = []
    if records:
        newest = records[-1]
        parts.append(f"last backup {newest.kind} {newest.label} ({_age(newest.stopped)})")
    else:
        parts.append("no backup yet (nox -s backup)")
    if archive is None:
        parts.append("WAL archive: server not running")
    else:
        lag = (
            "unknown lag"
            if archive.segments_behind is None
            else f"{archive.segments_behind} segment(s) behind"
        )
        last = (
            f"last segment {_age(archive.last_archived_at)}"
            if archive.last_archived_at
            else "nothing archived yet"
        )
        failing = f", FAILING ({archive.failed_count} failures)" if archive.failing else ""
        parts.append(f"WAL archive: {lag}, {last}{failing}")
    healthy = bool(records) and archive is not None and not archive.failing
    return ServiceStatus("backup", backend, address, healthy, "; ".join(parts))
