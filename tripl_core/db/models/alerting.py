"""Alerting: destinations, rules, the per finding × rule match ledger, deliveries and their items, inbox
correlation groups and false-positive feedback. See docs/alerting.md.

`alert_matches` is the effectively-once key: one row per (rule, finding occurrence), inserted in the same
transaction as the delivery that carries it, so a crash or a second sensor tick can neither lose nor repeat it.
Deliveries keep the names of their rule, destination and scan (deleting those keeps the history readable).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tripl_core.db.base import Base, CreatedAt, Timestamps, UUIDPk
from tripl_core.db.models.auth import pg_enum


class DestinationType(enum.StrEnum):
    slack = "slack"
    telegram = "telegram"
    webhook = "webhook"
    email = "email"
    jira = "jira"
    linear = "linear"


class AlertMessageFormat(enum.StrEnum):
    plain = "plain"
    slack_mrkdwn = "slack_mrkdwn"
    telegram_html = "telegram_html"
    telegram_markdownv2 = "telegram_markdownv2"


class DeliveryStatus(enum.StrEnum):
    pending = "pending"  # written, not sent yet (or waiting for its next retry: see next_attempt_at)
    sent = "sent"
    failed = "failed"  # last attempt failed; retried automatically while next_attempt_at is set


class MatchOutcome(enum.StrEnum):
    delivered = "delivered"  # carried by a delivery
    cooldown = "cooldown"  # the rule already notified about this scope within cooldown_minutes
    muted = "muted"  # the monitor was muted
    group_muted = "group_muted"  # the inbox group of its scope × direction was muted
    feedback = "feedback"  # like findings marked false positive before (learned suppression)
    updated = "updated"  # joined an incident the rule already notified about (the inbox item is updated)
    stale = "stale"  # its newest evidence is older than the dispatch look-back (a replay of old data)
    learning = "learning"  # its series had too little history to be scored (never alerts)


class GroupStatus(enum.StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"
    muted = "muted"
    false_positive = "false_positive"


def _project_fk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False,
                         index=True)


def _enc() -> Mapped[str | None]:
    """A secret encrypted with tripl_core.secrets (never returned; responses say `*_set`)."""
    return mapped_column(Text)


class AlertDestination(UUIDPk, Timestamps, Base):
    __tablename__ = "alert_destinations"

    project_id: Mapped[uuid.UUID] = _project_fk()
    type: Mapped[DestinationType] = mapped_column(pg_enum(DestinationType, "alert_destination_type"),
                                                  nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="true")
    webhook_url_enc: Mapped[str | None] = _enc()
    bot_token_enc: Mapped[str | None] = _enc()
    chat_id: Mapped[str | None] = mapped_column(String(255))
    target_url_enc: Mapped[str | None] = _enc()
    webhook_header_name: Mapped[str | None] = mapped_column(String(255))
    webhook_header_value_enc: Mapped[str | None] = _enc()
    email_recipients: Mapped[str | None] = mapped_column(Text)
    email_from_address: Mapped[str | None] = mapped_column(String(320))
    email_subject_template: Mapped[str | None] = mapped_column(Text)
    jira_base_url: Mapped[str | None] = mapped_column(Text)
    jira_auth_email: Mapped[str | None] = mapped_column(String(320))
    jira_api_token_enc: Mapped[str | None] = _enc()
    jira_project_key: Mapped[str | None] = mapped_column(String(64))
    jira_issue_type: Mapped[str | None] = mapped_column(String(255))
    linear_api_key_enc: Mapped[str | None] = _enc()
    linear_team_id: Mapped[str | None] = mapped_column(String(255))
    linear_state_id: Mapped[str | None] = mapped_column(String(255))
    linear_label_ids: Mapped[str | None] = mapped_column(Text)


class AlertRule(UUIDPk, Timestamps, Base):
    """One rule = one monitor: which findings notify a destination, how, and how often."""

    __tablename__ = "alert_rules"

    project_id: Mapped[uuid.UUID] = _project_fk()
    destination_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("alert_destinations.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    include_project_total: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    include_event_types: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    include_events: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    include_schema_drifts: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    include_distribution_drifts: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    include_release_regressions: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    notify_on_spike: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    notify_on_drop: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    ai_explanation_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    min_percent_delta: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    min_absolute_delta: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    min_expected_count: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    cooldown_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=1440)
    message_template: Mapped[str | None] = mapped_column(Text)
    items_template: Mapped[str | None] = mapped_column(Text)
    message_format: Mapped[AlertMessageFormat] = mapped_column(
        pg_enum(AlertMessageFormat, "alert_message_format"), nullable=False, default=AlertMessageFormat.plain)
    # [{"field": "event_type|event|tag|status|scan_config", "operator": "in|not_in", "values": [...]}]
    filters: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, default=list,
                                                          server_default="[]")
    muted_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AlertCorrelationGroup(UUIDPk, Timestamps, Base):
    """An incident in the inbox: delivered items of one scope × kind × direction close together in time."""

    __tablename__ = "alert_correlation_groups"
    __table_args__ = (Index("ix_alert_correlation_groups_key", "project_id", "scope_key", "direction",
                            "latest_bucket"),)

    project_id: Mapped[uuid.UUID] = _project_fk()
    scope_key: Mapped[str] = mapped_column(Text, nullable=False)  # kind|scope_type|scope_ref|detail
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    scope_type: Mapped[str] = mapped_column(String(32), nullable=False)
    scope_ref: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    scope_name: Mapped[str | None] = mapped_column(Text)
    direction: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[GroupStatus] = mapped_column(pg_enum(GroupStatus, "alert_group_status"), nullable=False,
                                                default=GroupStatus.open)
    muted_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    false_positive_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_bucket: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    latest_bucket: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    latest_delivery_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acted_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True),
                                                       ForeignKey("users.id", ondelete="SET NULL"))
    acted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AlertDelivery(UUIDPk, Timestamps, Base):
    """One message of one rule for one scan run, written (pending) before it is sent."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        Index("ix_alert_deliveries_project_created", "project_id", "created_at"),
        Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
    )

    project_id: Mapped[uuid.UUID] = _project_fk()
    scan_config_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("scan_configs.id", ondelete="SET NULL"))
    scan_job_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("scan_jobs.id", ondelete="SET NULL"))
    destination_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("alert_destinations.id", ondelete="SET NULL"))
    rule_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("alert_rules.id", ondelete="SET NULL"), index=True)
    destination_name: Mapped[str] = mapped_column(String(255), nullable=False)
    rule_name: Mapped[str] = mapped_column(String(255), nullable=False)
    scan_name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[DeliveryStatus] = mapped_column(pg_enum(DeliveryStatus, "alert_delivery_status"),
                                                   nullable=False, default=DeliveryStatus.pending)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    matched_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The template context and rendered message as first written (so a retry sends the same alert).
    payload_snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    external_id: Mapped[str | None] = mapped_column(Text)


