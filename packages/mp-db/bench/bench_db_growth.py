"""Growth of the mp-db benchmark: ingest time and as-of latency from 0.1M to 10M rows.

The table grows by adding series of the same shape (5 years of business days, two vintages,
both stored), so the per-series reads ask the same question at every size and any change in
their latency comes from the table's size alone. Each size starts from an empty table, is
loaded by raw COPY and then (after emptying again) by mp-db, and is read from mp's load.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bench_db_common import Context, log, ratio
from bench_db_data import DataSet, business_days, create_series
from bench_db_ingest import timed_parts
from bench_db_reads import as_of_shape, latest_shape, measure_shape

__all__ = ["GROWTH_BUDGET_SECONDS", "growth"]

GROWTH_YEARS = 5
GROWTH_VINTAGES = 2
#: Rows per ingest call (mp refuses batches over 5M; memory stays bounded).
PART_ROWS = 1_000_000
#: The whole growth section should fit in about 25 minutes on this kind of machine; a size
#: whose extrapolated cost would pass this is skipped and recorded as such.
GROWTH_BUDGET_SECONDS = 25 * 60
#: Reads at every size ask about this many series.
READ_SERIES = 20


def _point_reads(context: Context, data: DataSet, plans: list[str]) -> dict[str, Any]:
    ids = data.series_ids
    repeats = context.sizes.growth_repeats
    shapes = [
        as_of_shape("as_of_1_series_1_year", "one series, one year", ids[:1], True, repeats),
        latest_shape(f"latest_{READ_SERIES}_series", "latest print", ids[:READ_SERIES], repeats),
    ]
    with context.engine.connect() as connection:
        return {shape.name: measure_shape(context, connection, shape, plans) for shape in shapes}


def _point(context: Context, data: DataSet, plans: list[str]) -> dict[str, Any]:
    parts = data.split(PART_ROWS)
    raw = timed_parts(context, parts, "raw_copy_psycopg")
    log(f"growth {data.rows:,}: raw COPY {raw['seconds']:.1f} s")
    mp = timed_parts(context, parts, "mp_ingest_sync")
    log(f"growth {data.rows:,}: mp ingest {mp['seconds']:.1f} s")
    context.analyze()
    reads = _point_reads(context, data, plans)
    return {
        "rows": data.rows,
        "series": len(data.series_ids),
        "table_rows": context.stored_rows(),
        "ingest": {"raw_copy_psycopg": raw, "mp_ingest_sync": mp},
        "mp_throughput_vs_raw_copy": ratio(raw["seconds"], mp["seconds"]),
        "reads": reads,
    }


def _scaling(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """From the smallest to the largest size: how seconds per row of ingest changed (1.0 is
    linear) and how read latency changed (1.0 is flat)."""
    if len(points) < 2:
        return {}
    first, last = points[0], points[-1]
    ingest = {
        path: ratio(
            last["ingest"][path]["seconds"] / last["rows"],
            first["ingest"][path]["seconds"] / first["rows"],
        )
        for path in first["ingest"]
    }
    reads = {
        f"{shape}/{variant}": ratio(
            last["reads"][shape]["timings"][variant]["median_seconds"],
            first["reads"][shape]["timings"][variant]["median_seconds"],
        )
        for shape in first["reads"]
        for variant in first["reads"][shape]["timings"]
    }
    return {
        "rows_from": first["rows"],
        "rows_to": last["rows"],
        "ingest_seconds_per_row_factor": ingest,
        "read_latency_factor": reads,
    }


def growth(context: Context, millions: Sequence[float], plans: list[str]) -> dict[str, Any]:
    """Section 3: one point per size, smallest first; sizes that would not fit the time
    budget (extrapolated linearly from the previous point) are skipped and recorded."""
    days = tuple(business_days(GROWTH_YEARS))
    per_series = len(days) * GROWTH_VINTAGES
    # At least READ_SERIES series, so every size answers the same 20-series question.
    counts = [max(READ_SERIES, round(size * 1_000_000 / per_series)) for size in millions]
    ids = create_series(context.engine, "GROWTH", max(counts))
    points: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    started = time.perf_counter()
    seconds_per_row: float | None = None
    for size, count in zip(millions, counts, strict=True):
        data = DataSet(ids[:count], days, GROWTH_VINTAGES, always_revise=True)
        spent = time.perf_counter() - started
        estimate = None if seconds_per_row is None else seconds_per_row * data.rows
        if estimate is not None and spent + estimate > GROWTH_BUDGET_SECONDS:
            log(f"growth {data.rows:,}: skipped (about {estimate:.0f} s would pass the budget)")
            skipped.append({"millions": size, "rows": data.rows, "estimated_seconds": estimate})
            continue
        point_started = time.perf_counter()
        point = _point(context, data, plans)
        point["millions"] = size
        point["wall_seconds"] = time.perf_counter() - point_started
        seconds_per_row = point["wall_seconds"] / data.rows
        points.append(point)
    return {
        "scaling": _scaling(points),
        "shape": {
            "years": GROWTH_YEARS,
            "business_days": len(days),
            "vintages": GROWTH_VINTAGES,
            "rows_per_series": per_series,
            "rows_per_ingest_call": PART_ROWS,
        },
        "budget_seconds": GROWTH_BUDGET_SECONDS,
        "points": points,
        "skipped": skipped,
    }
