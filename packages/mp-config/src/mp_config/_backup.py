"""Backup settings (``MP_BACKUP_*``): where pgBackRest keeps the native cluster's backups."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from mp_config._base import MpSettings

__all__ = ["BackupSettings"]


class BackupSettings(MpSettings):
    """How ``nox -s backup`` backs up the native stack's PostgreSQL cluster.

    The repository is a folder on local disk unless ``s3_bucket`` names a bucket on the
    S3-compatible store of ``MP_S3_*`` (endpoint, region, keys), which then holds it.
    """

    model_config = SettingsConfigDict(env_prefix="MP_BACKUP_")
    display_name: ClassVar[str] = "backup settings (MP_BACKUP_*)"

    #: pgBackRest's folder (configuration, logs and the local repository); empty means
    #: ``.mp/backup`` in the repository (or a fallback the database's OS user can reach).
    dir: Path | None = None
    #: Full backups kept; an older full backup, its incrementals and the WAL only they need
    #: expire after the next full backup.
    retention_full: int = Field(default=2, ge=1, le=100)
    #: A bucket on the MP_S3_* store for the repository instead of the local folder.
    s3_bucket: str | None = None
    #: The repository's folder inside that bucket.
    s3_path: str = "/pgbackrest"

    @field_validator("s3_bucket")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value.strip()

    @field_validator("s3_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with / (a folder inside the bucket)")
        return value
