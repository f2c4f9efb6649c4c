"""Bookkeeping beside the data model (like ``alembic_version``, not part of it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from mp_schema.models._base import Base

__all__ = ["IngestLog", "TimescaleFeature"]


class IngestLog(Base):
    """One row per ingest transaction: the link between fact rows and the commit that stored
    them, which makes strict replay exact.

    Every fact row carries the ``ingest_id`` of the ingest that wrote it (mp's ingest passes it;
    any other INSERT gets one from ``mp.current_ingest_id()``, the column's default). When the
    transaction commits, a deferred trigger gives its log rows a ``commit_seq`` under one
    advisory lock held until the commit is visible, so ``commit_seq`` order is commit order.
    A replay cutoff is then a (commit_seq, ingest_id) pair (see mp-db's ``Cutoff``).
    """

    __tablename__ = "ingest_log"
    __table_args__ = (
        CheckConstraint("writer IN ('mp', 'sql')", name="writer_enum"),
        Index("ix_ingest_log_commit_seq", "commit_seq", unique=True),
        Index("ix_ingest_log_committed_at", "committed_at"),
    )

    ingest_id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    #: ``mp`` for mp's ingest, ``sql`` for rows written by other means.
    writer: Mapped[str] = mapped_column(String(8), server_default=text("'sql'::character varying"))
    fact_table: Mapped[str | None] = mapped_column(String(63))
    #: The series the ingest wrote (NULL when unknown: a plain INSERT).
    series_ids: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    commit_seq: Mapped[int | None] = mapped_column(BigInteger)
    committed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TimescaleFeature(Base):
    """License-dependent TimescaleDB features per table, and where each one stands.

    Compression is ``deferred`` on an Apache-2 build (the reason says why); ``mp-schema
    apply-timescale-features`` creates settings and policy once the license allows, and the
    table is then ``backfilling`` (policy unscheduled) until the operator runs ``mp-schema
    compression enable`` (``enabled``); ``mp-schema compression pause`` makes it ``paused``.
    """

    __tablename__ = "timescale_features"
    __table_args__ = (
        CheckConstraint(
            "status IN ('deferred', 'backfilling', 'enabled', 'paused')", name="status_enum"
        ),
    )

    table_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    feature: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
