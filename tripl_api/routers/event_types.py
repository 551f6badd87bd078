"""Event types with their field definitions, and their schema drifts (Apply Schema Drift Action: routers/drifts.py)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from tripl_api.deps import DB, ProjectRead
from tripl_api.plan_deps import PlanRead, PlanWrite
from tripl_api.schemas.drifts import SchemaDriftList
from tripl_api.schemas.event_types import EventTypeCreate, EventTypeResponse, EventTypeUpdate
from tripl_core.findings import drifts
from tripl_core.plan import event_types

router = APIRouter(prefix="/api/v1/projects/{slug}/event-types", tags=["event-types"])


@router.get("", summary="List Event Types", response_model=list[EventTypeResponse])
def list_event_types(db: DB, plan: PlanRead):
    return event_types.list_types(db, plan.scope)


@router.post("", summary="Create Event Type", response_model=EventTypeResponse, status_code=201)
def create_event_type(body: EventTypeCreate, db: DB, plan: PlanWrite):
    data = body.model_dump()
    return event_types.create(db, plan.actor, plan.scope, data)


@router.get("/{event_type_id}", summary="Get Event Type", response_model=EventTypeResponse)
def get_event_type(event_type_id: uuid.UUID, db: DB, plan: PlanRead):
    return event_types.get(db, plan.scope, event_type_id)


@router.patch("/{event_type_id}", summary="Update Event Type", response_model=EventTypeResponse)
def update_event_type(event_type_id: uuid.UUID, body: EventTypeUpdate, db: DB, plan: PlanWrite):
    et = event_types.get(db, plan.scope, event_type_id)
    return event_types.update(db, plan.actor, plan.scope, et, body.model_dump(exclude_unset=True))


@router.delete("/{event_type_id}", summary="Delete Event Type", status_code=204)
def delete_event_type(event_type_id: uuid.UUID, db: DB, plan: PlanWrite) -> Response:
    event_types.delete(db, plan.actor, plan.scope, event_types.get(db, plan.scope, event_type_id))
    return Response(status_code=204)


@router.get("/{event_type_id}/drifts", summary="List Event Type Drifts", response_model=SchemaDriftList)
def list_event_type_drifts(event_type_id: uuid.UUID, db: DB, ctx: ProjectRead):
    return drifts.list_for_event_type(db, ctx.project, event_type_id)
