"""Shapes of the reconciliation tag: shadow events, dead events, coverage."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from tripl_api.schemas.common import ORMModel
from tripl_api.schemas.events import FieldValueIn
from tripl_core.db.models.findings import ShadowStatus
from tripl_core.db.models.plan import EventStatus


class ShadowEventOut(ORMModel):
    id: uuid.UUID
    scan_config_id: uuid.UUID | None = None
    event_type_id: uuid.UUID | None = None
    event_type_value: str | None = None
    name: str
    total_count: int
    first_seen_at: datetime
    last_seen_at: datetime
    sample_fields: dict[str, Any]
    status: ShadowStatus
    event_id: uuid.UUID | None = None
    is_active: bool


class ShadowEventList(BaseModel):
    items: list[ShadowEventOut]
    total: int
    new_count: int


class AcceptShadowRequest(BaseModel):
    event_type_id: uuid.UUID | None = Field(None, description="Plan event type; default the one it was seen under.")
    name: str | None = Field(None, min_length=1, max_length=500, description="Plan event name; default as seen.")
    field_values: list[FieldValueIn] | None = Field(
        None, max_length=1000, description="As in Create Event; required fields left out get a `{field}` "
                                           "placeholder where their type admits one.")


class AcceptShadowResponse(BaseModel):
    candidate_id: uuid.UUID
    event_id: uuid.UUID
    status: ShadowStatus


class DismissShadowResponse(BaseModel):
    candidate_id: uuid.UUID
    status: ShadowStatus


class DeadEvent(BaseModel):
    event_id: uuid.UUID
    name: str
    event_type_id: uuid.UUID
    event_type_name: str
    status: EventStatus
    last_seen_at: datetime | None = None
    days_silent: int | None = Field(None, description="Whole days since last seen; null if never seen.")


class DeadEventList(BaseModel):
    items: list[DeadEvent]
    total: int
    days: int


class ArchiveDeadRequest(BaseModel):
    event_ids: list[uuid.UUID] = Field(min_length=1, max_length=10_000)
    status: EventStatus = EventStatus.archived


class ArchiveDeadResponse(BaseModel):
    event_ids: list[uuid.UUID]
    status: EventStatus
    archived_count: int


class CoverageEvent(BaseModel):
    event_id: uuid.UUID
    name: str
    status: EventStatus
    count: int
    seen: bool


class CoverageItem(BaseModel):
    event_type_id: uuid.UUID
    name: str
    planned_events: int
    seen_events: int
    volume: int = Field(description="Warehouse rows mapped to this event type.")
    matched_volume: int = Field(description="Of those, rows mapped to a plan event.")
    coverage: float | None = None
    events: list[CoverageEvent]


class CoverageSummary(BaseModel):
    planned_event_types: int
    seen_event_types: int
    planned_events: int
    seen_events: int
    total_volume: int
    matched_volume: int
    unmatched_volume: int
    unmatched_names: int
    coverage: float | None = Field(None, description="matched_volume / total_volume.")


class Coverage(BaseModel):
    items: list[CoverageItem]
    summary: CoverageSummary
    days: int
