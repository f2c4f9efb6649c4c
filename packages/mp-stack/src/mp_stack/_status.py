"""Probing each service of the stack and printing the status table."""

from __future__ import annotations

from dataclasses import dataclass

from mp_config import PostgresSettings, RedisSettings
from mp_stack.native import RespError, port_is_open, redis_command

__all__ = [
    "ServiceStatus",
    "compression_lines",
    "postgres_status",
    "redis_status",
    "render_table",
    "tcp_status",
]


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """One row of the status table.

    Attributes:
        service: ``postgresql``, ``redis``, ``mongodb``, ``minio`` or ``kafka``.
        backend: ``compose``, ``native``, ``external`` or ``none``.
        address: ``host:port`` probed.
        healthy: True/False, or ``None`` when the backend does not provide the service.
        detail: versions when healthy, the reason when not.
    """

    service: str
    backend: str
    address: str
    healthy: bool | None
    detail: str

    @property
    def state(self) -> str:
        """``healthy``, ``DOWN`` or ``absent``."""
        if self.healthy is None:
            return "absent"
        return "healthy" if self.healthy else "DOWN"


def postgres_status(settings: PostgresSettings, backend: str) -> ServiceStatus:
    """Connect with the configured credentials and report versions and the license."""
    import psycopg

    address = f"{settings.host}:{settings.port}"
    quick = settings.model_copy(update={"connect_timeout": 3.0})
    try:
        with psycopg.connect(**quick.psycopg_kwargs(), autocommit=True) as connection:
            row = connection.execute(
                "SELECT current_setting('server_version'),"
                " coalesce(current_setting('timescaledb.max_background_workers', true), ''),"
                " coalesce(current_setting('timescaledb.license', true), ''),"
                " (SELECT default_version FROM pg_available_extensions"
                "   WHERE name = 'timescaledb'),"
                " (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb')"
            ).fetchone()
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return ServiceStatus("postgresql", backend, address, False, reason)
    assert row is not None
    # timescaledb.max_background_workers is defined by TimescaleDB's loader, which exists only
    # when the library is preloaded (shared_preload_libraries itself needs superuser to read).
    version, preload, license_name, available, installed = row
    version = str(version).split(" ")[0]
    if available is None or not preload:
        return ServiceStatus(
            "postgresql",
            backend,
            address,
            False,
            f"PostgreSQL {version} without TimescaleDB preloaded",
        )
    if installed:
        # The license setting exists only once the extension is loaded in this database.
        tsdb = f"TimescaleDB {installed}, license {license_name or 'unknown'}"
    else:
        tsdb = f"TimescaleDB {available} available (license shown after `nox -s migrate`)"
    detail = f"PostgreSQL {version}, {tsdb}, database {settings.database}"
    return ServiceStatus("postgresql", backend, address, True, detail)


def compression_lines(settings: PostgresSettings) -> list[str]:
    """Each fact table's compression state (``mp-schema compression status``), or why there
    is none to show: on an Apache build every table is deferred, with the reason."""
    from mp_schema import SchemaError, compression_status

    try:
        states = compression_status(settings)
    except SchemaError as error:
        return [f"compression: unknown ({str(error).splitlines()[0]})"]
    if not states:
        return ["compression: no fact tables recorded (run `nox -s migrate`)"]
    return ["compression (mp-schema compression status|enable|pause):"] + [
        f"  {item.describe()}" for item in states
    ]


def redis_status(settings: RedisSettings, backend: str) -> ServiceStatus:
    """PING and INFO with the configured credentials."""
    host, port = settings.nodes()[0]
    address = f"{host}:{port}"
    password = settings.password.get_secret_value() if settings.password else None
    try:
        info = str(
            redis_command(
                host,
                port,
                "INFO",
                "server",
                password=password,
                username=settings.username,
                timeout=3.0,
            )
        )
    except (OSError, RespError) as error:
        return ServiceStatus("redis", backend, address, False, str(error) or type(error).__name__)
    version = next(
        (
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("redis_version:")
        ),
        "unknown",
    )
    return ServiceStatus("redis", backend, address, True, f"Redis {version}")


def tcp_status(service: str, host: str, port: int, backend: str) -> ServiceStatus:
    """A TCP probe, for services mp only needs reachable (MongoDB, MinIO, Kafka)."""
    address = f"{host}:{port}"
    if port_is_open(host, port, timeout=2.0):
        return ServiceStatus(service, backend, address, True, "port answers")
    return ServiceStatus(service, backend, address, False, "nothing answers on the port")


def render_table(statuses: list[ServiceStatus]) -> str:
    """A fixed-width table, one row per service."""
    header = ("service", "backend", "address", "state", "detail")
    rows = [header] + [(s.service, s.backend, s.address, s.state, s.detail) for s in statuses]
    widths = [max(len(row[index]) for row in rows) for index in range(4)]
    lines = []
    for row in rows:
        cells = [row[index].ljust(widths[index]) for index in range(4)]
        lines.append("  ".join(cells) + "  " + row[4])
    lines.insert(1, "  ".join("-" * width for width in widths) + "  " + "-" * 6)
    return "\n".join(lines)
