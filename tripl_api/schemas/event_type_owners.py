"""Owners of event types."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class OwnerCreate(BaseModel):
    user_id: uuid.UUID


class OwnerResponse(BaseModel):
    id: uuid.UUID
    event_type_id: uuid.UUID
    user_id: uuid.UUID
    user_email: str
    user_name: str | None
    granted_by: uuid.UUID | None
    created_at: datetime
