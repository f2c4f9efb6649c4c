"""Kafka settings (``MP_KAFKA_*``); Kafka is optional in mp's stack (a compose profile)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from mp_config._base import MpSettings
from mp_config._network import is_local_host
from mp_config._redis import parse_host_port

__all__ = ["DEFAULT_KAFKA_PORT", "KafkaSettings"]

DEFAULT_KAFKA_PORT = 59092


class KafkaSettings(MpSettings):
    """How to reach Kafka. :meth:`client_config` gives librdkafka-style options."""

    model_config = SettingsConfigDict(env_prefix="MP_KAFKA_")
    display_name: ClassVar[str] = "Kafka settings (MP_KAFKA_*)"

    enabled: bool = False
    bootstrap_servers: str = f"127.0.0.1:{DEFAULT_KAFKA_PORT}"
    client_id: str = "mp"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    allow_insecure_transport: bool = False

    @field_validator("bootstrap_servers")
    @classmethod
    def _servers_parse(cls, value: str) -> str:
        servers = [part.strip() for part in value.split(",") if part.strip()]
        if not servers:
            raise ValueError("at least one HOST:PORT is needed")
        for server in servers:
            parse_host_port(server, DEFAULT_KAFKA_PORT)
        return ",".join(servers)

    @model_validator(mode="after")
    def _transport_is_safe(self) -> KafkaSettings:
        if self.allow_insecure_transport or self.security_protocol in ("SSL", "SASL_SSL"):
            return self
        for host, _ in self.servers():
            if not is_local_host(host):
                raise ValueError(
                    f"a Kafka server is not a loopback address, so "
                    f"{self.env_variable('security_protocol')} must be SSL or SASL_SSL (or set "
                    f"{self.env_variable('allow_insecure_transport')}=true knowingly)"
                )
        return self

    def servers(self) -> list[tuple[str, int]]:
        """Bootstrap servers as (host, port) pairs."""
        return [
            parse_host_port(part, DEFAULT_KAFKA_PORT) for part in self.bootstrap_servers.split(",")
        ]

    def client_config(self) -> dict[str, Any]:
        """Client options (librdkafka names). Holds the SASL password in clear: never log it."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism is not None:
            config["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username is not None:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password is not None:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_cafile is not None:
            config["ssl.ca.location"] = str(self.ssl_cafile)
        return config
