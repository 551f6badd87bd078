"""Event types and their field definitions."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from tripl_api.schemas.common import ORMModel
from tripl_api.schemas.fields import INT32, FieldCreate, FieldResponse

COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"


class EventTypeCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    display_name: str = Field(min_length=1, max_length=255)
    description: str = ""
    color: str = Field("#6366f1", pattern=COLOR_PATTERN)
    order: int = Field(0, ge=-INT32 - 1, le=INT32)
    field_definitions: list[FieldCreate] = Field(default_factory=list)


class EventTypeUpdate(BaseModel):
    display_name: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = None
    color: str | None = Field(None, pattern=COLOR_PATTERN)
    order: int | None = Field(None, ge=-INT32 - 1, le=INT32)


class EventTypeResponse(ORMModel):
    id: uuid.UUID
    project_id: uuid.UUID
    branch_id: uuid.UUID
    name: str
    display_name: str
    description: str
    color: str
    order: int
    created_at: datetime
    updated_at: datetime
    field_definitions: list[FieldResponse] = Field(default_factory=list)
