"""Warehouse connections (instance-level data sources), per-project scan configs, and preview jobs."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tripl_core.db.base import Base, Timestamps, UUIDPk
from tripl_core.db.models.auth import pg_enum
from tripl_core.warehouse.base import DBType, ScanInterval


class PreviewStatus(enum.StrEnum):
    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class DataSource(UUIDPk, Timestamps, Base):
    """A warehouse connection shared by every project. Secrets are Fernet-encrypted (tripl_core.secrets)."""

    __tablename__ = "data_sources"

    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    db_type: Mapped[DBType] = mapped_column(pg_enum(DBType, "data_source_db_type"), nullable=False)
    host: Mapped[str] = mapped_column(String(500), nullable=False)
    port: Mapped[int] = mapped_column(Integer, nullable=False, default=8123, server_default="8123")
    database_name: Mapped[str] = mapped_column(String(255), nullable=False)
    username: Mapped[str] = mapped_column(String(255), nullable=False, default="", server_default="")
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    timeout_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=30, server_default="30")
    # Non-secret extra parameters as given; secret ones (credentials_json, tokens…) live encrypted apart.
    extra_params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict,
                                                         server_default="{}")
    extra_secrets_encrypted: Mapped[str | None] = mapped_column(Text)
    last_test_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_test_status: Mapped[str | None] = mapped_column(String(16))
    last_test_message: Mapped[str | None] = mapped_column(Text)


class ScanConfig(UUIDPk, Timestamps, Base):
    """What to read from a warehouse for one project and how to bucket it. See docs/warehouses.md."""

    __tablename__ = "scan_configs"

    project_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # RESTRICT: a data source in use cannot be deleted (the API answers 409 first).
    data_source_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("data_sources.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    event_type_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("event_types.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    base_query: Mapped[str] = mapped_column(Text, nullable=False)
    event_type_column: Mapped[str | None] = mapped_column(String(255))
    time_column: Mapped[str | None] = mapped_column(String(255))
    event_name_format: Mapped[str | None] = mapped_column(String(1000))
    json_value_paths: Mapped[list[str]] = mapped_column(JSONB, nullable=False, default=list, server_default="[]")
    event_group_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, default=list,
                                                                    server_default="[]")
    metric_breakdown_columns: Mapped[list[str]] = mapped_column(JSONB, nullable=False, default=list,
                                                                server_default="[]")
    metric_breakdown_values_limit: Mapped[int | None] = mapped_column(Integer)
    distribution_drift_fields: Mapped[list[str]] = mapped_column(JSONB, nullable=False, default=list,
                                                                 server_default="[]")
    cardinality_threshold: Mapped[int] = mapped_column(Integer, nullable=False, default=100, server_default="100")
    interval: Mapped[ScanInterval] = mapped_column(pg_enum(ScanInterval, "scan_interval"), nullable=False,
                                                   default=ScanInterval.m15, server_default="15m")
    replay_chunk_interval: Mapped[ScanInterval] = mapped_column(
        pg_enum(ScanInterval, "scan_interval"), nullable=False, default=ScanInterval.h1, server_default="1h")
    scan_lookback_hours: Mapped[int | None] = mapped_column(Integer)
    scan_row_limit: Mapped[int | None] = mapped_column(Integer)
    metrics_row_limit: Mapped[int | None] = mapped_column(Integer)
    app_version_column: Mapped[str | None] = mapped_column(String(255))
    app_version_keep_releases: Mapped[int | None] = mapped_column(Integer)
    # Result of the zero-row probe at the last create/update: verified | unverified (source unreachable).
    verification_status: Mapped[str] = mapped_column(String(16), nullable=False, default="unverified",
                                                     server_default="unverified")
    verification_message: Mapped[str | None] = mapped_column(Text)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Output columns and types of the base query as last probed: [{"name": …, "type": …}].
    probed_columns: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)

    data_source: Mapped[DataSource] = relationship(lazy="joined")


class ScanPreviewJob(UUIDPk, Timestamps, Base):
    """A preview of a base query, run by the API's worker pool; the request is kept for the worker."""

    __tablename__ = "scan_preview_jobs"

    project_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True
    )
    data_source_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("data_sources.id", ondelete="CASCADE"), nullable=False, index=True
    )
    requested_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[PreviewStatus] = mapped_column(pg_enum(PreviewStatus, "scan_preview_status"), nullable=False,
                                                  default=PreviewStatus.pending, server_default="pending")
    request: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result_summary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error_message: Mapped[str | None] = mapped_column(Text)