class AlertDeliveryItem(UUIDPk, Base):
    """One finding listed in a delivery (a copy: findings may be rewritten or deleted by later scans)."""

    __tablename__ = "alert_delivery_items"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("alert_deliveries.id", ondelete="CASCADE"), nullable=False, index=True)
    correlation_group_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("alert_correlation_groups.id", ondelete="SET NULL"), index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    finding_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    finding_key: Mapped[str] = mapped_column(Text, nullable=False)
    scope_key: Mapped[str] = mapped_column(Text, nullable=False)
    scope_type: Mapped[str] = mapped_column(String(32), nullable=False)
    scope_ref: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    scope_name: Mapped[str | None] = mapped_column(Text)
    direction: Mapped[str | None] = mapped_column(String(8))
    bucket: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    actual: Mapped[float | None] = mapped_column(Float)
    expected: Mapped[float | None] = mapped_column(Float)
    z: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)  # the AlertItem


class AlertMatch(CreatedAt, Base):
    """The ledger of rule × finding occurrence (unique): what was delivered, cooled down or muted."""

    __tablename__ = "alert_matches"
    __table_args__ = (Index("ix_alert_matches_scope", "rule_id", "scope_key", "created_at"),)

    rule_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("alert_rules.id", ondelete="CASCADE"), primary_key=True)
    finding_key: Mapped[str] = mapped_column(Text, primary_key=True)
    project_id: Mapped[uuid.UUID] = _project_fk()
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    finding_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    scope_key: Mapped[str] = mapped_column(Text, nullable=False)
    outcome: Mapped[MatchOutcome] = mapped_column(pg_enum(MatchOutcome, "alert_match_outcome"), nullable=False)
    delivery_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("alert_deliveries.id", ondelete="SET NULL"))
    finding_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AlertFeedback(Timestamps, Base):
    """False positives per pattern (project × kind × scope × direction): read by dispatch and the detector."""

    __tablename__ = "alert_feedback"

    project_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    pattern_key: Mapped[str] = mapped_column(Text, primary_key=True)  # scope_key + "|" + direction
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    scope_type: Mapped[str] = mapped_column(String(32), nullable=False)
    scope_ref: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    direction: Mapped[str | None] = mapped_column(String(8))
    false_positive_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    max_abs_z: Mapped[float | None] = mapped_column(Float)  # largest |z| people called a false positive
    last_marked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
