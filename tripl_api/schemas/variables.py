"""Variables: request and response shapes (reference tag `variables`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from tripl_core.db.models.plan_extras import VariableType

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class VariableCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)
    variable_type: VariableType = VariableType.string
    description: str = ""


class VariableUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=100, pattern=NAME_PATTERN)
    variable_type: VariableType | None = None
    description: str | None = None


class VariableResponse(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    branch_id: uuid.UUID
    name: str
    source_name: str
    variable_type: VariableType
    description: str
    event_count: int = Field(0, description="Plan events whose name or a field value contains {name}.")
    context_count: int = Field(0, description="Distinct values observed by scans.")
    low_context_count: int = Field(0, description="Observed values seen fewer than 10 times.")
    high_context_count: int = Field(0, description="Observed values seen at least 1000 times.")
    sample_values: list[str] = Field(default_factory=list, description="The most frequent observed values.")
    created_at: datetime
    updated_at: datetime


class VariableValueResponse(BaseModel):
    value: str
    occurrences: int
    event_count: int
    first_seen_at: datetime | None
    last_seen_at: datetime | None
