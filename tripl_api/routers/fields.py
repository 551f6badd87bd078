"""Field definitions of an event type, with data contracts."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from tripl_api.deps import DB
from tripl_api.plan_deps import PlanRead, PlanWrite
from tripl_api.schemas.fields import FieldBulkCreate, FieldCreate, FieldReorder, FieldResponse, FieldUpdate
from tripl_core.plan import event_types, fields

router = APIRouter(prefix="/api/v1/projects/{slug}/event-types/{event_type_id}/fields", tags=["fields"])


@router.get("", summary="List Fields", response_model=list[FieldResponse])
def list_fields(event_type_id: uuid.UUID, db: DB, plan: PlanRead):
    return fields.list_fields(db, plan.scope, event_types.get(db, plan.scope, event_type_id))


@router.post("", summary="Create Field", response_model=FieldResponse, status_code=201)
def create_field(event_type_id: uuid.UUID, body: FieldCreate, db: DB, plan: PlanWrite):
    et = event_types.get(db, plan.scope, event_type_id)
    return fields.create(db, plan.actor, plan.scope, et, body.model_dump())


@router.post("/bulk", summary="Bulk Create Fields", response_model=list[FieldResponse], status_code=201)
def bulk_create_fields(event_type_id: uuid.UUID, body: FieldBulkCreate, db: DB, plan: PlanWrite):
    et = event_types.get(db, plan.scope, event_type_id)
    return fields.bulk_create(db, plan.actor, plan.scope, et, [f.model_dump() for f in body.fields])


@router.post("/reorder", summary="Reorder Fields", response_model=list[FieldResponse])
def reorder_fields(event_type_id: uuid.UUID, body: FieldReorder, db: DB, plan: PlanWrite):
    et = event_types.get(db, plan.scope, event_type_id)
    return fields.reorder(db, plan.actor, plan.scope, et, body.field_ids)


@router.patch("/{field_id}", summary="Update Field", response_model=FieldResponse)
def update_field(event_type_id: uuid.UUID, field_id: uuid.UUID, body: FieldUpdate, db: DB, plan: PlanWrite):
    et = event_types.get(db, plan.scope, event_type_id)
    field = fields.get(db, plan.scope, et, field_id)
    return fields.update(db, plan.actor, plan.scope, et, field, body.model_dump(exclude_unset=True))


@router.delete("/{field_id}", summary="Delete Field", status_code=204)
def delete_field(event_type_id: uuid.UUID, field_id: uuid.UUID, db: DB, plan: PlanWrite) -> Response:
    et = event_types.get(db, plan.scope, event_type_id)
    fields.delete(db, plan.actor, plan.scope, et, fields.get(db, plan.scope, et, field_id))
    return Response(status_code=204)
