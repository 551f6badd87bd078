from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from tripl_api.schemas.common import ORMModel
from tripl_core.db.models.auth import ApiKeyScope


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scope: ApiKeyScope = ApiKeyScope.read
    expires_in_days: int | None = Field(None, ge=1, le=3650)
    project_slug: str | None = None


class ApiKeyResponse(ORMModel):
    id: uuid.UUID
    name: str
    key_prefix: str
    scope: ApiKeyScope
    project_id: uuid.UUID | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyResponse):
    token: str = Field(description="The key itself. Shown once: store it now.")
