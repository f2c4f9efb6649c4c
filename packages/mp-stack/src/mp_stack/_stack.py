"""``up``, ``down`` and ``status`` of the local stack, whichever backend runs it.

The backend ``up`` chose is remembered in ``.mp/stack.json`` so that ``down`` and ``status``
address the same one, even if a Docker engine appears or disappears in between.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mp_config import (
    BackupSettings,
    ConfigError,
    KafkaSettings,
    MongoSettings,
    PostgresSettings,
    RedisSettings,
    S3Settings,
    StackSettings,
    docker_engine_available,
)
from mp_stack._backups import backup_status
from mp_stack._compose import ComposeStack, compose_command
from mp_stack._env_file import ensure_env_file, placeholder_warning
from mp_stack._native_stack import NativeStack
from mp_stack._status import (
    ServiceStatus,
    postgres_status,
    redis_status,
    render_table,
    tcp_status,
)
from mp_stack.exceptions import StackError

__all__ = [
    "StackConfig",
    "choose_backend",
    "say",
    "stack_down",
    "stack_healthy",
    "stack_status",
    "stack_up",
]

Progress = Callable[[str], None]
REQUIRED_SERVICES = ("postgresql", "redis")


def say(message: str) -> None:
    print(f"mp-stack: {message}", flush=True)  # noqa: T201 - the CLI's progress output


@dataclass(frozen=True)
class StackConfig:
    """Every setting the stack commands read, from one env file."""

    project_dir: Path
    env_file: Path
    stack: StackSettings
    postgres: PostgresSettings
    redis: RedisSettings
    mongo: MongoSettings
    s3: S3Settings
    kafka: KafkaSettings
    backup: BackupSettings

    @classmethod
    def load(cls, project_dir: Path, env_file: Path | None = None) -> StackConfig:
        """Read all settings from ``env_file`` (default ``<project>/.env``) and the environment.

        Raises:
            StackError: a setting is invalid (the message names the variable).
        """
        env_path = env_file or project_dir / ".env"
        source = env_path if env_path.is_file() else None
        try:
            return cls(
                project_dir=project_dir,
                env_file=env_path,
                stack=StackSettings.load(env_file=source),
                postgres=PostgresSettings.load(env_file=source),
                redis=RedisSettings.load(env_file=source),
                mongo=MongoSettings.load(env_file=source),
                s3=S3Settings.load(env_file=source),
                kafka=KafkaSettings.load(env_file=source),
                backup=BackupSettings.load(env_file=source),
            )
        except ConfigError as error:
            raise StackError(str(error)) from error

    @property
    def state_file(self) -> Path:
        """Where the chosen backend is remembered."""
        return self.project_dir / ".mp" / "stack.json"

    def native(self) -> NativeStack:
        """The native backend for this project."""
        return NativeStack(
            self.project_dir,
            self.postgres,
            self.redis,
            self.stack.data_dir,
            backup=self.backup,
            s3=self.s3,
        )

    def compose(self) -> ComposeStack:
        """The compose backend for this project."""
        profiles = ("kafka",) if self.kafka.enabled else ()
        return ComposeStack(self.project_dir, self.env_file, self.stack.compose_project, profiles)

    def remembered_backend(self) -> str | None:
        """The backend the last ``up`` used, if any."""
        try:
            return str(json.loads(self.state_file.read_text())["backend"])
        except (OSError, ValueError, KeyError):
            return None

    def remember(self, backend: str | None) -> None:
        """Record (or, with ``None``, forget) the running backend."""
        if backend is None:
            self.state_file.unlink(missing_ok=True)
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps({"backend": backend}) + "\n")


def choose_backend(config: StackConfig) -> str:
    """``MP_STACK_BACKEND``, with ``auto`` resolved: compose if a Docker engine answers."""
    if config.stack.backend != "auto":
        return config.stack.backend
    if docker_engine_available() and compose_command() is not None:
        return "compose"
    return "native"


def stack_status(config: StackConfig, backend: str | None = None) -> list[ServiceStatus]:
    """Probe every service with the configured addresses and credentials."""
    backend = backend or config.remembered_backend() or "none"
    statuses = [postgres_status(config.postgres, backend), redis_status(config.redis, backend)]
    statuses.append(backup_status(config.native() if backend == "native" else None, backend))
    extras = [
        ("mongodb", config.mongo.host, config.mongo.port, True),
        ("minio", *_s3_address(config.s3), True),
        ("kafka", *config.kafka.servers()[0], config.kafka.enabled),
    ]
    for service, host, port, expected in extras:
        if backend == "native":
            statuses.append(
                ServiceStatus(
                    service, backend, "-", None, "not part of the native backend (compose only)"
                )
            )
        elif not expected:
            statuses.append(
                ServiceStatus(
                    service,
                    backend,
                    f"{host}:{port}",
                    None,
                    "profile off (set MP_KAFKA_ENABLED=true)",
                )
            )
        else:
            statuses.append(tcp_status(service, host, port, backend))
    return statuses


def _s3_address(settings: S3Settings) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(settings.endpoint_url)
    return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)


def stack_healthy(statuses: list[ServiceStatus]) -> bool:
    return all(status.healthy for status in statuses if status.service in REQUIRED_SERVICES)


def stack_up(
    project_dir: Path, env_file: Path | None = None, progress: Progress = say
) -> list[ServiceStatus]:
    """Bring the stack up (idempotent), wait until PostgreSQL and Redis are healthy.

    Raises:
        StackError: a step failed; the message names it and how to fix it.
    """
    env_path = env_file or project_dir / ".env"
    if ensure_env_file(env_path, project_dir / ".env.example"):
        progress(
            f"created {env_path} from .env.example with fresh random passwords (git ignores it)"
        )
    config = StackConfig.load(project_dir, env_path)
    warning = placeholder_warning(env_path)
    if warning is not None:
        progress(_loud(warning))
    backend = choose_backend(config)
    progress(f"backend: {backend}")
    if backend == "compose":
        config.compose().up(config.stack.wait_seconds)
    elif backend == "native":
        config.native().up(progress)
    config.remember(backend)
    deadline = time.monotonic() + config.stack.wait_seconds
    statuses = stack_status(config, backend)
    while not stack_healthy(statuses) and time.monotonic() < deadline:
        time.sleep(1.0)
        statuses = stack_status(config, backend)
    progress("status:\n" + render_table(statuses))
    if warning is not None:
        progress(_loud(warning))  # again, after the long output of starting the servers
    if not stack_healthy(statuses):
        raise StackError("the stack is not healthy: see the table above")
    return statuses


def _loud(message: str) -> str:
    bar = "!" * 78
    return f"\n{bar}\n{message}\n{bar}"


def stack_down(
    project_dir: Path,
    env_file: Path | None = None,
    *,
    purge: bool = False,
    progress: Progress = say,
) -> None:
    """Stop what ``up`` started (idempotent); ``purge`` also deletes the data."""
    config = StackConfig.load(project_dir, env_file)
    backend = config.remembered_backend()
    if backend is None:
        backend = "compose" if docker_engine_available() else "native"
    progress(f"backend: {backend}")
    if backend == "compose":
        config.compose().down(purge=purge)
    elif backend == "native":
        config.native().down(progress, purge=purge)
    config.remember(None)
    progress("stopped" + (" and purged" if purge else ""))
