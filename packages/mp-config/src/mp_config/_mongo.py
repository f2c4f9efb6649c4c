"""MongoDB settings (``MP_MONGO_*``): documents such as raw vendor payloads and release notes."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote_plus

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from mp_config._base import MpSettings
from mp_config._network import is_local_host

__all__ = ["DEFAULT_MONGO_PORT", "MongoSettings"]

DEFAULT_MONGO_PORT = 57017


class MongoSettings(MpSettings):
    """How to reach MongoDB. :meth:`url` returns the connection string as a secret."""

    model_config = SettingsConfigDict(env_prefix="MP_MONGO_")
    display_name: ClassVar[str] = "MongoDB settings (MP_MONGO_*)"

    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_MONGO_PORT, ge=1, le=65535)
    user: str = "mp"
    password: SecretStr | None = None
    database: str = "mp"
    auth_source: str = "admin"
    tls: bool = False
    allow_insecure_transport: bool = False
    server_selection_timeout_ms: int = Field(default=3000, ge=1)

    @model_validator(mode="after")
    def _transport_is_safe(self) -> MongoSettings:
        if not (self.tls or self.allow_insecure_transport or is_local_host(self.host)):
            raise ValueError(
                f"{self.env_variable('host')} is not a loopback address, so "
                f"{self.env_variable('tls')} must be true (or set "
                f"{self.env_variable('allow_insecure_transport')}=true knowingly)"
            )
        return self

    def url(self) -> SecretStr:
        """The ``mongodb://`` connection string, credentials percent-encoded, kept secret."""
        credentials = ""
        if self.password is not None:
            credentials = f"{quote_plus(self.user)}:{quote_plus(self.password.get_secret_value())}@"
        options = (
            f"authSource={quote_plus(self.auth_source)}"
            f"&serverSelectionTimeoutMS={self.server_selection_timeout_ms}"
            f"&tls={'true' if self.tls else 'false'}"
        )
        return SecretStr(
            f"mongodb://{credentials}{self.host}:{self.port}/{self.database}?{options}"
        )

    def display_url(self) -> str:
        """A URL for logs and messages: the password is always masked."""
        credentials = f"{self.user}:***@" if self.password is not None else ""
        return f"mongodb://{credentials}{self.host}:{self.port}/{self.database}"
