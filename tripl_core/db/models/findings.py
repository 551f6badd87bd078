"""Findings written by scans: anomaly signals, schema drifts, distribution drifts, release regressions and
shadow-event candidates. Alert dispatch matches rules on these rows; the findings API serves them.

Ids are deterministic (uuid5 of the natural key, see `tripl_core.scanning.store.finding_id`) and rows are
upserted on their natural key, so replaying a range updates the same finding instead of creating a new one (and
alert deliveries keyed by finding × rule are not repeated). See docs/pipelines.md.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tripl_core.db.base import Base, Timestamps
from tripl_core.db.models.auth import pg_enum
from tripl_core.db.models.metrics import ScopeType


def _project_fk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False,
                         index=True)


def _config_fk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("scan_configs.id", ondelete="CASCADE"), nullable=False)


class SignalStatus(enum.StrEnum):
    open = "open"  # the scope's latest scored bucket is still anomalous
    closed = "closed"  # the incident ended (a later bucket was normal again)


class AnomalySignal(Timestamps, Base):
    """One volume incident: consecutive anomalous buckets of one scope in the same direction."""

    __tablename__ = "anomaly_signals"
    __table_args__ = (
        Index("uq_anomaly_signals_key", "scan_config_id", "scope_type", "scope_ref", "since", unique=True,
              postgresql_nulls_not_distinct=True),
        Index("ix_anomaly_signals_project_status", "project_id", "status", "bucket"),
        Index("ix_anomaly_signals_scope", "scope_type", "scope_ref", "bucket"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    scan_config_id: Mapped[uuid.UUID] = _config_fk()
    scope_type: Mapped[ScopeType] = mapped_column(pg_enum(ScopeType, "metric_scope_type"), nullable=False)
    scope_ref: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    event_type_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))  # of the event / event type
    status: Mapped[SignalStatus] = mapped_column(pg_enum(SignalStatus, "anomaly_signal_status"), nullable=False)
    direction: Mapped[str] = mapped_column(String(8), nullable=False)  # spike | drop
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)  # first anomalous bucket
    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)  # latest anomalous bucket
    bucket_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=1)  # anomalous buckets
    actual: Mapped[float] = mapped_column(Float, nullable=False)  # of the latest anomalous bucket
    expected: Mapped[float] = mapped_column(Float, nullable=False)
    lower: Mapped[float | None] = mapped_column(Float)
    upper: Mapped[float | None] = mapped_column(Float)
    z: Mapped[float] = mapped_column(Float, nullable=False)
    peak_z: Mapped[float] = mapped_column(Float, nullable=False)  # largest |z| of the incident, signed
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # first normal bucket after
    # Band of the next buckets after the newest scored one: [{"bucket", "expected", "lower", "upper"}].
    forecast: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, default=list,
                                                           server_default="[]")


class DriftStatus(enum.StrEnum):
    open = "open"
    accepted = "accepted"
    snoozed = "snoozed"
    false_positive = "false_positive"
    resolved = "resolved"


class DriftType(enum.StrEnum):
    """Names as in `tripl_core.detection.schema` (which classifies them)."""

    new_field = "new_field"  # a field observed in the warehouse that the event type does not declare
    missing_required_field = "missing_required_field"  # declared required, present in no row
    type_mismatch = "type_mismatch"  # observed type not admitted by the declared field type
    enum_value_outside_options = "enum_value_outside_options"  # values outside the declared enum options
    null_rate_breach = "null_rate_breach"  # null rate above contract_required_max_null_rate
    bad_rate_breach = "bad_rate_breach"  # regex/min/max breaches above contract_max_bad_rate


class SchemaDrift(Timestamps, Base):
    """One schema drift of an event type's field. Unique per (event type, field, drift type): re-detection
    updates it, and only `resolved` (or an expired snooze) reopens it; accepted / false_positive stay closed."""

    __tablename__ = "schema_drifts"
    __table_args__ = (
        Index("uq_schema_drifts_key", "event_type_id", "field_name", "drift_type", unique=True),
        Index("ix_schema_drifts_project_status", "project_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    scan_config_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("scan_configs.id", ondelete="SET NULL"))
    event_type_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("event_types.id", ondelete="CASCADE"), nullable=False)
    field_name: Mapped[str] = mapped_column(String(500), nullable=False)
    drift_type: Mapped[DriftType] = mapped_column(pg_enum(DriftType, "schema_drift_type"), nullable=False)
    observed_type: Mapped[str | None] = mapped_column(String(32))
    declared_type: Mapped[str | None] = mapped_column(String(32))
    sample_value: Mapped[str | None] = mapped_column(Text)
    # Rates and counts behind the verdict: {"rows", "bad", "rate", "limit", "values": [...]}.
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    status: Mapped[DriftStatus] = mapped_column(pg_enum(DriftStatus, "schema_drift_status"), nullable=False,
                                                default=DriftStatus.open, server_default="open")
    resolution_note: Mapped[str | None] = mapped_column(Text)
    snoozed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"))
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)  # first bucket seen
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)  # last bucket seen
    reopened_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")


class DistributionDrift(Timestamps, Base):
    """A field's value distribution on one day vs the baseline days before it (see docs/pipelines.md)."""

    __tablename__ = "distribution_drifts"
    __table_args__ = (
        Index("uq_distribution_drifts_key", "scan_config_id", "scope_type", "scope_ref", "field", "window_start",
              unique=True, postgresql_nulls_not_distinct=True),
        Index("ix_distribution_drifts_scope", "scope_type", "scope_ref", "window_start"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    scan_config_id: Mapped[uuid.UUID] = _config_fk()
    scope_type: Mapped[ScopeType] = mapped_column(pg_enum(ScopeType, "metric_scope_type"), nullable=False)
    scope_ref: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    event_type_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    field: Mapped[str] = mapped_column(String(500), nullable=False)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    baseline_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    baseline_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    current_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    baseline_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    chi2_p_value: Mapped[float | None] = mapped_column(Float)
    js_distance: Mapped[float | None] = mapped_column(Float)
    psi: Mapped[float | None] = mapped_column(Float)
    is_drift: Mapped[bool] = mapped_column(Boolean, nullable=False)
    edges: Mapped[list[float]] = mapped_column(JSONB, nullable=False)
    current_hist: Mapped[list[int]] = mapped_column(JSONB, nullable=False)
    baseline_hist: Mapped[list[int]] = mapped_column(JSONB, nullable=False)


class ReleaseRegression(Timestamps, Base):
    """An event whose share of volume in a new release fell (or rose) versus earlier releases."""

    __tablename__ = "release_regressions"
    __table_args__ = (
        Index("uq_release_regressions_key", "scan_config_id", "scope_type", "scope_ref", "app_version",
              unique=True, postgresql_nulls_not_distinct=True),
        Index("ix_release_regressions_project", "project_id", "detected_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    scan_config_id: Mapped[uuid.UUID] = _config_fk()
    scope_type: Mapped[ScopeType] = mapped_column(pg_enum(ScopeType, "metric_scope_type"), nullable=False)
    scope_ref: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    event_type_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    app_version: Mapped[str] = mapped_column(Text, nullable=False)  # the new release
    baseline_versions: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    release_count: Mapped[int] = mapped_column(BigInteger, nullable=False)  # event rows in the new release
    release_total: Mapped[int] = mapped_column(BigInteger, nullable=False)  # all rows in the new release
    baseline_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    baseline_total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    release_share: Mapped[float] = mapped_column(Float, nullable=False)
    baseline_share: Mapped[float] = mapped_column(Float, nullable=False)
    ratio: Mapped[float] = mapped_column(Float, nullable=False)  # release_share / baseline_share
    expected_count: Mapped[float] = mapped_column(Float, nullable=False)  # baseline_share × release_total
    z: Mapped[float] = mapped_column(Float, nullable=False)
    direction: Mapped[str] = mapped_column(String(8), nullable=False)  # drop | spike
    is_regression: Mapped[bool] = mapped_column(Boolean, nullable=False)
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)  # window end


class ShadowStatus(enum.StrEnum):
    new = "new"
    accepted = "accepted"
    dismissed = "dismissed"


class ShadowEventCandidate(Timestamps, Base):
    """A name observed in the warehouse that matches no plan event (status new until accepted or dismissed)."""

    __tablename__ = "shadow_event_candidates"
    __table_args__ = (
        Index("uq_shadow_event_candidates_key", "project_id", "event_type_value", "name", unique=True,
              postgresql_nulls_not_distinct=True),
        Index("ix_shadow_event_candidates_status", "project_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    scan_config_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("scan_configs.id", ondelete="SET NULL"))
    event_type_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("event_types.id", ondelete="SET NULL"))
    event_type_value: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    total_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Fields seen on rows of this name in the samples: {"field": "observed type"}.
    sample_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict,
                                                          server_default="{}")
    status: Mapped[ShadowStatus] = mapped_column(pg_enum(ShadowStatus, "shadow_event_status"), nullable=False,
                                                 default=ShadowStatus.new, server_default="new")
    event_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id", ondelete="SET NULL"))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="true")
