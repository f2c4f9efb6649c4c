"""What makes each fact table special, in one place next to its model.

``Table.info["fact"]`` holds a :class:`FactSpec`. The migrations read the hypertable settings
(chunk interval, compression) from it, and mp-db reads the key and value columns to build its
ingest and point-in-time SQL, so every table follows the same rules without hand-written copies.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table

from mp_schema.enums import SeriesKind

__all__ = ["FactSpec", "fact_spec"]


@dataclass(frozen=True, slots=True)
class FactSpec:
    """The point-in-time shape of one fact hypertable.

    Attributes:
        kind: the series kind whose observations live here.
        entity_columns: key parts between ``obs_time`` and ``knowledge_time`` (tenor, category,
            instrument); empty for most tables.
        value_columns: columns compared to decide whether a new vintage really changed anything
            (an unchanged re-publication inserts nothing).
        knowledge_after_obs: enforce ``knowledge_time >= obs_time`` (not for the release
            calendar, where consensus is known before the period).
        dated: ``obs_time`` must be 00:00 UTC (daily-or-slower data).
        chunk_interval: TimescaleDB chunk interval, a PostgreSQL interval literal.
        compress_after: age after which chunks are compressed (TSL builds only, once the
            operator enables compression for the table; see ``mp-schema compression``). Chosen
            per table from how long its data keeps being revised: writing into compressed
            chunks is several times slower and has had bugs.
        compress_order_by: compression ``orderby``; ``segmentby`` is always ``series_id``.
    """

    kind: SeriesKind
    value_columns: tuple[str, ...]
    entity_columns: tuple[str, ...] = ()
    knowledge_after_obs: bool = True
    dated: bool = True
    chunk_interval: str = "1 year"
    compress_after: str = "730 days"

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The primary key: series, period, entity parts, knowledge time."""
        return ("series_id", "obs_time", *self.entity_columns, "knowledge_time")

    @property
    def observation_columns(self) -> tuple[str, ...]:
        """What identifies one observation across its vintages (the key minus knowledge_time)."""
        return ("series_id", "obs_time", *self.entity_columns)

    @property
    def compress_segment_by(self) -> str:
        """Compression ``segmentby``: uniform across tables."""
        return "series_id"

    @property
    def compress_order_by(self) -> str:
        """Compression ``orderby``: the as-of read order."""
        entities = "".join(f"{column}, " for column in self.entity_columns)
        return f"obs_time DESC, {entities}knowledge_time DESC"


def fact_spec(table: Table) -> FactSpec:
    """The :class:`FactSpec` of a fact table.

    Raises:
        KeyError: ``table`` is not a fact table.
    """
    spec = table.info["fact"]
    assert isinstance(spec, FactSpec)
    return spec
