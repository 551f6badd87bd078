"""The tracking plan: branches, event types, their fields and owners, meta fields, events with tags and values.

Every plan row belongs to one branch (`branch_id`, see docs/branches.md); `origin_id` is the main row a branch
row was copied from. Uniqueness is always per branch, and every query filters by branch.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from tripl_core.db.base import Base, CreatedAt, Timestamps, UUIDPk
from tripl_core.db.models.auth import pg_enum


class BranchKind(enum.StrEnum):
    main = "main"
    branch = "branch"


class BranchStatus(enum.StrEnum):
    """Review lifecycle of a working branch. The main branch is always `draft` (= open for edits)."""

    draft = "draft"
    in_review = "in_review"
    changes_requested = "changes_requested"
    approved = "approved"
    merged = "merged"
    closed = "closed"


MAIN_BRANCH_STATUS = BranchStatus.draft
CLOSED_BRANCH_STATUSES = (BranchStatus.merged, BranchStatus.closed)


class FieldType(enum.StrEnum):
    string = "string"
    number = "number"
    boolean = "boolean"
    json = "json"
    enum = "enum"
    url = "url"


class MetaFieldType(enum.StrEnum):
    string = "string"
    url = "url"
    boolean = "boolean"
    enum = "enum"
    date = "date"


class Sensitivity(enum.StrEnum):
    none = "none"
    pii = "pii"
    phi = "phi"
    financial = "financial"
    secret = "secret"


SENSITIVITY_ENUM = pg_enum(Sensitivity, "sensitivity")  # one type shared by fields and meta fields


class EventStatus(enum.StrEnum):
    draft = "draft"
    in_review = "in_review"
    ready_for_dev = "ready_for_dev"
    implemented = "implemented"
    live = "live"
    deprecated = "deprecated"
    archived = "archived"


def project_fk() -> Mapped[uuid.UUID]:
    """The owning project: deleting it deletes the row (Delete Project relies on CASCADE)."""
    return mapped_column(UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False,
                         index=True)


def _branch_fk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("plan_branches.id", ondelete="CASCADE"),
                         nullable=False, index=True)


def _origin() -> Mapped[uuid.UUID | None]:
    return mapped_column(UUID(as_uuid=True), nullable=True)


class PlanBranch(UUIDPk, Timestamps, Base):
    """A working copy of a project's plan; exactly one per project has kind `main`."""

    __tablename__ = "plan_branches"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        Index("uq_plan_branches_one_main", "project_id", unique=True, postgresql_where=text("kind = 'main'")),
    )

    project_id: Mapped[uuid.UUID] = project_fk()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    kind: Mapped[BranchKind] = mapped_column(pg_enum(BranchKind, "plan_branch_kind"), nullable=False)
    status: Mapped[BranchStatus] = mapped_column(
        pg_enum(BranchStatus, "plan_branch_status"), nullable=False, default=BranchStatus.draft
    )
    description: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    # The revision of main this branch started from; no FK because revisions live in 0006_versioning.
    base_revision_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    merged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )


class EventType(UUIDPk, Timestamps, Base):
    __tablename__ = "event_types"
    __table_args__ = (UniqueConstraint("branch_id", "name"),)

    project_id: Mapped[uuid.UUID] = project_fk()
    branch_id: Mapped[uuid.UUID] = _branch_fk()
    origin_id: Mapped[uuid.UUID | None] = _origin()
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    display_name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    color: Mapped[str] = mapped_column(String(7), nullable=False, default="#6366f1", server_default="#6366f1")
    order: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    field_definitions: Mapped[list[FieldDefinition]] = relationship(
        back_populates="event_type", order_by="(FieldDefinition.order, FieldDefinition.name)",
        cascade="all, delete-orphan", passive_deletes=True,
    )


class FieldDefinition(UUIDPk, Timestamps, Base):
    """A property of an event type, with its data contract (checked by every scan)."""

    __tablename__ = "field_definitions"
    __table_args__ = (UniqueConstraint("branch_id", "event_type_id", "name"),)

    event_type_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("event_types.id", ondelete="CASCADE"), nullable=False, index=True
    )
    branch_id: Mapped[uuid.UUID] = _branch_fk()
    origin_id: Mapped[uuid.UUID | None] = _origin()
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    display_name: Mapped[str] = mapped_column(String(255), nullable=False)
    field_type: Mapped[FieldType] = mapped_column(pg_enum(FieldType, "field_type"), nullable=False)
    is_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    enum_options: Mapped[list[str] | None] = mapped_column(JSONB)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    order: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    sensitivity: Mapped[Sensitivity] = mapped_column(
        SENSITIVITY_ENUM, nullable=False, default=Sensitivity.none, server_default="none"
    )
    contract_required_max_null_rate: Mapped[float | None] = mapped_column(Float)
    contract_regex: Mapped[str | None] = mapped_column(Text)
    contract_min_value: Mapped[float | None] = mapped_column(Float)
    contract_max_value: Mapped[float | None] = mapped_column(Float)
    contract_max_bad_rate: Mapped[float] = mapped_column(Float, nullable=False, default=0.0, server_default="0")

    event_type: Mapped[EventType] = relationship(back_populates="field_definitions")


