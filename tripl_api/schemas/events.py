"""Events of the tracking plan."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from tripl_core.db.models.plan import EventStatus

Scalar = str | int | float | bool | dict[str, Any] | list[Any] | None


class FieldValueIn(BaseModel):
    """A value for one field of the event's type, named by id or by name. `{variable}` placeholders are allowed
    for string, number, url and json fields."""

    field_definition_id: uuid.UUID | None = None
    field_name: str | None = None
    value: Scalar


class MetaValueIn(BaseModel):
    meta_field_definition_id: uuid.UUID | None = None
    meta_field_name: str | None = None
    value: str | bool | None


class FieldValueOut(BaseModel):
    field_definition_id: uuid.UUID
    field_name: str
    value: str


class MetaValueOut(BaseModel):
    meta_field_definition_id: uuid.UUID
    meta_field_name: str
    value: str
    link: str | None = Field(None, description="The meta field's link_template rendered with this value.")


class EventCreate(BaseModel):
    event_type_id: uuid.UUID
    name: str = Field(min_length=1, max_length=500)
    description: str = ""
    status: EventStatus = EventStatus.draft
    sunset_at: datetime | None = None
    owner_id: uuid.UUID | None = None
    reviewed: bool = False
    metric_breakdown_columns: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    field_values: list[FieldValueIn] = Field(default_factory=list)
    meta_values: list[MetaValueIn] = Field(default_factory=list)


class EventUpdate(BaseModel):
    """Keys sent are applied; lists replace the event's whole set; null sunset_at/owner_id clear them."""

    name: str | None = Field(None, min_length=1, max_length=500)
    description: str | None = None
    status: EventStatus | None = None
    sunset_at: datetime | None = None
    owner_id: uuid.UUID | None = None
    reviewed: bool | None = None
    metric_breakdown_columns: list[str] | None = None
    tags: list[str] | None = None
    field_values: list[FieldValueIn] | None = None
    meta_values: list[MetaValueIn] | None = None


class EventIds(BaseModel):
    event_ids: list[uuid.UUID] = Field(min_length=1)


class BulkUpdate(EventIds):
    status: EventStatus | None = None
    sunset_at: datetime | None = None
    owner_id: uuid.UUID | None = None
    reviewed: bool | None = None


class MoveEvent(BaseModel):
    direction: Literal["up", "down"]
    visible_event_ids: list[uuid.UUID] | None = None


class EventTypeRef(BaseModel):
    id: uuid.UUID
    name: str
    display_name: str
    description: str
    color: str
    order: int


class EventResponse(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    branch_id: uuid.UUID
    event_type_id: uuid.UUID
    event_type: EventTypeRef
    name: str
    description: str
    order: int
    status: EventStatus
    sunset_at: datetime | None
    last_seen_at: datetime | None
    owner_id: uuid.UUID | None
    reviewed: bool
    metric_breakdown_columns: list[str]
    drift_count: int
    tags: list[str]
    field_values: list[FieldValueOut]
    meta_values: list[MetaValueOut]
    created_at: datetime
    updated_at: datetime


class EventList(BaseModel):
    items: list[EventResponse]
    total: int


class BulkResult(BaseModel):
    count: int


class FieldChange(BaseModel):
    field: str = Field(description="Column, or `field_values.<name>` / `meta_values.<name>` for a value.")
    before: Any = None
    after: Any = None


class HistoryEntry(BaseModel):
    id: uuid.UUID
    action: str
    changed_at: datetime
    actor_id: uuid.UUID | None
    actor_name: str | None
    actor_email: str | None
    message: str
    changes: list[FieldChange]
