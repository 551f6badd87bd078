"""Shapes of the plan-revisions tag."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from tripl_api.schemas.common import ORMModel
from tripl_api.schemas.plan_branches import DiffEntry
from tripl_core.plan.revisions import SUMMARY_MAX


class RevisionCreate(BaseModel):
    summary: str = Field("", max_length=SUMMARY_MAX)


class RevisionListItem(ORMModel):
    id: uuid.UUID
    project_id: uuid.UUID
    summary: str
    created_at: datetime
    created_by: uuid.UUID | None
    entity_counts: dict[str, int]


class RevisionResponse(RevisionListItem):
    payload: dict[str, Any] = Field(description="The whole plan: see docs/branches.md (payload format).")


class RevisionPage(BaseModel):
    items: list[RevisionListItem] = Field(description="Newest first; without payloads (Get Revision has it).")
    total: int


class RevisionDiff(BaseModel):
    revision_id: uuid.UUID
    compare_to: uuid.UUID
    entries: list[DiffEntry]
    summary: dict[str, Any]
