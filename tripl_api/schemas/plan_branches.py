"""Shapes of the plan-branches tag (branches, review, diff, conflicts, resolutions, merge)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from tripl_api.schemas.common import ORMModel
from tripl_core.db.models.plan import BranchKind, BranchStatus
from tripl_core.db.models.versioning import ResolutionChoice


class BranchCreate(BaseModel):
    name: str = Field(min_length=1, max_length=255, description="Unique within the project (case-insensitive).")
    description: str = Field("", max_length=10_000)


class BranchResponse(ORMModel):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    kind: BranchKind
    status: BranchStatus
    description: str
    base_revision_id: uuid.UUID | None
    created_by: uuid.UUID | None
    merged_at: datetime | None
    merged_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class BranchPage(BaseModel):
    items: list[BranchResponse]
    total: int


class ReviewerResponse(ORMModel):
    id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime


class BranchDetail(BranchResponse):
    reviewers: list[ReviewerResponse] = Field(default_factory=list)
    approvals: list[ReviewerResponse] = Field(default_factory=list, description="Approvals in force.")


class TransitionRequest(BaseModel):
    action: Literal["submit", "request_changes", "approve", "reopen", "close"] = Field(
        description="submit: draft/changes_requested → in_review; request_changes: → changes_requested; "
                    "approve (a reviewer who is not the author): in_review/approved → approved; reopen: "
                    "changes_requested/approved/closed → draft; close: any open status → closed."
    )


class ReviewerAdd(BaseModel):
    user_id: uuid.UUID


class CommentCreate(BaseModel):
    body: str = Field(min_length=1, max_length=10_000)
    parent_id: uuid.UUID | None = Field(None, description="The comment this one replies to (same branch).")


class CommentResponse(ORMModel):
    id: uuid.UUID
    branch_id: uuid.UUID
    parent_id: uuid.UUID | None
    user_id: uuid.UUID | None
    body: str
    created_at: datetime
    updated_at: datetime


class DiffEntry(BaseModel):
    change: Literal["added", "removed", "changed"]
    entity_type: str
    entity_id: str
    entity_name: str
    field: str | None = Field(None, description="The changed field; null for a whole added or removed entity.")
    old_value: Any = None
    new_value: Any = None


class BranchDiff(BaseModel):
    entries: list[DiffEntry]
    summary: dict[str, Any]
    behind_base: bool = Field(description="Main has changed since the branch's base revision.")


class ConflictEntity(BaseModel):
    entity_type: str
    entity_id: str
    entity_name: str
    field_name: str = Field(description="The conflicting field; '*' when one side deleted what the other edited.")
    base: Any = None
    ours: Any = Field(None, description="The branch's value (null: deleted on the branch).")
    theirs: Any = Field(None, description="Main's value now (null: deleted on main).")
    resolution_id: uuid.UUID | None = None
    choice: ResolutionChoice | None = None


class BranchConflicts(BaseModel):
    entities: list[ConflictEntity]
    unresolved_count: int


class ResolutionCreate(BaseModel):
    entity_type: str = Field(min_length=1, max_length=100)
    entity_name: str = Field(min_length=1, max_length=1000)
    field_name: str = Field(min_length=1, max_length=100)
    choice: ResolutionChoice


class ResolutionResponse(ORMModel):
    id: uuid.UUID
    branch_id: uuid.UUID
    entity_type: str
    entity_name: str
    field_name: str
    choice: ResolutionChoice
    resolved_by: uuid.UUID | None
    created_at: datetime
