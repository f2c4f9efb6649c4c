"""Commitments of Traders: positions as of Tuesday, public the Friday after at 15:30 New York.

Each market is an instrument (a future) with one weekly ``positioning`` series; each row of
``mp.positioning_flows`` is one trader category of one report. A federal holiday in the week
delays the release by a business day (4 July 2024, a Thursday, moved that week's report to
Monday 8 July): the release is the third US business day after the report's Tuesday.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, date, datetime, time
from importlib import resources
from typing import Any

from mp_db import (
    Database,
    HolidayCalendar,
    IngestReport,
    InstrumentSpec,
    PositioningFlowRow,
    SeriesSpec,
    SourceSpec,
    add_business_days,
    series_knowledge_time,
)

__all__ = ["INSTRUMENTS", "SERIES", "SOURCE", "Positioning", "read_reports", "release"]

SOURCE = SourceSpec(
    code="cftc_example",
    name="CFTC Commitments of Traders (illustrative example data)",
    source_type="regulator",
    vintage_capability="not_revised",
    timezone="America/New_York",
)
INSTRUMENTS = {
    "ES": InstrumentSpec(
        symbol="ES", exchange_mic="XCME", asset_class="equity", instrument_type="future"
    ),
    "ZN": InstrumentSpec(
        symbol="ZN", exchange_mic="XCBT", asset_class="rates", instrument_type="future"
    ),
}
SERIES = {
    market: SeriesSpec(
        source=SOURCE.code,
        source_code=f"COT_{market}",
        kind="positioning",
        name=f"Commitments of Traders: {market} futures",
        frequency="weekly",
        release_time=time(15, 30),
        release_timezone="America/New_York",
    )
    for market in INSTRUMENTS
}
FEDERAL = HolidayCalendar("US")


def release(report_date: date) -> date:
    """The local release date of the report as of ``report_date`` (a Tuesday)."""
    return add_business_days(report_date, 3, FEDERAL)


def read_reports() -> list[dict[str, str]]:
    """The shipped reports (illustrative values), one dict per market, date and category."""
    text = resources.files("cot_example").joinpath("data", "cot.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


class Positioning:
    """Registers the markets and loads their reports; reads net positions as of any time."""

    def __init__(self, database: Database) -> None:
        self.database = database
        catalog = database.catalog
        catalog.ensure_sources([SOURCE])
        instrument_ids = catalog.ensure_instruments(INSTRUMENTS.values())
        specs = [
            replace(SERIES[market], instrument_id=instrument_id)
            for market, instrument_id in zip(INSTRUMENTS, instrument_ids, strict=True)
        ]
        catalog.ensure_series(specs)
        self.series = catalog.series(SOURCE.code, [spec.source_code for spec in specs])

    def sync(self, reports: list[dict[str, str]] | None = None) -> IngestReport:
        """Ingest the reports (the shipped ones by default); safe to run again."""
        rows: list[dict[str, Any]] = []
        for report in read_reports() if reports is None else reports:
            series = self.series[f"COT_{report['market']}"]
            as_of_tuesday = date.fromisoformat(report["report_date"])
            rows.append(
                {
                    "series_id": series.series_id,
                    "obs_time": datetime.combine(as_of_tuesday, time(0), tzinfo=UTC),
                    "category": report["category"],
                    "knowledge_time": series_knowledge_time(series, release(as_of_tuesday)),
                    "long_positions": float(report["long"]),
                    "short_positions": float(report["short"]),
                    "spread_positions": float(report["spread"]),
                    "knowledge_time_source": "vendor",
                }
            )
        return self.database.ingest("positioning_flows", rows)

    def net_speculative(self, market: str, *, as_of: datetime) -> dict[date, float]:
        """Non-commercial long minus short for each report public at ``as_of``."""
        rows = self.database.reader.as_of(
            PositioningFlowRow, self.series[f"COT_{market}"].series_id, as_of=as_of
        )
        return {
            row.obs_time.date(): (row.long_positions or 0.0) - (row.short_positions or 0.0)
            for row in rows
            if row.category == "noncommercial"
        }
