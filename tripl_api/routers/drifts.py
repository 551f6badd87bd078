"""Apply Schema Drift Action (tag event-types). Its path (P/drifts/{drift_id}/action) lies outside the
event-types router's prefix, hence this module; List Event Type Drifts is in routers/event_types.py."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from tripl_api.deps import DB, ProjectWrite
from tripl_api.schemas.drifts import DriftActionRequest, SchemaDriftOut
from tripl_core.findings import drifts

router = APIRouter(prefix="/api/v1/projects/{slug}/drifts", tags=["event-types"])


@router.post("/{drift_id}/action", summary="Apply Schema Drift Action", response_model=SchemaDriftOut)
def apply_schema_drift_action(drift_id: uuid.UUID, body: DriftActionRequest, db: DB, ctx: ProjectWrite):
    return drifts.apply_action(db, ctx.actor, ctx.project, drift_id, body.action, body.note, body.snoozed_until)
