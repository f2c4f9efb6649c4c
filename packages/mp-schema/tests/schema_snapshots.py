"""Stored old-schema snapshots: a database as an old revision left it, rows included.

Each ``snapshots/<revision>.sql.gz`` is ``pg_dump`` output (plain SQL, ``--inserts``, no owner,
no privileges) of a database migrated to that revision with :data:`SAMPLE_ROWS` inserted, and
``snapshots/manifest.json`` says which TimescaleDB version dumped them (a dump restores only
into the same extension version, as TimescaleDB documents). Restoring follows TimescaleDB's
procedure: ``CREATE EXTENSION``, ``timescaledb_pre_restore()``, the dump,
``timescaledb_post_restore()``. The SQL runs through psycopg, so tests need no client binaries.

Make one for each new revision (old snapshots never change)::

    cd packages/mp-schema && ../../.nox/test-package-mp-schema/bin/python \\
        tests/schema_snapshots.py 0006
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

SNAPSHOTS = Path(__file__).resolve().with_name("snapshots")
MANIFEST = SNAPSHOTS / "manifest.json"

#: Rows every snapshot holds: a source, one series per kind, facts in every fact table (two
#: vintages of one macro observation). Columns as of revision 0002, so every revision takes them.
SAMPLE_ROWS = """
INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)
VALUES ('snap', 'Snapshot source', 'internal', 'full');
INSERT INTO mp.series (source_id, source_code, kind, name, frequency)
SELECT source_id, kind, kind, 'snapshot ' || kind, 'daily'
FROM mp.data_sources, unnest(ARRAY['macro', 'market_bar', 'curve', 'rate_fixing', 'release',
    'positioning', 'signal']) AS kind
WHERE code = 'snap';
INSERT INTO mp.macro_observations (series_id, obs_time, knowledge_time, value,
    knowledge_time_source, revision)
SELECT series_id, '2024-01-01', k, v, 'vendor', r FROM mp.series,
    (VALUES ('2024-02-01'::timestamptz, 1.5, 0), ('2024-03-01', 1.75, 1)) AS t(k, v, r)
WHERE source_code = 'macro';
INSERT INTO mp.market_bars (series_id, obs_time, knowledge_time, open, high, low, close,
    volume, knowledge_time_source)
SELECT series_id, '2024-01-02', '2024-01-02 22:00', 10, 12, 9, 11, 1000, 'vendor'
FROM mp.series WHERE source_code = 'market_bar';
INSERT INTO mp.curve_points (series_id, obs_time, tenor, knowledge_time, value,
    knowledge_time_source)
SELECT series_id, '2024-01-02', tenor, '2024-01-02 18:00', v, 'vendor' FROM mp.series,
    (VALUES ('3M', 5.3), ('10Y', 4.1)) AS t(tenor, v)
WHERE source_code = 'curve';
INSERT INTO mp.rate_fixings (series_id, obs_time, knowledge_time, value, knowledge_time_source)
SELECT series_id, '2024-01-02', '2024-01-03 13:00', 5.31, 'vendor'
FROM mp.series WHERE source_code = 'rate_fixing';
INSERT INTO mp.release_calendar (series_id, obs_time, knowledge_time, scheduled_at, status,
    consensus, knowledge_time_source)
SELECT series_id, '2024-01-01', '2023-12-20', '2024-02-13 13:30', 'scheduled', 0.2, 'calendar'
FROM mp.series WHERE source_code = 'release';
INSERT INTO mp.positioning_flows (series_id, obs_time, category, knowledge_time,
    long_positions, short_positions, knowledge_time_source)
SELECT series_id, '2024-01-02', 'commercial', '2024-01-05 20:30', 1200, 800, 'vendor'
FROM mp.series WHERE source_code = 'positioning';
INSERT INTO mp.signal_values (series_id, obs_time, instrument_id, knowledge_time, value,
    knowledge_time_source)
