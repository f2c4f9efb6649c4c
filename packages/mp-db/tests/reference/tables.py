"""The seven fact tables as the contract describes them, written out by hand.

Deliberately not read from mp_schema: a description copied from the implementation would agree
with it by construction. ``test_reference_tables.py`` checks once that the two still match.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TABLES", "TableShape"]


@dataclass(frozen=True)
class TableShape:
    """What the contract needs to know about one fact table.

    Attributes:
        name: the table's name.
        kind: the series kind whose observations it holds.
        entities: key parts between obs_time and knowledge_time.
        values: the value columns (compared to decide what is a change).
        knowledge_after_obs: ``knowledge_time >= obs_time`` is enforced.
        dated: ``obs_time`` must be 00:00 UTC.
    """

    name: str
    kind: str
    entities: tuple[str, ...]
    values: tuple[str, ...]
    knowledge_after_obs: bool = True
    dated: bool = True


TABLES: dict[str, TableShape] = {
    shape.name: shape
    for shape in (
        TableShape("macro_observations", "macro", (), ("value",)),
        TableShape(
            "market_bars",
            "market_bar",
            (),
            ("open", "high", "low", "close", "settle", "volume", "open_interest"),
        ),
        TableShape("curve_points", "curve", ("tenor",), ("value",)),
        TableShape("rate_fixings", "rate_fixing", (), ("value",)),
        TableShape(
            "release_calendar",
            "release",
            (),
            ("scheduled_at", "status", "consensus", "actual", "prior"),
            knowledge_after_obs=False,
        ),
        TableShape(
            "positioning_flows",
            "positioning",
            ("category",),
            ("long_positions", "short_positions", "spread_positions", "value"),
        ),
        TableShape("signal_values", "signal", ("instrument_id",), ("value",), dated=False),
    )
}
