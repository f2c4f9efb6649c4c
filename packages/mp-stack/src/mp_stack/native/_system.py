"""Finding server binaries, free ports, and running commands as the servers' OS user.

PostgreSQL refuses to run as root, so when this process is root every PostgreSQL command runs as
the ``postgres`` OS user, and folders it needs are handed to that user. That user must also be
able to *reach* the folder: a clone under ``/root`` is invisible to it, which is why
:func:`user_can_enter` exists.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mp_stack.exceptions import NativeServiceError

__all__ = [
    "PostgresBinaries",
    "find_postgres",
    "find_redis_server",
    "free_cluster_port",
    "free_port",
    "hand_to_user",
    "port_is_open",
    "run_as",
    "service_os_user",
    "user_can_enter",
]

_PG_ROOT = Path("/usr/lib/postgresql")
PG_BIN_VARIABLE = "MP_NATIVE_PG_BIN"
PG_MAJOR_VARIABLE = "MP_NATIVE_PG_MAJOR"
INSTALL_HINT = (
    "install the native prerequisites: `mp-stack install` (or `nox -s up`, which runs it), "
    "or use the compose backend on a machine with Docker"
)


@dataclass(frozen=True, slots=True)
class PostgresBinaries:
    """Where one PostgreSQL installation keeps its programs and extensions."""

    bin_dir: Path
    major: int
    share_dir: Path

    def program(self, name: str) -> str:
        """Absolute path of a PostgreSQL program (initdb, pg_ctl, postgres...)."""
        return str(self.bin_dir / name)

    @property
    def timescaledb_version(self) -> str | None:
        """Default TimescaleDB version installed for this PostgreSQL, or ``None``."""
        control = self.share_dir / "extension" / "timescaledb.control"
        if not control.is_file():
            return None
        for line in control.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "default_version":
                return value.strip().strip("'\"")
        return "unknown"


def find_postgres() -> PostgresBinaries:
    """Locate a PostgreSQL server installation.

    ``MP_NATIVE_PG_BIN`` (a bin folder) or ``MP_NATIVE_PG_MAJOR`` pick one; otherwise the newest
    Debian-style ``/usr/lib/postgresql/N`` with TimescaleDB wins, then the newest at all, then
    ``pg_config`` on the PATH.

    Raises:
        NativeServiceError: no PostgreSQL server is installed.
    """
    explicit = os.environ.get(PG_BIN_VARIABLE)
    if explicit:
        return _describe(Path(explicit))
    candidates = []
    if _PG_ROOT.is_dir():
        for child in _PG_ROOT.iterdir():
            if child.name.isdigit() and (child / "bin" / "postgres").is_file():
                candidates.append(_describe(child / "bin"))
    wanted = os.environ.get(PG_MAJOR_VARIABLE)
    if wanted:
        candidates = [item for item in candidates if str(item.major) == wanted]
    if candidates:
        candidates.sort(key=lambda item: (item.timescaledb_version is not None, item.major))
        return candidates[-1]
    pg_config = shutil.which("pg_config")
    if pg_config:
        bin_dir = Path(_output([pg_config, "--bindir"]))
        if (bin_dir / "postgres").is_file():
            return _describe(bin_dir)
    raise NativeServiceError(
        "find PostgreSQL", "no PostgreSQL server installation found", hint=INSTALL_HINT
    )


def _describe(bin_dir: Path) -> PostgresBinaries:
    postgres = bin_dir / "postgres"
    if not postgres.is_file():
        raise NativeServiceError(
            "find PostgreSQL",
            f"{postgres} does not exist",
            hint=f"point {PG_BIN_VARIABLE} at a PostgreSQL bin folder",
        )
    version = _output([str(postgres), "--version"])  # "postgres (PostgreSQL) 15.20 (Debian...)"
    major = int(version.split()[2].split(".")[0])
    pg_config = bin_dir / "pg_config"
    share_dir = Path(f"/usr/share/postgresql/{major}")
    if pg_config.is_file():
        share_dir = Path(_output([str(pg_config), "--sharedir"]))
    return PostgresBinaries(bin_dir=bin_dir, major=major, share_dir=share_dir)


def find_redis_server() -> str:
    """Path of ``redis-server``.

    Raises:
        NativeServiceError: redis-server is not installed.
    """
    for candidate in (
        shutil.which("redis-server"),
        "/usr/bin/redis-server",
        "/usr/sbin/redis-server",
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    raise NativeServiceError(
        "find redis-server", "redis-server is not installed", hint=INSTALL_HINT
    )


def _output(command: Sequence[str]) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def free_cluster_port(host: str = "127.0.0.1") -> int:
    """A free port P at most 55535 whose cluster bus port P + 10000 is free too."""
    import random

    chooser = random.SystemRandom()
    for _ in range(200):
        port = chooser.randint(20000, 45000)
        if not port_is_open(host, port, 0.05) and not port_is_open(host, port + 10000, 0.05):
            try:
                for candidate in (port, port + 10000):
                    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                        probe.bind((host, candidate))
            except OSError:
                continue
            return port
    raise NativeServiceError("find cluster ports", "no free port pair found in 20000-45000")


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def service_os_user() -> str | None:
    """The OS user PostgreSQL must run as: ``postgres`` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as error:
        raise NativeServiceError(
            "find the postgres OS user",
            "running as root, and PostgreSQL refuses to run as root, but there is no "
            "'postgres' user",
            hint="install the postgresql package (it creates the user) or run as a normal user",
        ) from error
    return "postgres"


def run_as(
    command: Sequence[str],
    user: str | None,
    *,
    step: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
    hint: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as ``user`` (``None``: as ourselves); raise with its output on failure."""
    environment = dict(os.environ if env is None else env)
    if user is not None:
        record = pwd.getpwnam(user)
        environment.update(HOME=record.pw_dir, USER=user, LOGNAME=user)
    try:
        result = subprocess.run(
            list(command),
            check=False,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=environment,
            timeout=timeout,
            user=user,
            group=pwd.getpwnam(user).pw_gid if user is not None else None,
            extra_groups=[] if user is not None else None,
        )
    except subprocess.TimeoutExpired as error:
        raise NativeServiceError(step, f"timed out after {timeout:.0f} s", hint=hint) from error
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise NativeServiceError(step, f"exit status {result.returncode}: {output}", hint=hint)
    return result


def user_can_enter(path: Path, user: str | None) -> bool:
    """True when ``user`` can traverse every folder down to ``path`` (``None``: ourselves)."""
    if user is None:
        return os.access(path, os.X_OK)
    try:
        run_as(["test", "-x", str(path)], user, step="check folder access", cwd=Path("/"))
    except NativeServiceError:
        return False
    return True


def hand_to_user(path: Path, user: str | None) -> None:
    """Give ``path`` (recursively) to ``user``, who will own the server's files."""
    if user is None:
        return
    record = pwd.getpwnam(user)
    for root, folders, files in os.walk(path):
        os.chown(root, record.pw_uid, record.pw_gid)
        for name in folders + files:
            os.chown(Path(root) / name, record.pw_uid, record.pw_gid, follow_symlinks=False)
