"""Finding a Redis for a test session: the configured one, a container, or a native server.

On a server this session does not own (``settings`` backend) tests are isolated by a unique key
prefix and only their own keys are deleted afterwards; a server it owns may simply be flushed.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mp_config import ConfigError, RedisSettings, docker_engine_available
from mp_testing._backends import USED, first_working, run_closers
from mp_testing._native import native_unavailable_as_skip
from mp_testing._settings import TestingSettings, configured_by
from mp_testing.exceptions import ServiceUnavailableError

if TYPE_CHECKING:
    import redis

    from mp_stack.native import RedisServer

__all__ = ["RedisHandle", "delete_prefix", "provide_redis"]


@dataclass
class RedisHandle:
    """A Redis the session uses.

    Attributes:
        backend: ``settings``, ``container`` or ``native``.
        settings: how to reach it (standalone).
        owned: True when this session started it and may flush it.
        server: the native server, when this process runs it (fault tests may stop it).
        version: ``redis_version`` from INFO.
    """

    backend: str
    settings: RedisSettings
    owned: bool
    server: RedisServer | None = None
    version: str = "unknown"
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @contextmanager
    def client(self) -> Iterator[redis.Redis]:
        """A redis-py client on the server (authenticated, replies decoded), closed after the
        ``with`` block."""
        import redis

        password = self.settings.password.get_secret_value() if self.settings.password else None
        client = redis.Redis(
            host=self.settings.host,
            port=self.settings.port,
            username=self.settings.username,
            password=password,
            socket_timeout=5.0,
            socket_connect_timeout=5.0,
            decode_responses=True,
        )
        try:
            yield client
        finally:
            client.close()

    def close(self) -> None:
        """Stop whatever this handle started."""
        run_closers(self._closers)


def delete_prefix(handle: RedisHandle, prefix: str) -> int:
    """Delete every key under ``prefix`` (SCAN, never KEYS); returns how many were deleted."""
    pattern = prefix.replace("*", r"\*").replace("?", r"\?").replace("[", r"\[") + "*"
    deleted = 0
    with handle.client() as client:
        batch: list[str] = []
        for key in client.scan_iter(match=pattern, count=500):
            batch.append(key)
            if len(batch) == 500:
                deleted += int(client.unlink(*batch))
                batch.clear()
        if batch:
            deleted += int(client.unlink(*batch))
    return deleted


def _version(handle: RedisHandle) -> RedisHandle:
    with handle.client() as client:
        handle.version = str(client.info("server").get("redis_version", "unknown"))
    return handle


def _from_settings() -> RedisHandle:
    import redis

    try:
        settings = RedisSettings.load()
    except ConfigError as error:
        raise ServiceUnavailableError(f"MP_REDIS_* settings are invalid: {error}") from error
    if settings.mode != "standalone" or settings.tls:
        raise ServiceUnavailableError("the settings backend supports a plain standalone Redis")
    handle = RedisHandle(backend="settings", settings=settings, owned=False)
    try:
        with handle.client() as client:
            client.ping()
        return _version(handle)
    except redis.RedisError as error:
        raise ServiceUnavailableError(
            f"no answer from {settings.display_url()}: {error}"
        ) from error


def _from_container(testing: TestingSettings) -> RedisHandle:  # pragma: no cover - Docker only
    if not docker_engine_available():
        raise ServiceUnavailableError("no Docker engine answers")
    try:
        from testcontainers.redis import RedisContainer
    except ImportError as error:
        raise ServiceUnavailableError(
            "testcontainers is not installed: pip install 'mp-testing[containers]'"
        ) from error
    container = RedisContainer(testing.redis_image)
    container.start()
    settings = RedisSettings.load(
        env_file=None,
        host=container.get_container_host_ip(),
        port=int(container.get_exposed_port(6379)),
        allow_insecure_transport=True,
    )
    handle = RedisHandle(backend="container", settings=settings, owned=True)
    handle._closers.append(container.stop)
    return _version(handle)


def _native() -> RedisHandle:
    with native_unavailable_as_skip("a native redis-server"):
        return _start_native()


def _start_native() -> RedisHandle:
    from mp_stack.native import RedisServer, free_port

    root = Path(tempfile.mkdtemp(prefix="mp-testing-redis-"))
    password = secrets.token_urlsafe(16)
    server = RedisServer(root, free_port(), password=password)
    handle = RedisHandle(
        backend="native",
        settings=RedisSettings.load(
            env_file=None, host=server.host, port=server.port, password=password
        ),
        owned=True,
        server=server,
    )
    handle._closers.append(server.destroy)
    try:
        server.start()
        return _version(handle)
    except Exception:
        handle.close()
        raise


def provide_redis(testing: TestingSettings) -> RedisHandle:
    """Return a Redis for the session from the first backend that works.

    Raises:
        ServiceUnavailableError: no backend worked; the message lists why each one failed.
    """
    handle = first_working(
        testing.backend,
        {
            "settings": _from_settings,
            "container": lambda: _from_container(testing),
            "native": _native,
        },
        "Redis",
        configured=configured_by("MP_REDIS_"),
    )
    USED["Redis"] = f"{handle.backend} at {handle.settings.display_url()} (Redis {handle.version})"
    return handle
