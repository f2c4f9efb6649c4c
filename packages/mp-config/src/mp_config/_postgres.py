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
    "TargetSessionAttrs",
]

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
#: libpq's (and asyncpg's) choice among several hosts: ``read-write`` skips standbys.
TargetSessionAttrs = Literal[
    "any", "read-write", "read-only", "primary", "standby", "prefer-standby"
]

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

    ``MP_PG_HOST`` may list several servers, comma-separated, each with an optional port
    (``db1:5432,db2:5433``; ``MP_PG_PORT`` otherwise): a new connection tries them in order and
    keeps the first that matches ``MP_PG_TARGET_SESSION_ATTRS`` (``read-write`` by default with
    several hosts), so after a failover the engines' next connections reach the new primary.
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

    target_session_attrs: TargetSessionAttrs | None = None
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

    @field_validator("host")
    @classmethod
    def _hosts_are_well_formed(cls, value: str) -> str:
        if value.startswith("/"):
            return value  # a socket folder: one host, no port suffix
        for item in value.split(","):
            host, port = _split_host(item)
            if not host:
                raise ValueError("a comma-separated list of hosts must not hold an empty one")
            if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
                raise ValueError(f"{item.strip()!r}: the port after ':' must be 1-65535")
        return value

    @model_validator(mode="after")
    def _transport_is_safe(self) -> PostgresSettings:
        if self.allow_insecure_transport:
            return self
        checks = [("host", host) for host, _ in self.endpoints()]
        if self.read_host is not None:
            checks.append(("read_host", self.read_host))
        for host_field, host in checks:
            if is_local_host(host):
                continue
            if self.effective_sslmode(host) not in _VERIFIED_MODES:
                raise ValueError(
                    f"{self.env_variable(host_field)} names a host that is not loopback, so "
                    f"{self.env_variable('sslmode')} must be verify-ca or verify-full "
                    f"(or set {self.env_variable('allow_insecure_transport')}=true knowingly)"
                )
        return self

    # -- derived values --------------------------------------------------------------------------

    def effective_sslmode(self, host: str | None = None) -> SslMode:
        """The sslmode used for ``host`` (every write host when omitted: one mode serves them
        all, so it is ``disable`` only when all of them are loopback)."""
        if self.sslmode is not None:
            return self.sslmode
        hosts = [host] if host is not None else [name for name, _ in self.endpoints()]
        return "disable" if all(is_local_host(name) for name in hosts) else "verify-full"

    def endpoints(self) -> list[tuple[str, int]]:
        """Every ``(host, port)`` of ``MP_PG_HOST``, in the order connections try them."""
        if self.host.startswith("/"):
            return [(self.host, self.port)]
        endpoints = []
        for item in self.host.split(","):
            host, port = _split_host(item)
            endpoints.append((host, int(port) if port else self.port))
        return endpoints

    @property
    def is_multi_host(self) -> bool:
        """True when ``MP_PG_HOST`` lists more than one server."""
        return len(self.endpoints()) > 1

    def effective_target_session_attrs(self, *, read: bool = False) -> TargetSessionAttrs | None:
        """What a connection asks of the server it keeps: the setting, else ``read-write`` for
        several write hosts (a standby among them must never take writes), else nothing."""
        if read and self.read_host is not None:
            return None
        if self.target_session_attrs is not None:
            return self.target_session_attrs
        return "read-write" if self.is_multi_host else None

    def _write_hosts(self, read: bool) -> list[tuple[str, int]] | None:
        """The write hosts when a connection must choose among several; else ``None``."""
        if read and self.read_host is not None:
            return None
        return self.endpoints() if self.is_multi_host else None

    @property
    def has_replica(self) -> bool:
        """True when a read replica is configured (``MP_PG_READ_HOST``)."""
        return self.read_host is not None

    def _endpoint(self, read: bool) -> tuple[str, int]:
        if read and self.read_host is not None:
            return self.read_host, self.read_port or self.port
        return self.endpoints()[0]

    def display_url(self, *, read: bool = False) -> str:
        """A URL for logs and messages: the password is always masked."""
        hosts = self._write_hosts(read) or [self._endpoint(read)]
        where = ",".join(f"{host}:{port}" for host, port in hosts)
        secret = ":***" if self.password is not None else ""
        return f"postgresql://{self.user}{secret}@{where}/{self.database}"

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
        query: dict[str, str | list[str]] = {
            "sslmode": self.effective_sslmode(None if self._write_hosts(read) else host),
            "application_name": self.application_name,
            "connect_timeout": str(max(1, round(self.connect_timeout))),
        }
        for name in ("sslrootcert", "sslcert", "sslkey"):
            value = getattr(self, name)
            if value is not None:
                query[name] = str(value)
        attrs = self.effective_target_session_attrs(read=read)
        if attrs is not None:
            query["target_session_attrs"] = attrs
        hosts = self._write_hosts(read)
        if hosts is not None:
            # SQLAlchemy's multi-host form: no host in the URL, one host=h:p per server.
            query["host"] = [f"{name}:{number}" for name, number in hosts]
            return url_type.create(
                SYNC_DRIVER,
                username=self.user,
                password=self._password_value(),
                database=database or self.database,
                query=query,
            )
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
        hosts = self._write_hosts(read)
        if hosts is not None:
            return url_type.create(
                ASYNC_DRIVER,
                username=self.user,
                password=self._password_value(),
                database=database or self.database,
                query={"host": [f"{name}:{number}" for name, number in hosts]},
            )
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
        arguments: dict[str, Any] = {
            "ssl": self.ssl_context(None if self._write_hosts(read) else host),
            "timeout": self.connect_timeout,
            "server_settings": {"application_name": self.application_name},
        }
        attrs = self.effective_target_session_attrs(read=read)
        if attrs is not None:
            arguments["target_session_attrs"] = attrs
        return arguments

    def psycopg_kwargs(self, *, read: bool = False, database: str | None = None) -> dict[str, Any]:
        """Keyword arguments for ``psycopg.connect`` (no SQLAlchemy involved).

        The result holds the password in clear: pass it straight to the driver, never log it.
        """
        host, port = self._endpoint(read)
        hosts = self._write_hosts(read) or [(host, port)]
        kwargs: dict[str, Any] = {
            # libpq's multi-host form: parallel comma-separated lists.
            "host": ",".join(name for name, _ in hosts),
            "port": ",".join(str(number) for _, number in hosts) if len(hosts) > 1 else port,
            "dbname": database or self.database,
            "user": self.user,
            "sslmode": self.effective_sslmode(None if self._write_hosts(read) else host),
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
        attrs = self.effective_target_session_attrs(read=read)
        if attrs is not None:
            kwargs["target_session_attrs"] = attrs
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


def _split_host(item: str) -> tuple[str, str | None]:
    """``host`` or ``host:port`` (``[v6]:port`` for IPv6) into its parts."""
    item = item.strip()
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else None
    if item.count(":") == 1:
        host, _, port = item.partition(":")
        return host, port
    return item, None


def _sqlalchemy_url_type() -> type[URL]:
    try:
        from sqlalchemy.engine import URL
    except ImportError as error:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(
            "building SQLAlchemy URLs needs SQLAlchemy: pip install 'mp-config[sqlalchemy]'"
        ) from error
    return URL
