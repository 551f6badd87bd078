"""Schema-drift shapes (event-types tag: List Event Type Drifts, Apply Schema Drift Action)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from tripl_api.schemas.common import ORMModel
from tripl_core.db.models.findings import DriftStatus, DriftType


class SchemaDriftOut(ORMModel):
    id: uuid.UUID
    event_type_id: uuid.UUID
    scan_config_id: uuid.UUID | None = None
    field_name: str
    drift_type: DriftType
    observed_type: str | None = None
    declared_type: str | None = None
    sample_value: str | None = None
    status: DriftStatus
    resolution_note: str | None = None
    snoozed_until: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: uuid.UUID | None = None
    detected_at: datetime
    last_seen_at: datetime
    reopened_count: int
    details: dict[str, Any]


class SchemaDriftList(BaseModel):
    items: list[SchemaDriftOut]
    total: int


class DriftActionRequest(BaseModel):
    action: Literal["accept", "snooze", "false_positive", "reopen"]
    note: str | None = Field(None, max_length=10_000)
    snoozed_until: datetime | None = Field(None, description="Required for snooze; must be in the future.")
