"""Chart annotations (reference tag `chart-annotations`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from tripl_api.schemas.common import ORMModel
from tripl_core.db.models.plan_extras import ChartAnnotationScopeType


class ChartAnnotationCreate(BaseModel):
    bucket: datetime
    label: str = Field(min_length=1, max_length=200)
    description: str | None = None
    color: str = Field("#ef4444", max_length=20)
    scope_type: ChartAnnotationScopeType | None = Field(
        None, description="Unset: project_total. event_type / event need scope_ref (an id on main).")
    scope_ref: str | None = Field(None, max_length=64)


class ChartAnnotationResponse(ORMModel):
    id: uuid.UUID
    project_id: uuid.UUID
    scope_type: ChartAnnotationScopeType
    scope_ref: str | None
    bucket: datetime
    label: str
    description: str | None
    color: str
    created_by_user_id: uuid.UUID | None
    created_at: datetime
