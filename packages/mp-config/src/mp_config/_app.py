"""Application-wide settings (``MP_*``) and the local stack's settings (``MP_STACK_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mp_config._base import MpSettings

__all__ = ["AppSettings", "StackBackend", "StackSettings"]

StackBackend = Literal["auto", "compose", "native", "external"]


class AppSettings(MpSettings):
    """Settings of the running application, whatever services it uses."""

    model_config = SettingsConfigDict(env_prefix="MP_")
    display_name: ClassVar[str] = "application settings (MP_*)"

    environment: Literal["dev", "test", "ci", "prod"] = "dev"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    service_name: str = "mp"


class StackSettings(MpSettings):
    """How ``nox -s up`` runs the local stack.

    ``auto`` uses compose when a Docker engine answers and the native stack otherwise;
    ``external`` starts nothing and only checks the servers named in the other settings.
    """

    model_config = SettingsConfigDict(env_prefix="MP_STACK_")
    display_name: ClassVar[str] = "stack settings (MP_STACK_*)"

    backend: StackBackend = "auto"
    #: Native stack data folder; empty means ``.mp/`` in the repository (or a fallback outside
    #: it when the database's OS user cannot reach that folder).
    data_dir: Path | None = None
    wait_seconds: float = Field(default=120.0, gt=0)
    compose_project: str = "mp"
