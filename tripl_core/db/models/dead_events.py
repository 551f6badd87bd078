"""Dead-event findings: a planned event that was regular and has been silent far longer than its usual gap.

One row per (scan config, event), id `uuid5("dead", config, event)`; `status` open while the event stays silent,
closed once it sends again. Written by the scans (`tripl_core.scanning.deadness`), read by List Dead Events and
alert dispatch (kind `dead_event`). Migration `0012_scantrust_dead_events`; see docs/findings.md.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from tripl_core.db.base import Base, Timestamps


class DeadEvent(Timestamps, Base):
    __tablename__ = "dead_events"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"),
                                                  nullable=False, index=True)
    scan_config_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True),
                                                      ForeignKey("scan_configs.id", ondelete="CASCADE"),
                                                      nullable=False)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE"),
                                                nullable=False, index=True)
    event_type_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(8), nullable=False)  # open | closed
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)  # end of last volume
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)  # silence crossed limit
    observed_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)  # newest scanned
    usual_gap_seconds: Mapped[float] = mapped_column(Float, nullable=False)  # longest gap while it was regular
    silent_seconds: Mapped[float] = mapped_column(Float, nullable=False)  # observed_until − last_seen_at
    active_buckets: Mapped[int] = mapped_column(Integer, nullable=False)  # buckets with volume in the history
    typical_count: Mapped[float] = mapped_column(Float, nullable=False)  # mean count of those buckets
