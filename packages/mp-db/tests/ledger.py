"""The ledger check shared by the nothing-lost scenarios: numbered batches of a series, what
writers were told about each, and how many copies of each the database holds."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from conftest import days, macro, utc
from sqlalchemy import Engine, text

__all__ = ["BATCH_ROWS", "Ledger", "batch_rows", "count_batch", "create_writer_series"]

BATCH_ROWS = 400


@dataclass
class Ledger:
    """What writers were told: batches acknowledged, and batches whose fate is unknown.

    ``windows`` holds, per batch, the wall-clock times (``time.time()``) just before the ingest
    call and just after its acknowledgement: a batch acknowledged before a recovery target
    must survive a restore to it; one sent after the target must not.
    """

    acknowledged: list[tuple[int, int]] = field(default_factory=list)
    ambiguous: list[tuple[int, int]] = field(default_factory=list)
    windows: dict[tuple[int, int], tuple[float, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, batch: tuple[int, int], ok: bool, started: float | None = None) -> None:
        with self.lock:
            (self.acknowledged if ok else self.ambiguous).append(batch)
            if started is not None:
                self.windows[batch] = (started, time.time())


def batch_rows(series_id: int, number: int) -> list[dict[str, Any]]:
    """Batch ``number`` of a series: BATCH_ROWS daily observations no other batch touches."""
    base = utc(1980, 1, 1) + days(number * BATCH_ROWS)
    return [
        macro(series_id, base + days(n), base + days(n + 1), float(number * 1000 + n))
        for n in range(BATCH_ROWS)
    ]


def count_batch(engine: Engine, series_id: int, number: int) -> tuple[int, int]:
    """(rows stored, duplicate rows) of one batch."""
    base = utc(1980, 1, 1) + days(number * BATCH_ROWS)
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT count(*), count(*) - count(DISTINCT (obs_time, knowledge_time))"
                " FROM mp.macro_observations WHERE series_id = :series"
                " AND obs_time >= :low AND obs_time < :high"
            ),
            {"series": series_id, "low": base, "high": base + days(BATCH_ROWS)},
        ).one()
    return int(row[0]), int(row[1])


def create_writer_series(engine: Engine, code: str, count: int) -> list[int]:
    """``count`` daily macro series ``<code>0``, ``<code>1``... (one per writer) under a data
    source of their own."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO mp.data_sources (code, name, source_type, vintage_capability)"
                " VALUES (:code, :name, 'vendor', 'full')"
            ),
            {"code": f"writers_{code.lower()}", "name": f"writers {code}"},
        )
        return [
            int(
                connection.execute(
                    text(
                        "INSERT INTO mp.series (source_id, source_code, kind, name, frequency)"
                        " SELECT source_id, :series, 'macro', 'l', 'daily' FROM mp.data_sources"
                        " WHERE code = :code RETURNING series_id"
                    ),
                    {"code": f"writers_{code.lower()}", "series": f"{code}{n}"},
                ).scalar_one()
            )
            for n in range(count)
        ]
