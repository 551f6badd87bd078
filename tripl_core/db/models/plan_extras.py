"""The rest of the plan: variables, relations (branch-scoped), chart annotations, event photos and their comments.

Variables and relations are plan entities: they carry `branch_id` + `origin_id` like the tables of `plan.py`.
Photos, photo comments and annotations hang off main's rows (photos of main's events), so they are not copied
into branches. Everything cascades from the project.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from tripl_core.db.base import Base, CreatedAt, Timestamps, UUIDPk, utcnow
from tripl_core.db.models.auth import pg_enum
from tripl_core.db.models.plan import project_fk


class VariableType(enum.StrEnum):
    string = "string"
    number = "number"
    boolean = "boolean"
    date = "date"
    datetime = "datetime"
    json = "json"
    string_array = "string_array"
    number_array = "number_array"


class ChartAnnotationScopeType(enum.StrEnum):
    """What a chart shows: the project's total volume, one event type (scope_ref = its id) or one event."""

    project_total = "project_total"
    event_type = "event_type"
    event = "event"


class PhotoKind(enum.StrEnum):
    photo = "photo"
    figma = "figma"


class PhotoStorageBackend(enum.StrEnum):
    local = "local"  # bytes under settings.uploads_dir, streamed by Download Event Photo
    external = "external"  # a link (Figma spec); no bytes stored


class Variable(UUIDPk, Timestamps, Base):
    """A named placeholder (`{screen}`) used in event names and field values."""

    __tablename__ = "variables"
    __table_args__ = (UniqueConstraint("branch_id", "name"),)

    project_id: Mapped[uuid.UUID] = project_fk()
    branch_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("plan_branches.id", ondelete="CASCADE"), nullable=False, index=True
    )
    origin_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    # Where scans read the variable's values (warehouse column or JSON path); the name unless set otherwise.
    source_name: Mapped[str] = mapped_column(String(255), nullable=False)
    variable_type: Mapped[VariableType] = mapped_column(
        pg_enum(VariableType, "variable_type"), nullable=False, default=VariableType.string,
        server_default="string",
    )
    description: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")


class VariableValue(UUIDPk, Base):
    """A value of a variable observed by scans (one row per main variable × value). Written by the pipelines.

    Each distinct value is a *context* of the variable; see `tripl_core.plan_extras.variables` for how the
    low/high context counts are derived from `occurrences`.
    """

    __tablename__ = "variable_values"
    __table_args__ = (
        UniqueConstraint("variable_id", "value"),
        Index("ix_variable_values_variable_occurrences", "variable_id", "occurrences"),
    )

    variable_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("variables.id", ondelete="CASCADE"), nullable=False
    )
    project_id: Mapped[uuid.UUID] = project_fk()
    value: Mapped[str] = mapped_column(Text, nullable=False)
    occurrences: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")
    event_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    first_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow,
                                                 onupdate=utcnow, server_default=func.now())


class Relation(UUIDPk, Timestamps, Base):
    """A field of one event type that refers to a field of another (e.g. order_completed.cart_id → cart.id)."""

    __tablename__ = "relations"
    __table_args__ = (UniqueConstraint("branch_id", "source_field_id", "target_field_id"),)

    project_id: Mapped[uuid.UUID] = project_fk()
    branch_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("plan_branches.id", ondelete="CASCADE"), nullable=False, index=True
    )
    origin_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    source_event_type_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("event_types.id", ondelete="CASCADE"), nullable=False, index=True
    )
    target_event_type_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("event_types.id", ondelete="CASCADE"), nullable=False, index=True
    )
    source_field_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("field_definitions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    target_field_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("field_definitions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    relation_type: Mapped[str] = mapped_column(String(50), nullable=False, default="belongs_to",
                                               server_default="belongs_to")
    description: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")


PLAN_EXTRAS_TABLES: tuple[type[Any], ...] = (Variable, Relation)
"""Branch-scoped tables of this module in FK order (after plan.PLAN_TABLES), for branch copy/diff/merge."""


class ChartAnnotation(UUIDPk, CreatedAt, Base):
    """A marker on metric charts (release, campaign, incident) at one bucket."""

    __tablename__ = "chart_annotations"
    __table_args__ = (Index("ix_chart_annotations_project_bucket", "project_id", "bucket"),)

    project_id: Mapped[uuid.UUID] = project_fk()
    scope_type: Mapped[ChartAnnotationScopeType] = mapped_column(
        pg_enum(ChartAnnotationScopeType, "chart_annotation_scope_type"), nullable=False,
        default=ChartAnnotationScopeType.project_total, server_default="project_total",
    )
    scope_ref: Mapped[str | None] = mapped_column(String(64))
    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    label: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    color: Mapped[str] = mapped_column(String(20), nullable=False, default="#ef4444", server_default="#ef4444")
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )


class EventPhoto(UUIDPk, CreatedAt, Base):
    """A screenshot (bytes stored locally) or a Figma spec (a link) attached to one of main's events."""

    __tablename__ = "event_photos"
    __table_args__ = (Index("ix_event_photos_event_order", "event_id", "sort_order"),)

    project_id: Mapped[uuid.UUID] = project_fk()
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[PhotoKind] = mapped_column(pg_enum(PhotoKind, "photo_kind"), nullable=False)
    original_filename: Mapped[str] = mapped_column(String(500), nullable=False, default="", server_default="")
    title: Mapped[str] = mapped_column(String(500), nullable=False, default="", server_default="")
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")
    sha256: Mapped[str | None] = mapped_column(String(64))
    storage_backend: Mapped[PhotoStorageBackend] = mapped_column(
        pg_enum(PhotoStorageBackend, "photo_storage_backend"), nullable=False
    )
    # Path relative to settings.uploads_dir; the 0003 migration's trigger tombstones it when the row goes.
    storage_key: Mapped[str | None] = mapped_column(String(500))
    external_url: Mapped[str | None] = mapped_column(String(2000))
    sort_order: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    uploaded_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )


class PhotoComment(UUIDPk, Timestamps, Base):
    """A comment on a photo; `parent_id` makes a reply (same photo). Deleting a comment deletes its replies."""

    __tablename__ = "photo_comments"
    __table_args__ = (Index("ix_photo_comments_photo_created", "photo_id", "created_at"),)

    project_id: Mapped[uuid.UUID] = project_fk()
    photo_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("event_photos.id", ondelete="CASCADE"), nullable=False
    )
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("photo_comments.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    body: Mapped[str] = mapped_column(Text, nullable=False)


class PhotoFileTombstone(Base):
    """A stored file whose photo row is gone (deleted directly or by cascade from event, project).

    A database trigger (migration 0003) inserts these, so every delete path is covered, including ON DELETE
    CASCADE, which no ORM event sees. `tripl_core.plan_extras.photo_files.purge` removes the files after commit.
    """

    __tablename__ = "photo_file_tombstones"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    storage_key: Mapped[str] = mapped_column(String(500), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow,
                                                 server_default=func.now())


# Registers the after-commit purge of tombstoned files on every Session (see photo_files).
from tripl_core.plan_extras import photo_files as _photo_files  # noqa: E402,F401
