"""Relations between fields of event types (reference tag `relations`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class RelationCreate(BaseModel):
    source_event_type_id: uuid.UUID
    target_event_type_id: uuid.UUID
    source_field_id: uuid.UUID
    target_field_id: uuid.UUID
    # The reference gives only a string defaulting to "belongs_to"; 50 characters is the column's size.
    relation_type: str = Field("belongs_to", max_length=50)
    description: str = ""


class RelationResponse(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    branch_id: uuid.UUID
    source_event_type_id: uuid.UUID
    target_event_type_id: uuid.UUID
    source_field_id: uuid.UUID
    target_field_id: uuid.UUID
    relation_type: str
    description: str
    source_event_type_name: str
    source_field_name: str
    target_event_type_name: str
    target_field_name: str
    created_at: datetime
