"""PostgreSQL / TimescaleDB settings (``MP_PG_*``) and the URLs built from them."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from mp_config._base import MpSettings
from mp_config._identifiers import validate_identifier
from mp_config._network import is_local_host
from mp_config.exceptions import MissingDependencyError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = [
    "DEFAULT_PG_DATABASE",
    "DEFAULT_PG_HOST",
    "DEFAULT_PG_PORT",
    "DEFAULT_PG_USER",
    "PostgresSettings",
    "SslMode",
]

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

#: Not 5432: a developer machine often runs a PostgreSQL of its own on the standard port.
DEFAULT_PG_PORT = 55432
DEFAULT_PG_HOST = "127.0.0.1"
DEFAULT_PG_DATABASE = "mp"
DEFAULT_PG_USER = "mp"

_VERIFIED_MODES: frozenset[str] = frozenset({"verify-ca", "verify-full"})
SYNC_DRIVER = "postgresql+psycopg"
ASYNC_DRIVER = "postgresql+asyncpg"


class PostgresSettings(MpSettings):
    """How to reach the PostgreSQL/TimescaleDB server and how to pool connections to it.

    Passwords are :class:`~pydantic.SecretStr`. Off loopback, TLS with certificate verification is
    required unless ``MP_PG_ALLOW_INSECURE_TRANSPORT`` says otherwise; ``sslmode`` left unset
    means ``disable`` on loopback and ``verify-full`` elsewhere.
    """

    model_config = SettingsConfigDict(env_prefix="MP_PG_")
    display_name: ClassVar[str] = "PostgreSQL settings (MP_PG_*)"

    host: str = DEFAULT_PG_HOST
    port: int = Field(default=DEFAULT_PG_PORT, ge=1, le=65535)
    database: str = DEFAULT_PG_DATABASE
    user: str = DEFAULT_PG_USER
    password: SecretStr | None = None

    sslmode: SslMode | None = None
    sslrootcert: Path | None = None
    sslcert: Path | None = None
    sslkey: Path | None = None
    allow_insecure_transport: bool = False

    read_host: str | None = None
    read_port: int | None = Field(default=None, ge=1, le=65535)

    application_name: str = "mp"
    connect_timeout: float = Field(default=5.0, gt=0)
    pool_size: int = Field(default=5, ge=1)
    max_overflow: int = Field(default=5, ge=0)
    pool_timeout: float = Field(default=10.0, gt=0)
    pool_recycle: int = Field(default=1800, ge=-1)
    statement_timeout_ms: int = Field(default=60_000, ge=0)
    lock_timeout_ms: int = Field(default=10_000, ge=0)
    idle_in_transaction_timeout_ms: int = Field(default=60_000, ge=0)

    owner_role: str | None = None
    ingest_role: str = "mp_ingest"
    research_role: str = "mp_research"
    research_statement_timeout_ms: int = Field(default=300_000, ge=0)

    @field_validator("ingest_role", "research_role", "owner_role")
    @classmethod
    def _role_is_identifier(cls, value: str | None) -> str | None:
        return None if value is None else validate_identifier(value)

    @field_validator("host", "database", "user")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _transport_is_safe(self) -> PostgresSettings:
        if self.allow_insecure_transport:
            return self
        for host_field in ("host", "read_host"):
            host = getattr(self, host_field)
            if host is None or is_local_host(host):
                continue
            if self.effective_sslmode(host) not in _VERIFIED_MODES:
                raise ValueError(
                    f"{self.env_variable(host_field)} is not a loopback address, so "
                    f"{self.env_variable('sslmode')} must be verify-ca or verify-full "
                    f"(or set {self.env_variable('allow_insecure_transport')}=true knowingly)"
                )
        return self

    # -- derived values --------------------------------------------------------------------------

    def effective_sslmode(self, host: str | None = None) -> SslMode:
        """The sslmode used for ``host`` (the primary when omitted)."""
        if self.sslmode is not None:
            return self.sslmode
        return "disable" if is_local_host(host or self.host) else "verify-full"

    @property
    def has_replica(self) -> bool:
        """True when a read replica is configured (``MP_PG_READ_HOST``)."""
        return self.read_host is not None

    def _endpoint(self, read: bool) -> tuple[str, int]:
        if read and self.read_host is not None:
            return self.read_host, self.read_port or self.port
        return self.host, self.port

    def display_url(self, *, read: bool = False) -> str:
        """A URL for logs and messages: the password is always masked."""
        host, port = self._endpoint(read)
        secret = ":***" if self.password is not None else ""
        return f"postgresql://{self.user}{secret}@{host}:{port}/{self.database}"

    def sync_url(self, *, read: bool = False, database: str | None = None) -> URL:
        """A SQLAlchemy URL for the psycopg 3 driver.

        Built with ``URL.create`` so that any character in the password round-trips. TLS options
        travel in the query string, as libpq expects.

        Args:
            read: target the read replica when one is configured.
            database: another database on the same server (tests, maintenance).
        """
        url_type = _sqlalchemy_url_type()
        host, port = self._endpoint(read)
        query: dict[str, str] = {
            "sslmode": self.effective_sslmode(host),
            "application_name": self.application_name,
            "connect_timeout": str(max(1, round(self.connect_timeout))),
        }
        for name in ("sslrootcert", "sslcert", "sslkey"):
            value = getattr(self, name)
            if value is not None:
                query[name] = str(value)
        return url_type.create(
            SYNC_DRIVER,
            username=self.user,
            password=self._password_value(),
            host=host,
            port=port,
            database=database or self.database,
            query=query,
        )

    def async_url(self, *, read: bool = False, database: str | None = None) -> URL:
        """A SQLAlchemy URL for asyncpg; TLS goes in :meth:`async_connect_args` instead.

        asyncpg rejects libpq's ``sslmode`` in a SQLAlchemy URL, hence the split.
        """
        url_type = _sqlalchemy_url_type()
        host, port = self._endpoint(read)
        return url_type.create(
            ASYNC_DRIVER,
            username=self.user,
            password=self._password_value(),
            host=host,
            port=port,
            database=database or self.database,
        )

    def async_connect_args(self, *, read: bool = False) -> dict[str, Any]:
        """``connect_args`` for an asyncpg engine: TLS context, timeout, application name."""
        host, _ = self._endpoint(read)
        return {
            "ssl": self.ssl_context(host),
            "timeout": self.connect_timeout,
            "server_settings": {"application_name": self.application_name},
        }

    def psycopg_kwargs(self, *, read: bool = False, database: str | None = None) -> dict[str, Any]:
        """Keyword arguments for ``psycopg.connect`` (no SQLAlchemy involved).

        The result holds the password in clear: pass it straight to the driver, never log it.
        """
        host, port = self._endpoint(read)
        kwargs: dict[str, Any] = {
            "host": host,
            "port": port,
            "dbname": database or self.database,
            "user": self.user,
            "sslmode": self.effective_sslmode(host),
            "application_name": self.application_name,
            "connect_timeout": max(1, round(self.connect_timeout)),
        }
        password = self._password_value()
        if password is not None:
            kwargs["password"] = password
        for name in ("sslrootcert", "sslcert", "sslkey"):
            value = getattr(self, name)
            if value is not None:
                kwargs[name] = str(value)
        return kwargs

    def ssl_context(self, host: str | None = None) -> ssl.SSLContext | bool | str:
        """What asyncpg's ``ssl`` argument should be for ``host`` under the effective sslmode."""
        mode = self.effective_sslmode(host)
        if mode == "disable":
            return False
        if mode in ("allow", "prefer"):
            return mode
        context = ssl.create_default_context(
            cafile=str(self.sslrootcert) if self.sslrootcert else None
        )
        if self.sslcert is not None:
            context.load_cert_chain(
                str(self.sslcert), str(self.sslkey) if self.sslkey is not None else None
            )
        if mode == "require":
            # libpq's "require" encrypts without verifying; mirror it exactly.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif mode == "verify-ca":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def _password_value(self) -> str | None:
        return None if self.password is None else self.password.get_secret_value()


def _sqlalchemy_url_type() -> type[URL]:
    try:
        from sqlalchemy.engine import URL
    except ImportError as error:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(
            "building SQLAlchemy URLs needs SQLAlchemy: pip install 'mp-config[sqlalchemy]'"
        ) from error
    return URL
