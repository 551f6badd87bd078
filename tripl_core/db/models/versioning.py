"""Plan versioning: committed revisions of main, and the review of working branches (reviewers, approvals,
threaded comments, conflict resolutions). Branches themselves are `plan.PlanBranch`."""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tripl_core.db.base import Base, CreatedAt, Timestamps, UUIDPk
from tripl_core.db.models.auth import pg_enum


class ResolutionChoice(enum.StrEnum):
    ours = "ours"  # the branch's value wins
    theirs = "theirs"  # main's value stays


def _branch_fk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("plan_branches.id", ondelete="CASCADE"), nullable=False,
                         index=True)


class PlanRevision(UUIDPk, CreatedAt, Base):
    """A committed snapshot of main's whole plan (tripl_core.plan.snapshot payload)."""

    __tablename__ = "plan_revisions"
    __table_args__ = (Index("ix_plan_revisions_project_created", "project_id", "created_at"),)

    project_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
    )
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    entity_counts: Mapped[dict[str, int]] = mapped_column(JSONB, nullable=False, default=dict)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)


class BranchReviewer(UUIDPk, CreatedAt, Base):
    __tablename__ = "plan_branch_reviewers"
    __table_args__ = (UniqueConstraint("branch_id", "user_id"),)

    branch_id: Mapped[uuid.UUID] = _branch_fk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )


class BranchApproval(UUIDPk, CreatedAt, Base):
    """A reviewer's approval; cleared when changes are requested or the branch is reopened."""

    __tablename__ = "plan_branch_approvals"
    __table_args__ = (UniqueConstraint("branch_id", "user_id"),)

    branch_id: Mapped[uuid.UUID] = _branch_fk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    # Fingerprint of the branch's plan when approved: a merge refuses content that no one approved.
    content_hash: Mapped[str | None] = mapped_column(String(64))


class BranchComment(UUIDPk, Timestamps, Base):
    """A review comment; `parent_id` makes it a reply. Deleting a comment deletes its replies."""

    __tablename__ = "plan_branch_comments"
    __table_args__ = (Index("ix_plan_branch_comments_branch_created", "branch_id", "created_at"),)

    branch_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("plan_branches.id", ondelete="CASCADE"), nullable=False
    )
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("plan_branch_comments.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text, nullable=False)


class BranchResolution(UUIDPk, CreatedAt, Base):
    """How one conflicting field is merged; saving again for the same field replaces the choice."""

    __tablename__ = "plan_branch_resolutions"
    __table_args__ = (UniqueConstraint("branch_id", "entity_type", "entity_name", "field_name",
                                       name="uq_plan_branch_resolutions_field"),)

    branch_id: Mapped[uuid.UUID] = _branch_fk()
    entity_type: Mapped[str] = mapped_column(String(100), nullable=False)
    entity_name: Mapped[str] = mapped_column(String(1000), nullable=False)
    field_name: Mapped[str] = mapped_column(String(100), nullable=False)
    choice: Mapped[ResolutionChoice] = mapped_column(pg_enum(ResolutionChoice, "merge_resolution_choice"),
                                                     nullable=False)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
