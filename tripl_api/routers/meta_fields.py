"""Project-wide meta fields of events."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from tripl_api.deps import DB
from tripl_api.plan_deps import PlanRead, PlanWrite
from tripl_api.schemas.meta_fields import MetaFieldCreate, MetaFieldResponse, MetaFieldUpdate
from tripl_core.plan import meta_fields

router = APIRouter(prefix="/api/v1/projects/{slug}/meta-fields", tags=["meta-fields"])


@router.get("", summary="List Meta Fields", response_model=list[MetaFieldResponse])
def list_meta_fields(db: DB, plan: PlanRead):
    return meta_fields.list_meta_fields(db, plan.scope)


@router.post("", summary="Create Meta Field", response_model=MetaFieldResponse, status_code=201)
def create_meta_field(body: MetaFieldCreate, db: DB, plan: PlanWrite):
    return meta_fields.create(db, plan.actor, plan.scope, body.model_dump())


@router.patch("/{meta_field_id}", summary="Update Meta Field", response_model=MetaFieldResponse)
def update_meta_field(meta_field_id: uuid.UUID, body: MetaFieldUpdate, db: DB, plan: PlanWrite):
    meta = meta_fields.get(db, plan.scope, meta_field_id)
    return meta_fields.update(db, plan.actor, plan.scope, meta, body.model_dump(exclude_unset=True))


@router.delete("/{meta_field_id}", summary="Delete Meta Field", status_code=204)
def delete_meta_field(meta_field_id: uuid.UUID, db: DB, plan: PlanWrite) -> Response:
    meta_fields.delete(db, plan.actor, plan.scope, meta_fields.get(db, plan.scope, meta_field_id))
    return Response(status_code=204)
