"""Scan jobs (API-enqueued work for the pipelines), per-config scan state, and per-project anomaly settings.

The API only inserts `scan_jobs` rows; Dagster's queue sensor (or the in-process runner) executes them and
writes status, timings and results back. See docs/pipelines.md.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tripl_core.db.base import Base, Timestamps, UUIDPk
from tripl_core.db.models.auth import pg_enum
from tripl_core.detection.config import PROJECT_DEFAULTS as VOLUME_DEFAULTS


class ScanJobKind(enum.StrEnum):
    run = "run"  # incremental scan from the watermark minus scan_lookback_hours
    replay = "replay"  # recompute whole days over [time_from, time_to)
    apply_event_groups = "apply_event_groups"  # create plan events from observed groups


class ScanJobStatus(enum.StrEnum):
    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (ScanJobStatus.succeeded, ScanJobStatus.failed, ScanJobStatus.cancelled)


class ScanJob(UUIDPk, Timestamps, Base):
    """One request to scan: Run Scan, Replay Scan Metrics, Apply Scan Event Groups, or a scheduled run."""

    __tablename__ = "scan_jobs"
    __table_args__ = (
        Index("ix_scan_jobs_config_created", "scan_config_id", "created_at"),
        Index("ix_scan_jobs_status", "status"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True
    )
    scan_config_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("scan_configs.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[ScanJobKind] = mapped_column(pg_enum(ScanJobKind, "scan_job_kind"), nullable=False)
    status: Mapped[ScanJobStatus] = mapped_column(
        pg_enum(ScanJobStatus, "scan_job_status"), nullable=False, default=ScanJobStatus.pending,
        server_default="pending",
    )
    # Requested window (replay: whole days covering it are recomputed; run: filled in when planned).
    time_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    time_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    requested_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    # "api", "schedule" or "inprocess": who created/executes it (for the run-status sensor and docs).
    trigger: Mapped[str] = mapped_column(String(16), nullable=False, default="api", server_default="api")
    # Dagster run ids launched for this job (one per partition / chunk range); empty for in-process runs.
    dagster_run_ids: Mapped[list[str]] = mapped_column(JSONB, nullable=False, default=list, server_default="[]")
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result_summary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error_message: Mapped[str | None] = mapped_column(Text)


class ScanState(Base):
    """Per scan config: how far data has been scanned (the incremental watermark) and when it last ran."""

    __tablename__ = "scan_states"

    scan_config_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("scan_configs.id", ondelete="CASCADE"), primary_key=True
    )
    # End (exclusive) of the newest bucket written by a scheduled or manual run.
    watermark: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # Histogram edges per distribution drift field, frozen at first sight so windows stay comparable.
    histogram_edges: Mapped[dict[str, list[float]]] = mapped_column(JSONB, nullable=False, default=dict,
                                                                    server_default="{}")


class ScanStage(Base):
    """Output of the `warehouse_aggregates` step for one window, handed to the later steps through Postgres.

    One row per (scan config, window start, frame): the frame (counts, breakdowns, app_versions, fields,
    histograms, samples) as Parquet. Replaced whenever the window is aggregated again.
    """

    __tablename__ = "scan_stages"

    scan_config_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("scan_configs.id", ondelete="CASCADE"), primary_key=True
    )
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    frame: Mapped[str] = mapped_column(String(32), primary_key=True)
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    rows: Mapped[int] = mapped_column(BigInteger, nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class ProjectAnomalySettings(UUIDPk, Timestamps, Base):
    """Volume-anomaly settings of one project (reference: anomaly-settings). Defaults = detection.config."""

    __tablename__ = "project_anomaly_settings"

    project_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    anomaly_detection_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True,
                                                            server_default="true")
    detect_project_total: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True,
                                                       server_default="true")
    detect_event_types: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="true")
    detect_events: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="true")
    baseline_window_buckets: Mapped[int] = mapped_column(
        Integer, nullable=False, default=VOLUME_DEFAULTS.baseline_window_buckets,
        server_default=str(VOLUME_DEFAULTS.baseline_window_buckets))
    min_history_buckets: Mapped[int] = mapped_column(
        Integer, nullable=False, default=VOLUME_DEFAULTS.min_history_buckets,
        server_default=str(VOLUME_DEFAULTS.min_history_buckets))
    sigma_threshold: Mapped[float] = mapped_column(
        Float, nullable=False, default=VOLUME_DEFAULTS.sigma_threshold,
        server_default=f"{VOLUME_DEFAULTS.sigma_threshold:g}")
    min_expected_count: Mapped[int] = mapped_column(
        Integer, nullable=False, default=int(VOLUME_DEFAULTS.min_expected_count),
        server_default=str(int(VOLUME_DEFAULTS.min_expected_count)))
