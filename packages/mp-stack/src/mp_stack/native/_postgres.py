"""A PostgreSQL cluster with TimescaleDB preloaded, owned and run by this process.

Used twice: by ``mp-stack up`` for the long-lived native stack (durable settings, data kept in
the repository's ``.mp/`` folder) and by the test fixtures for throwaway clusters (fsync off, a
temporary folder, free ports). Fault tests stop, crash and restart these clusters at will.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mp_stack.exceptions import NativeServiceError
from mp_stack.native._system import (
    INSTALL_HINT,
    PostgresBinaries,
    find_postgres,
    hand_to_user,
    port_is_open,
    run_as,
    service_os_user,
    user_can_enter,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["SUPERUSER", "PostgresCluster", "StopMode"]

SUPERUSER = "postgres"
_SOCKET_PATH_LIMIT = 100
StopMode = Literal["smart", "fast", "immediate"]

_DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
# Throwaway clusters trade crash safety for speed where it cannot change a test's outcome: an OS
# crash is not a scenario they serve, and an immediate stop of PostgreSQL (what fault tests do)
# loses nothing with fsync off, because the OS still holds the written pages. synchronous_commit
# stays on: with it off, a commit is acknowledged before its WAL reaches the OS, and a crash
# right after would lose acknowledged work, which is exactly what the fault tests check for.
_THROWAWAY = {"fsync": "off", "synchronous_commit": "on", "full_page_writes": "off"}

_HBA = """\
# Written by mp-stack. The socket folder is private to the server's OS user (0700), so local
# connections are trusted; everything over TCP needs a SCRAM password.
local   all             all                                     trust
local   replication     all                                     trust
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
host    replication     all             127.0.0.1/32            scram-sha-256
"""


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class PostgresCluster:
    """One PostgreSQL cluster in its own folder: ``data/``, ``socket/`` and ``server.log``.

    Args:
        root: the cluster's folder (created when missing).
        port: TCP port on 127.0.0.1.
        durable: keep fsync and friends on (the native stack) or off (throwaway test clusters).
        settings: extra ``postgresql.conf`` settings.
    """

    root: Path
    port: int
    durable: bool = True
    settings: Mapping[str, str] = field(default_factory=dict)
    binaries: PostgresBinaries = field(default_factory=find_postgres)
    os_user: str | None = field(default_factory=service_os_user)
    host: str = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        """PGDATA."""
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        """Folder of the Unix socket; private to the server's OS user.

        Inside the cluster folder when the socket's path fits the kernel's 107-byte limit for
        socket paths; otherwise (deep folders, such as nox's temporary folders) a short folder
        under /tmp named after the cluster folder.
        """
        inside = self.root / "socket"
        if len(f"{inside}/.s.PGSQL.{self.port}") <= _SOCKET_PATH_LIMIT:
            return inside
        digest = hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:16]
        return Path("/tmp") / f"mp-pg-{digest}"  # noqa: S108 - short by necessity, mode 0700

    @property
    def log_file(self) -> Path:
        """The server's log (pg_ctl -l)."""
        return self.root / "server.log"

    @property
    def initialized(self) -> bool:
        """True once initdb has run in :attr:`data_dir`."""
        return (self.data_dir / "PG_VERSION").is_file()

    # -- lifecycle -------------------------------------------------------------------------------

    def init(self) -> None:
        """Run initdb and write mp's configuration; does nothing if already initialized."""
        if self.binaries.timescaledb_version is None:
            raise NativeServiceError(
                "check TimescaleDB",
                f"TimescaleDB is not installed for PostgreSQL {self.binaries.major} "
                f"({self.binaries.share_dir}/extension/timescaledb.control is missing)",
                hint=INSTALL_HINT,
            )
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        self.socket_dir.chmod(0o700)
        hand_to_user(self.socket_dir, self.os_user)
        if not self.initialized:
            hand_to_user(self.root, self.os_user)
        if not user_can_enter(self.root, self.os_user):
            raise NativeServiceError(
                "prepare the cluster folder",
                f"the OS user {self.os_user!r} cannot reach {self.root} (a parent folder is "
                "closed to it)",
                hint="choose a folder every user can traverse (MP_STACK_DATA_DIR), or open the "
                "parents with chmod o+x",
            )
        if not self.initialized:
            run_as(
                [
                    self.binaries.program("initdb"),
                    "--pgdata",
                    str(self.data_dir),
                    "--username",
                    SUPERUSER,
                    "--encoding",
                    "UTF8",
                    "--no-locale",
                    "--auth-local",
                    "trust",
                    "--auth-host",
                    "scram-sha-256",
                    "--no-instructions",
                ],
                self.os_user,
                step=f"initdb in {self.data_dir}",
                cwd=self.root,
                hint=f"delete {self.root} if it holds a broken cluster, then retry",
            )
        self._write_configuration()

    def _write_configuration(self) -> None:
        values = {
            "listen_addresses": f"'{self.host}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "unix_socket_permissions": "0700",
            "shared_preload_libraries": "'timescaledb'",
            "timescaledb.telemetry_level": "'off'",
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
            "max_connections": "200",
            "shared_buffers": "'256MB'",
            "work_mem": "'16MB'",
            "maintenance_work_mem": "'256MB'",
            "max_wal_size": "'2GB'",
            "wal_level": "'replica'",
            "max_wal_senders": "10",
            "log_line_prefix": "'%m [%p] %q%u@%d '",
            **(_DURABLE if self.durable else _THROWAWAY),
            **dict(self.settings),
        }
        body = "# Written by mp-stack on every start; edit the settings, not this file.\n"
        body += "".join(f"{key} = {value}\n" for key, value in values.items())
        (self.data_dir / "mp.conf").write_text(body)
        (self.data_dir / "pg_hba.conf").write_text(_HBA)
        main_conf = self.data_dir / "postgresql.conf"
        text = main_conf.read_text()
        if "include_if_exists = 'mp.conf'" not in text:
            main_conf.write_text(text + "\ninclude_if_exists = 'mp.conf'\n")
        hand_to_user(self.data_dir, self.os_user)

    def is_running(self) -> bool:
        """True when a postmaster is running on this data folder."""
        if not self.initialized:
            return False
        try:
            run_as(
                [self.binaries.program("pg_ctl"), "status", "-D", str(self.data_dir)],
                self.os_user,
                step="pg_ctl status",
                cwd=self.root,
                timeout=30,
            )
        except NativeServiceError:
            return False
        return True

    def start(self, timeout: float = 60.0) -> None:
        """Start the server (initializing it first if needed) and wait until it accepts work."""
        self.init()
        if self.is_running():
            self._write_configuration()
            return
        if port_is_open(self.host, self.port):
            raise NativeServiceError(
                "start PostgreSQL",
                f"port {self.port} on {self.host} is already taken by another program",
                hint="set MP_PG_PORT to a free port (in .env) or stop the other program",
            )
        # pg_ctl start -W returns once the postmaster is forked; readiness is then polled
        # (a connection that answers), so a loaded machine costs time, never a false failure:
        # pg_ctl's own -w/-t waited a fixed time and once gave up on a server ready in 3 ms.
        try:
            run_as(
                [
                    self.binaries.program("pg_ctl"),
                    "start",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-W",
                ],
                self.os_user,
                step="start PostgreSQL",
                cwd=self.root,
                timeout=timeout + 10,
            )
        except NativeServiceError as error:
            raise NativeServiceError(
                "start PostgreSQL",
                error.detail,
                hint=f"read {self.log_file}",
                log_tail=_tail(self.log_file),
            ) from error
        self.wait_ready(timeout)

    def _postmaster_alive(self) -> bool | None:
        """True/False when postmaster.pid names a live/dead process; None before it exists."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # alive, owned by another user
        return True

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll until a superuser connection succeeds (recovery finished), as pg_isready does.

        Returns as soon as the server answers; fails at once (with the log's tail) when the
        postmaster has exited, and only after ``timeout`` seconds when it runs but never
        answers.
        """
        import psycopg

        started = time.monotonic()
        deadline = started + timeout
        last_error = ""
        delay = 0.01
        while time.monotonic() < deadline:
            try:
                with self.connect_admin() as connection:
                    connection.execute("SELECT 1")
                return
            except psycopg.Error as error:
                last_error = str(error).strip()
            alive = self._postmaster_alive()
            # No pid file for 5 s after pg_ctl returned, or a dead pid: the server is gone.
            if alive is False or (alive is None and time.monotonic() - started > 5):
                raise NativeServiceError(
                    "start PostgreSQL",
                    f"the server exited before accepting connections: {last_error}",
                    hint=f"read {self.log_file}",
                    log_tail=_tail(self.log_file),
                )
            time.sleep(delay)
            delay = min(0.2, delay * 2)
        raise NativeServiceError(
            "wait for PostgreSQL",
            f"not ready after {timeout:.0f} s: {last_error}",
            log_tail=_tail(self.log_file),
        )

    def stop(self, mode: StopMode = "fast", timeout: float = 60.0) -> None:
        """Stop the server; ``immediate`` is a crash as far as the data is concerned."""
        if not self.is_running():
            return
        run_as(
            [
                self.binaries.program("pg_ctl"),
                "stop",
                "-D",
                str(self.data_dir),
                "-m",
                mode,
                "-w",
                "-t",
                str(round(timeout)),
            ],
            self.os_user,
            step=f"stop PostgreSQL ({mode})",
            cwd=self.root,
            timeout=timeout + 10,
        )

    def restart(self, mode: StopMode = "fast", timeout: float = 60.0) -> None:
        """Stop with ``mode`` and start again, waiting for recovery to finish."""
        self.stop(mode, timeout)
        self.start(timeout)

    def reload(self) -> None:
        """Re-read the configuration files (after editing :attr:`settings`)."""
        self._write_configuration()
        run_as(
            [self.binaries.program("pg_ctl"), "reload", "-D", str(self.data_dir)],
            self.os_user,
            step="reload PostgreSQL",
            cwd=self.root,
        )

    def destroy(self) -> None:
        """Stop immediately and delete the folder: for throwaway clusters only."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            shutil.rmtree(self.root, ignore_errors=True)

    def create_standby(self, root: Path, port: int, *, timeout: float = 120.0) -> PostgresCluster:
        """A streaming standby of this (running) cluster, started and caught up.

        Made with ``pg_basebackup -R`` over the private socket, so it follows this cluster by
        streaming replication and refuses writes (read-only, ``pg_is_in_recovery()``).
        """
        standby = PostgresCluster(
            root,
            port,
            durable=self.durable,
            settings=self.settings,
            binaries=self.binaries,
            os_user=self.os_user,
            host=self.host,
        )
        root.mkdir(parents=True, exist_ok=True)
        hand_to_user(root, self.os_user)
        run_as(
            [
                self.binaries.program("pg_basebackup"),
                "--pgdata",
                str(standby.data_dir),
                "--host",
                str(self.socket_dir),
                "--port",
                str(self.port),
                "--username",
                SUPERUSER,
                "--write-recovery-conf",
                "--checkpoint",
                "fast",
                "--wal-method",
                "stream",
            ],
            self.os_user,
            step="pg_basebackup for a standby",
            cwd=root,
            timeout=timeout,
        )
        standby.socket_dir.mkdir(exist_ok=True)
        standby.socket_dir.chmod(0o700)
        hand_to_user(standby.socket_dir, self.os_user)
        standby._write_configuration()
        standby.start(timeout)
        return standby

    def promote(self, timeout: float = 60.0) -> None:
        """Turn this standby into a primary (``pg_ctl promote``) and wait until it takes writes."""
        run_as(
            [
                self.binaries.program("pg_ctl"),
                "promote",
                "-D",
                str(self.data_dir),
                "-w",
                "-t",
                str(round(timeout)),
            ],
            self.os_user,
            step="promote the standby",
            cwd=self.root,
            timeout=timeout + 10,
        )

    # -- administration --------------------------------------------------------------------------

    def connect_admin(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """A superuser connection over the private Unix socket, in autocommit mode."""
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SUPERUSER,
            dbname=dbname,
            autocommit=True,
            connect_timeout=5,
        )

    def ensure_login_role(
        self, name: str, password: str | None, *, createdb: bool = True, createrole: bool = True
    ) -> None:
        """Create the login role ``name`` or bring its password and rights up to date."""
        from psycopg import sql

        options: list[sql.Composable] = [
            sql.SQL("LOGIN"),
            sql.SQL("CREATEDB" if createdb else "NOCREATEDB"),
            sql.SQL("CREATEROLE" if createrole else "NOCREATEROLE"),
        ]
        if password is not None:
            options.append(sql.SQL("PASSWORD {}").format(sql.Literal(password)))
        with self.connect_admin() as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)
            ).fetchone()
            verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
            connection.execute(
                sql.SQL("{} {} WITH {}").format(
                    verb, sql.Identifier(name), sql.SQL(" ").join(options)
                )
            )

    def ensure_database(self, name: str, owner: str) -> None:
        """Create database ``name`` owned by ``owner`` unless it exists."""
        from psycopg import sql

        with self.connect_admin() as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                connection.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(owner)
                    )
                )
