"""Bookkeeping beside the data model (like ``alembic_version``, not part of it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from mp_schema.models._base import Base

__all__ = ["TimescaleFeature"]


class TimescaleFeature(Base):
    """License-dependent TimescaleDB features per table: applied, or deferred and why.

    On an Apache-2 build the migrations record compression as deferred here; ``mp-schema
    apply-timescale-features`` applies what is deferred once the server's license allows.
    """

    __tablename__ = "timescale_features"
    __table_args__ = (CheckConstraint("status IN ('applied', 'deferred')", name="status_enum"),)

    table_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    feature: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