SELECT series_id, '2024-01-02 15:00', 0, '2024-01-02 15:00', -0.4, 'captured'
FROM mp.series WHERE source_code = 'signal';
"""

#: What each snapshot's fact tables hold after :data:`SAMPLE_ROWS`.
SAMPLE_COUNTS = {
    "macro_observations": 2,
    "market_bars": 1,
    "curve_points": 2,
    "rate_fixings": 1,
    "release_calendar": 1,
    "positioning_flows": 1,
    "signal_values": 1,
}


def snapshot_path(revision: str) -> Path:
    """Where the snapshot of ``revision`` is stored."""
    return SNAPSHOTS / f"{revision}.sql.gz"


def stored_revisions() -> list[str]:
    """The revisions that have a stored snapshot, oldest first."""
    return sorted(path.name.split(".")[0] for path in SNAPSHOTS.glob("*.sql.gz"))


def snapshot_timescaledb_version() -> str:
    """The TimescaleDB version that dumped the snapshots."""
    manifest = json.loads(MANIFEST.read_text())
    return str(manifest["timescaledb_version"])


def restore_snapshot(connection: Any, revision: str) -> None:
    """Restore the snapshot of ``revision`` into the empty database of ``connection``
    (autocommit psycopg, as the database's owner), by TimescaleDB's pre/post restore steps."""
    script = gzip.decompress(snapshot_path(revision).read_bytes()).decode()
    connection.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    connection.execute("SELECT public.timescaledb_pre_restore()")
    try:
        connection.execute(script)
    finally:
        # The dump empties search_path for its session; the function is named in full.
        connection.execute("SELECT public.timescaledb_post_restore()")


def _pg_dump() -> str:
    found = shutil.which("pg_dump", path=os.environ.get("MP_PG_BIN_DIR"))
    if found is None:
        raise SystemExit("pg_dump not found: put it on PATH or set MP_PG_BIN_DIR to its folder")
    return found


def _sql_only(dump: bytes) -> bytes:
    # pg_dump 15.14 and later wrap the script in psql's \restrict/\unrestrict meta-commands
    # (with a random key); they are not SQL, and psycopg runs the script as SQL.
    lines = dump.decode().splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(("\\restrict ", "\\unrestrict "))]
    return "".join(kept).encode()


def make_snapshot(revision: str) -> Path:
    """Migrate a scratch database (on the server of ``MP_PG_*``) to ``revision``, insert the
    sample rows, and store its dump; the scratch database is dropped afterwards."""
    import psycopg

    from mp_config import PostgresSettings
    from mp_schema import upgrade

    settings = PostgresSettings.load()
    name = f"mp_snapshot_{revision}"
    with psycopg.connect(**settings.psycopg_kwargs(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        scratch = settings.model_copy(update={"database": name})
        upgrade(scratch, revision)
        with psycopg.connect(**scratch.psycopg_kwargs(), autocommit=True) as connection:
            connection.execute(SAMPLE_ROWS)
            version = connection.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
            ).fetchone()
        password = settings.password.get_secret_value() if settings.password else ""
        dumped = subprocess.run(
            [
                _pg_dump(),
                "--format=plain",
                "--inserts",
                "--no-owner",
                "--no-privileges",
                f"--host={settings.host}",
                f"--port={settings.port}",
                f"--username={settings.user}",
                name,
            ],
            env={**os.environ, "PGPASSWORD": password},
            capture_output=True,
            check=True,
        )
    finally:
        with psycopg.connect(**settings.psycopg_kwargs(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")
    SNAPSHOTS.mkdir(exist_ok=True)
    path = snapshot_path(revision)
    # mtime=0: the same dump always gives the same bytes.
    path.write_bytes(gzip.compress(_sql_only(dumped.stdout), mtime=0))
    assert version is not None
    MANIFEST.write_text(json.dumps({"timescaledb_version": version[0]}, indent=2) + "\n")
    return path


if __name__ == "__main__":
    for wanted in sys.argv[1:]:
        print(make_snapshot(wanted))
