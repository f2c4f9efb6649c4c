"""S3-compatible object storage settings (``MP_S3_*``): MinIO locally, any S3 elsewhere.

The endpoint is a plain setting because MinIO stopped publishing community builds in late 2025:
whatever replaces it only needs a different URL.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from mp_config._base import MpSettings
from mp_config._network import is_local_host

__all__ = ["DEFAULT_S3_PORT", "S3Settings"]

DEFAULT_S3_PORT = 59000


class S3Settings(MpSettings):
    """How to reach the object store holding raw downloads and exports."""

    model_config = SettingsConfigDict(env_prefix="MP_S3_")
    display_name: ClassVar[str] = "S3 settings (MP_S3_*)"

    endpoint_url: str = f"http://127.0.0.1:{DEFAULT_S3_PORT}"
    region: str = "us-east-1"
    access_key_id: str = "mp"
    secret_access_key: SecretStr | None = None
    bucket: str = "mp-raw"
    path_style: bool = True
    verify_tls: bool = True
    allow_insecure_transport: bool = False

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; use MP_S3_ACCESS_KEY_ID and friends")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _transport_is_safe(self) -> S3Settings:
        parts = urlsplit(self.endpoint_url)
        if self.allow_insecure_transport or parts.scheme == "https":
            return self
        if not is_local_host(parts.hostname or ""):
            raise ValueError(
                f"{self.env_variable('endpoint_url')} is plain http to a host that is not "
                f"loopback; use https (or set {self.env_variable('allow_insecure_transport')}="
                "true knowingly)"
            )
        return self
