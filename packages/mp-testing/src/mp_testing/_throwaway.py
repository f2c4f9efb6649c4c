"""Throwaway servers that tests may stop, crash, restart or reconfigure (the fault toolkit).

Unlike the session's shared server, each of these belongs to one test (or module): it is a
native cluster or redis-server in a temporary folder on a free port, destroyed afterwards.
mp-stack runs the processes (install ``mp-testing[native]``).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mp_config import PostgresSettings
from mp_testing._native import require_native
from mp_testing._postgres_server import pause_background_jobs

if TYPE_CHECKING:
    from mp_stack.native import PostgresCluster

__all__ = ["ThrowawayPostgres", "start_throwaway_postgres"]

_OWNER = "mp_fault_owner"
_DATABASE = "mp"


@dataclass
class ThrowawayPostgres:
    """A PostgreSQL cluster of one's own, with a migrated database.

    Attributes:
        cluster: the running cluster (``stop``, ``start``, ``restart``, ``stop("immediate")``).
        settings: ``MP_PG_*`` settings of its owner role and database.
        standbys: standbys created with :meth:`add_standby` (destroyed with the primary).
    """

    cluster: PostgresCluster
    settings: PostgresSettings
    standbys: list[PostgresCluster] = field(default_factory=list)

    def add_standby(self) -> PostgresSettings:
        """Start a streaming standby; return these settings with ``read_host``/``read_port``
        pointing at it (the primary stays the write target)."""
        from mp_stack.native import free_port

        root = self.cluster.root.parent / f"standby-{len(self.standbys) + 1}"
        standby = self.cluster.create_standby(root, free_port())
        self.standbys.append(standby)
        return self.settings.model_copy(
            update={"read_host": standby.host, "read_port": standby.port}
        )

    def add_synchronous_standby(self) -> PostgresCluster:
        """Start a streaming standby that every commit waits for (``synchronous_standby_names``):
        a commit the primary acknowledged is on the standby's disk too, so promoting it after
        the primary dies loses no acknowledged work."""
        self.add_standby()
        standby = self.standbys[-1]
        # Only the primary waits: the standby keeps the settings it was created with, so once
        # promoted (with no standby of its own) it does not wait for one.
        self.cluster.settings = {**self.cluster.settings, "synchronous_standby_names": "'*'"}
        self.cluster.reload()
        return standby

    def fail_over(self) -> PostgresCluster:
        """The primary dies (immediate stop, a crash to its data) and the first standby is
        promoted; return the new primary.

        Raises:
            mp_stack.NativeServiceError: there is no standby to promote.
        """
        from mp_stack.exceptions import NativeServiceError

        if not self.standbys:
            raise NativeServiceError("fail over", "no standby to promote: add_standby() first")
        self.cluster.stop("immediate")
        standby = self.standbys[0]
        standby.promote()
        return standby

    def terminate_backends(self, application_name: str | None = None) -> int:
        """Kill client backends of the mp database (optionally one application's)."""
        with self.cluster.connect_admin() as connection:
            row = connection.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend'"
                " AND (%s::text IS NULL OR application_name = %s)",
                (_DATABASE, application_name, application_name),
            ).fetchone()
        return int(str(row[0])) if row else 0

    def destroy(self) -> None:
        """Stop and delete the primary, its standbys and the folder that holds them."""
        try:
            for standby in self.standbys:
                standby.destroy()
            self.cluster.destroy()
        finally:
            shutil.rmtree(self.cluster.root.parent, ignore_errors=True)


def start_throwaway_postgres(
    migrate: Callable[[PostgresSettings], None] | None = None,
    *,
    durable: bool = False,
    settings: dict[str, str] | None = None,
) -> ThrowawayPostgres:
    """Start a throwaway cluster with an owner role and database ``mp``, migrated by ``migrate``,
    its background jobs unscheduled (as for test databases).

    Args:
        migrate: how to bring the database to the schema (mp-schema's upgrade by default).
        durable: keep fsync and friends on (for durability tests and the preflight).
        settings: extra ``postgresql.conf`` settings.

    Raises:
        ServiceUnavailableError: mp-stack (the ``native`` extra) is not installed.
        mp_stack.NativeServiceError: the cluster did not start (the message has its log).
    """
    require_native("start_throwaway_postgres")
    from mp_stack.native import PostgresCluster, free_port, service_os_user

    root = Path(tempfile.mkdtemp(prefix="mp-fault-pg-"))
    root.chmod(0o711)
    cluster = PostgresCluster(
        root / "primary",
        free_port(),
        durable=durable,
        settings=settings or {},
        os_user=service_os_user(),
    )
    try:
        cluster.start()
        password = secrets.token_urlsafe(16)
        cluster.ensure_login_role(_OWNER, password)
        cluster.ensure_database(_DATABASE, _OWNER)
        pg = PostgresSettings.load(
            env_file=None,
            host=cluster.host,
            port=cluster.port,
            user=_OWNER,
            password=password,
            database=_DATABASE,
        )
        if migrate is None:
            from mp_schema import upgrade

            upgrade(pg, "head")
        else:
            migrate(pg)
        with cluster.connect_admin(_DATABASE) as connection:
            pause_background_jobs(connection)
    except Exception:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return ThrowawayPostgres(cluster=cluster, settings=pg)
