"""Reliability, migrations: a logical export from one server and its import into another.

TimescaleDB's procedure (pre_restore, pg_restore, post_restore) between two real clusters: the
hypertables keep their dimensions, chunk intervals and chunks, the schema has no drift and
stays at its revision, and every read shape answers exactly as it did on the source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import days, macro, utc
from sqlalchemy import Engine, text

from mp_db import MacroObservationRow, Reader, create_db_engine, ingest
from mp_schema import check, current
from mp_stack.exceptions import NativeServiceError
from mp_stack.native import SUPERUSER, export_database, import_database
from mp_testing import ThrowawayPostgres, start_throwaway_postgres

pytestmark = pytest.mark.scenario("migrations")

_HYPERTABLES = text(
    "SELECT d.hypertable_name, d.column_name, d.time_interval, d.integer_interval,"
    " (SELECT count(*) FROM timescaledb_information.chunks c"
    "   WHERE c.hypertable_schema = d.hypertable_schema"
    "   AND c.hypertable_name = d.hypertable_name)"
    " FROM timescaledb_information.dimensions d ORDER BY 1, 2"
)


def _load(engine: Engine) -> list[int]:
    """Three series, two years of months, each revised twice, published at their own times."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
                " VALUES ('moved', 'Moved', 'vendor', 'full')"
            )
        )
        series = [
            int(
                connection.execute(
                    text(
                        "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
                        " SELECT source_id, :code, 'macro', 'm', 'monthly' FROM mp.data_sources"
                        " RETURNING series_id"
                    ),
                    {"code": f"M{n}"},
                ).scalar_one()
            )
            for n in range(3)
        ]
    rows = [
        macro(
            s,
            utc(2022 + m // 12, m % 12 + 1),
            utc(2022 + m // 12, m % 12 + 1) + days(15 + 30 * v),
            s * 100 + m + v / 10,
        )
        for s in series
        for m in range(24)
        for v in range(3)
    ]
    ingest(engine, "macro", rows)
    return series


def _every_read(engine: Engine, series: list[int]) -> dict[str, Any]:
    reader = Reader(engine)
    moments = [utc(2022, 3, 1), utc(2023, 1, 20), utc(2024, 6, 1)]
    return {
        "as_of": [reader.as_of(MacroObservationRow, series, as_of=m) for m in moments],
        "latest": [reader.latest(MacroObservationRow, series, as_of=m) for m in moments],
        "first_release": reader.first_release(MacroObservationRow, series),
        "vintages": reader.vintages(MacroObservationRow, series),
        "cross_section": [
            reader.cross_section(MacroObservationRow, utc(2023, 5, 1), as_of=m) for m in moments
        ],
        "vintage_dates": [reader.vintage_dates(MacroObservationRow, s) for s in series],
        "intervals": reader.intervals(MacroObservationRow, series),
        "backtest": reader.backtest(MacroObservationRow, series, moments),
        "stream": list(reader.iter_vintages(MacroObservationRow, series, batch_rows=7)),
    }


def _catalog(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(_HYPERTABLES)]


def test_export_import_keeps_hypertables_and_every_read(
    mp_throwaway_postgres: ThrowawayPostgres, tmp_path: Path, mp_scenario_metrics: dict[str, Any]
) -> None:
    """Export from a migrated server with data, import into an empty database on another
    server: catalog, revision and every read shape are equal, and a second import into the
    now-filled database is refused."""
    source_settings = mp_throwaway_postgres.settings
    source = create_db_engine(source_settings)
    target_server = start_throwaway_postgres(migrate=lambda settings: None)
    target = create_db_engine(target_settings := target_server.settings)
    try:
        series = _load(source)
        before, catalog = _every_read(source, series), _catalog(source)
        assert catalog, "the source has no hypertable: the check would prove nothing"
        assert all(row[-1] > 0 for row in catalog if row[0] == "macro_observations")
        dump = export_database(source_settings, tmp_path / "mp.dump")
        superuser = target_settings.model_copy(
            update={"host": str(target_server.cluster.socket_dir), "user": SUPERUSER}
        )
        loaded = import_database(target_settings, dump.path, superuser=superuser)
        assert loaded.timescaledb_version == dump.timescaledb_version
        assert _catalog(target) == catalog
        assert current(target_settings) == current(source_settings)
        check(target_settings)
        assert _every_read(target, series) == before
        # The imported database takes new work like the source did.
        ingest(target, "macro", [macro(series[0], utc(2030), utc(2030, 2), 1.0)])
        with pytest.raises(NativeServiceError, match="already has schema mp"):
            import_database(target_settings, dump.path, superuser=superuser)
        mp_scenario_metrics.update(
            dump_bytes=dump.bytes,
            rows_verified=len(before["vintages"]),
            hypertables=len(catalog),
            lost_rows=0,
            duplicate_rows=0,
        )
    finally:
        source.dispose()
        target.dispose()
        target_server.destroy()
