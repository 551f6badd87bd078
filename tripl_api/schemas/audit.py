from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from tripl_api.schemas.common import ORMModel


class AuditEntryResponse(ORMModel):
    id: uuid.UUID
    created_at: datetime
    actor_user_id: uuid.UUID | None
    actor_email: str | None
    actor_name: str | None
    api_key_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str | None
    target_name: str | None
    project_id: uuid.UUID | None
    project_slug: str | None
    message: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditEntryResponse]
    total: int
