"""redis-server processes owned by this process: single servers and a 3-master cluster."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from mp_stack.exceptions import NativeServiceError
from mp_stack.native._resp import RespError, redis_command
from mp_stack.native._system import find_redis_server, port_is_open

__all__ = ["RedisClusterProcesses", "RedisServer"]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _is_zombie(pid: int) -> bool:
    # A daemonized redis-server is reparented; some inits reap late, so an exited server can
    # linger as a zombie for seconds while still answering os.kill(pid, 0).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


def _quote(value: str) -> str:
    """Quote a value for redis.conf, which splits on spaces and reads C-style escapes."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@dataclass
class RedisServer:
    """One redis-server in its own folder, configured by a private file (the password stays out
    of the process list).

    Args:
        root: folder for the configuration, pid file, log and (cluster) node table.
        port: TCP port on 127.0.0.1.
        password: ``requirepass`` when set.
        cluster: start with ``cluster-enabled yes``.
        maxmemory: e.g. ``"64mb"`` with ``noeviction``, for out-of-memory scenarios.
    """

    root: Path
    port: int
    password: str | None = None
    cluster: bool = False
    maxmemory: str | None = None
    host: str = "127.0.0.1"
    binary: str = field(default_factory=find_redis_server)

    @property
    def config_file(self) -> Path:
        """The generated configuration file (mode 0600)."""
        return self.root / "redis.conf"

    @property
    def pid_file(self) -> Path:
        """Where the daemon writes its pid."""
        return self.root / "redis.pid"

    @property
    def log_file(self) -> Path:
        """The server's log."""
        return self.root / "redis.log"

    def _write_configuration(self) -> None:
        lines = [
            f"bind {self.host}",
            f"port {self.port}",
            "protected-mode yes",
            f"dir {self.root}",
            'save ""',
            "appendonly no",
            "daemonize yes",
            f"pidfile {self.pid_file}",
            f"logfile {self.log_file}",
            "enable-debug-command local",
        ]
        if self.password is not None:
            lines.append(f"requirepass {_quote(self.password)}")
            lines.append(f"masterauth {_quote(self.password)}")
        if self.cluster:
            lines += [
                "cluster-enabled yes",
                f"cluster-config-file {self.root / 'nodes.conf'}",
                "cluster-node-timeout 2000",
                "cluster-require-full-coverage yes",
            ]
        if self.maxmemory is not None:
            lines += [f"maxmemory {self.maxmemory}", "maxmemory-policy noeviction"]
        self.root.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write("# Written by mp-stack.\n" + "\n".join(lines) + "\n")

    def command(self, *parts: str, timeout: float = 2.0) -> object:
        """Run one command against this server (authenticated)."""
        return redis_command(self.host, self.port, *parts, password=self.password, timeout=timeout)

    def ping(self) -> bool:
        """True when the server answers PING."""
        try:
            return self.command("PING", timeout=0.5) == "PONG"
        except (OSError, RespError):
            return False

    def pid(self) -> int | None:
        """The running server's pid, from its pid file (``None`` once it has exited)."""
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return None if _is_zombie(pid) else pid

    def is_running(self) -> bool:
        """True when our server answers on its port."""
        return self.pid() is not None and self.ping()

    def start(self, timeout: float = 20.0) -> None:
        """Start the server (idempotent) and wait until it answers PING."""
        if self.is_running():
            return
        if port_is_open(self.host, self.port):
            raise NativeServiceError(
                "start redis-server",
                f"port {self.port} on {self.host} is already taken by another program",
                hint="set MP_REDIS_PORT to a free port (in .env) or stop the other program",
            )
        self._write_configuration()
        result = subprocess.run(
            [self.binary, str(self.config_file)],
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise NativeServiceError(
                "start redis-server",
                result.stderr.strip() or result.stdout.strip(),
                log_tail=_tail(self.log_file),
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping():
                return
            time.sleep(0.05)
        raise NativeServiceError(
            "start redis-server",
            f"no PING reply after {timeout:.0f} s",
            log_tail=_tail(self.log_file),
        )

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server without saving; idempotent."""
        pid = self.pid()
        if pid is None:
            return
        try:
            self.command("SHUTDOWN", "NOSAVE")
        except (OSError, RespError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            if _is_zombie(pid):
                return  # exited; only its parent's bookkeeping is left
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the server: a crash, for fault tests."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)

    def destroy(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class RedisClusterProcesses:
    """A Redis Cluster of ``masters`` redis-servers (no replicas) on consecutive folders."""

    root: Path
    ports: list[int]
    password: str | None = None
    servers: list[RedisServer] = field(init=False)

    def __post_init__(self) -> None:
        if len(self.ports) < 3:
            raise ValueError("a Redis Cluster needs at least 3 masters")
        self.servers = [
            RedisServer(self.root / f"node-{port}", port, password=self.password, cluster=True)
            for port in self.ports
        ]

    @property
    def nodes(self) -> list[tuple[str, int]]:
        """Addresses of the masters."""
        return [(server.host, server.port) for server in self.servers]

    def start(self, timeout: float = 30.0) -> None:
        """Start every node and form the cluster (idempotent); wait until state is ok."""
        for server in self.servers:
            server.start()
        if not self._state_ok():
            info = str(self.servers[0].command("CLUSTER", "INFO"))
            if "cluster_known_nodes:1\r" in info or "cluster_known_nodes:1\n" in info:
                command = [
                    shutil.which("redis-cli") or "redis-cli",
                    "--cluster",
                    "create",
                    *[f"{host}:{port}" for host, port in self.nodes],
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ]
                environment = dict(os.environ)
                if self.password is not None:
                    environment["REDISCLI_AUTH"] = self.password
                result = subprocess.run(
                    command,
                    check=False,
                    capture_output=True,
                    text=True,
                    env=environment,
                    timeout=timeout,
                )
                if result.returncode != 0:
                    raise NativeServiceError(
                        "create Redis Cluster", (result.stderr or result.stdout).strip()
                    )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._state_ok():
                return
            time.sleep(0.1)
        raise NativeServiceError("create Redis Cluster", f"state not ok after {timeout:.0f} s")

    def _state_ok(self) -> bool:
        try:
            return all(
                "cluster_state:ok" in str(server.command("CLUSTER", "INFO"))
                for server in self.servers
            )
        except (OSError, RespError):
            return False

    def stop(self) -> None:
        """Stop every node."""
        for server in self.servers:
            server.stop()

    def destroy(self) -> None:
        """Stop every node and delete the folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
