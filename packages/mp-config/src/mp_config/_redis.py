"""Redis settings (``MP_REDIS_*``): standalone, cluster or sentinel, with explicit timeouts.

redis-py 8 changed its timeout, retry and keepalive defaults; mp sets every one of them from here
so an upgrade of the client cannot silently change behaviour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from mp_config._base import MpSettings
from mp_config._network import is_local_host

__all__ = ["DEFAULT_REDIS_PORT", "RateLimit", "RedisMode", "RedisSettings", "parse_host_port"]

RedisMode = Literal["standalone", "cluster", "sentinel"]

#: Not 6379: a developer machine often runs a Redis of its own on the standard port.
DEFAULT_REDIS_PORT = 56379

_RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*s?\s*")
_KEY_PREFIX = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``requests`` allowed per ``period_seconds`` for one data source (a token bucket)."""

    requests: float
    period_seconds: float

    @property
    def per_second(self) -> float:
        """Steady-state refill rate."""
        return self.requests / self.period_seconds

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Parse ``"120/60"`` (120 requests per 60 seconds); ``"5/1s"`` works too."""
        match = _RATE.fullmatch(text)
        if match is None:
            raise ValueError("a rate limit is written REQUESTS/SECONDS, for example 120/60")
        requests, period = float(match.group(1)), float(match.group(2))
        if requests <= 0 or period <= 0:
            raise ValueError("a rate limit needs positive requests and seconds")
        return cls(requests=requests, period_seconds=period)


def parse_host_port(text: str, default_port: int) -> tuple[str, int]:
    """Split ``host:port`` (``[v6]:port`` for IPv6); a missing port gives ``default_port``."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError("a node is written HOST:PORT")
    port = int(port_text) if port_text else default_port
    if not 1 <= port <= 65535:
        raise ValueError("a port must be between 1 and 65535")
    return host, port


class RedisSettings(MpSettings):
    """How to reach Redis, and how mp-cache behaves on top of it.

    ``mode`` picks the topology. Cluster seeds come from ``MP_REDIS_CLUSTER_NODES``
    (``host:port,host:port``; the primary host and port when empty); sentinel uses
    ``MP_REDIS_SENTINEL_NODES`` and ``MP_REDIS_SENTINEL_MASTER``.
    """

    model_config = SettingsConfigDict(env_prefix="MP_REDIS_")
    display_name: ClassVar[str] = "Redis settings (MP_REDIS_*)"

    mode: RedisMode = "standalone"
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_REDIS_PORT, ge=1, le=65535)
    db: int = Field(default=0, ge=0)
    username: str | None = None
    password: SecretStr | None = None
    cluster_nodes: Annotated[tuple[str, ...], NoDecode] = ()
    sentinel_nodes: Annotated[tuple[str, ...], NoDecode] = ()
    sentinel_master: str = "mymaster"

    tls: bool = False
    tls_ca_cert: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    allow_insecure_transport: bool = False

    socket_timeout: float = Field(default=0.5, gt=0)
    socket_connect_timeout: float = Field(default=0.5, gt=0)
    socket_keepalive: bool = True
    health_check_interval: int = Field(default=15, ge=0)
    retry_attempts: int = Field(default=2, ge=0)
    retry_backoff_base: float = Field(default=0.02, gt=0)
    retry_backoff_cap: float = Field(default=0.25, gt=0)
    max_connections: int = Field(default=32, ge=1)

    key_prefix: str = "mp:"
    default_ttl_seconds: int = Field(default=3600, ge=1)
    breaker_failure_threshold: int = Field(default=3, ge=1)
    breaker_reset_seconds: float = Field(default=5.0, gt=0)
    rate_limits: Annotated[dict[str, RateLimit], NoDecode] = Field(default_factory=dict)

    # mp's fact cache: ingest invalidates it after each commit when enabled (mp-db[cache]).
    cache_enabled: bool = False
    cache_namespace: str = Field(default="facts", min_length=1)
    cache_max_staleness_seconds: float = Field(default=1.0, ge=0)

    @field_validator("cluster_nodes", "sentinel_nodes", mode="before")
    @classmethod
    def _split_nodes(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("cluster_nodes", "sentinel_nodes")
    @classmethod
    def _nodes_parse(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for node in value:
            parse_host_port(node, DEFAULT_REDIS_PORT)
        return value

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _parse_rate_limits(cls, value: object) -> object:
        # Written as "fred=120/60,ecb=10/1": easy to set in an env file, no JSON quoting.
        if isinstance(value, str):
            limits: dict[str, RateLimit] = {}
            for item in (part.strip() for part in value.split(",")):
                if not item:
                    continue
                source, separator, rate = item.partition("=")
                if not separator or not source.strip():
                    raise ValueError("rate limits are written SOURCE=REQUESTS/SECONDS,...")
                limits[source.strip()] = RateLimit.parse(rate)
            return limits
        if isinstance(value, dict):
            return {
                key: RateLimit.parse(item) if isinstance(item, str) else item
                for key, item in value.items()
            }
        return value

    @field_validator("key_prefix")
    @classmethod
    def _prefix_is_plain(cls, value: str) -> str:
        if not _KEY_PREFIX.fullmatch(value):
            raise ValueError("use 1-64 characters from letters, digits and _ . : -")
        return value

    @model_validator(mode="after")
    def _transport_is_safe(self) -> RedisSettings:
        if self.allow_insecure_transport or self.tls:
            return self
        hosts = [self.host] + [host for host, _ in self.nodes() if host != self.host]
        for host in hosts:
            if not is_local_host(host):
                raise ValueError(
                    f"a Redis host is not a loopback address, so {self.env_variable('tls')} "
                    f"must be true (or set {self.env_variable('allow_insecure_transport')}=true "
                    "knowingly)"
                )
        return self

    def nodes(self) -> list[tuple[str, int]]:
        """The addresses to contact first: cluster seeds, sentinels, or the one server."""
        if self.mode == "cluster" and self.cluster_nodes:
            return [parse_host_port(node, self.port) for node in self.cluster_nodes]
        if self.mode == "sentinel" and self.sentinel_nodes:
            return [parse_host_port(node, 26379) for node in self.sentinel_nodes]
        return [(self.host, self.port)]

    def display_url(self) -> str:
        """A URL for logs and messages: the password is always masked."""
        scheme = "rediss" if self.tls else "redis"
        user = self.username or ""
        credentials = f"{user}:***@" if self.password is not None else (f"{user}@" if user else "")
        host, port = self.nodes()[0]
        suffix = f"/{self.db}" if self.mode == "standalone" else f" ({self.mode})"
        return f"{scheme}://{credentials}{host}:{port}{suffix}"

    def rate_limit_for(self, source: str) -> RateLimit | None:
        """The configured limit for a data source, if any."""
        return self.rate_limits.get(source)