class EventTypeOwner(UUIDPk, CreatedAt, Base):
    __tablename__ = "event_type_owners"
    __table_args__ = (UniqueConstraint("branch_id", "event_type_id", "user_id"),)

    event_type_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("event_types.id", ondelete="CASCADE"), nullable=False, index=True
    )
    branch_id: Mapped[uuid.UUID] = _branch_fk()
    origin_id: Mapped[uuid.UUID | None] = _origin()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    granted_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )


class MetaFieldDefinition(UUIDPk, Timestamps, Base):
    """A project-wide attribute of events (owner team, Jira ticket, platform…), not sent with the data."""

    __tablename__ = "meta_field_definitions"
    __table_args__ = (UniqueConstraint("branch_id", "name"),)

    project_id: Mapped[uuid.UUID] = project_fk()
    branch_id: Mapped[uuid.UUID] = _branch_fk()
    origin_id: Mapped[uuid.UUID | None] = _origin()
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    display_name: Mapped[str] = mapped_column(String(255), nullable=False)
    field_type: Mapped[MetaFieldType] = mapped_column(pg_enum(MetaFieldType, "meta_field_type"), nullable=False)
    is_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    enum_options: Mapped[list[str] | None] = mapped_column(JSONB)
    default_value: Mapped[str | None] = mapped_column(Text)
    link_template: Mapped[str | None] = mapped_column(Text)
    order: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    sensitivity: Mapped[Sensitivity] = mapped_column(
        SENSITIVITY_ENUM, nullable=False, default=Sensitivity.none, server_default="none"
    )


class Event(UUIDPk, Timestamps, Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("branch_id", "event_type_id", "name"),
        Index("ix_events_branch_order", "branch_id", "order", "created_at", "id"),
        Index("ix_events_branch_status", "branch_id", "status"),
        Index("ix_events_branch_last_seen", "branch_id", "last_seen_at"),
    )

    project_id: Mapped[uuid.UUID] = project_fk()
    branch_id: Mapped[uuid.UUID] = _branch_fk()
    origin_id: Mapped[uuid.UUID | None] = _origin()
    event_type_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("event_types.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(500), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    order: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    status: Mapped[EventStatus] = mapped_column(
        pg_enum(EventStatus, "event_status"), nullable=False, default=EventStatus.draft, server_default="draft"
    )
    sunset_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Filled by the pipelines (event_metrics asset); NULL = never seen in the warehouse.
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    reviewed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    metric_breakdown_columns: Mapped[list[str]] = mapped_column(
        JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb")
    )
    # What List Events' `search` scans: lower() per row at query time was most of that filter's cost (~60% on 10k
    # events). chr(31) (unit separator) keeps a search from matching across the name/description boundary.
    # Computed columns are skipped by branch copies, merges, diffs and audit snapshots (`stored_columns`).
    search_text: Mapped[str] = deferred(mapped_column(
        Text, Computed("lower(name::text || chr(31) || description)", persisted=True), nullable=False))


class EventTag(UUIDPk, Base):
    __tablename__ = "event_tags"
    __table_args__ = (
        UniqueConstraint("event_id", "name"),
        Index("ix_event_tags_branch_name", "branch_id", "name", "event_id"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE"), nullable=False
    )
    branch_id: Mapped[uuid.UUID] = _branch_fk()
    origin_id: Mapped[uuid.UUID | None] = _origin()
    name: Mapped[str] = mapped_column(String(100), nullable=False)


class EventFieldValue(UUIDPk, Base):
    """The value an event sets for a field of its type: a literal or a `{variable}` placeholder."""

    __tablename__ = "event_field_values"
    __table_args__ = (
        UniqueConstraint("event_id", "field_definition_id"),
        # List Events' field_value filter (`name=value`, case-insensitive); also serves the FK's cascades.
        Index("ix_event_field_values_field_value", "field_definition_id", text("lower(value)")),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE"), nullable=False
    )
    field_definition_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("field_definitions.id", ondelete="CASCADE"), nullable=False
    )
    branch_id: Mapped[uuid.UUID] = _branch_fk()
    origin_id: Mapped[uuid.UUID | None] = _origin()
    value: Mapped[str] = mapped_column(Text, nullable=False)


class EventMetaValue(UUIDPk, Base):
    __tablename__ = "event_meta_values"
    __table_args__ = (
        UniqueConstraint("event_id", "meta_field_definition_id"),
        Index("ix_event_meta_values_meta_value", "meta_field_definition_id", text("lower(value)")),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE"), nullable=False
    )
    meta_field_definition_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("meta_field_definitions.id", ondelete="CASCADE"), nullable=False,
    )
    branch_id: Mapped[uuid.UUID] = _branch_fk()
    origin_id: Mapped[uuid.UUID | None] = _origin()
    value: Mapped[str] = mapped_column(Text, nullable=False)


PLAN_TABLES: tuple[type[Any], ...] = (
    EventType, FieldDefinition, EventTypeOwner, MetaFieldDefinition, Event, EventTag, EventFieldValue,
    EventMetaValue,
)
"""Plan tables of this module in FK order (for branch copy/diff)."""
