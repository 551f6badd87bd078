"""Owners of event types: the people who answer for an event family."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from tripl_api.deps import DB
from tripl_api.plan_deps import PlanRead, PlanWrite
from tripl_api.schemas.event_type_owners import OwnerCreate, OwnerResponse
from tripl_core.db.models.auth import User
from tripl_core.db.models.plan import EventTypeOwner
from tripl_core.plan import event_types

router = APIRouter(prefix="/api/v1/projects/{slug}/event-types/{event_type_id}/owners",
                   tags=["event-type-owners"])


def _out(owner: EventTypeOwner, user: User) -> OwnerResponse:
    return OwnerResponse(id=owner.id, event_type_id=owner.event_type_id, user_id=owner.user_id,
                         user_email=user.email, user_name=user.name, granted_by=owner.granted_by,
                         created_at=owner.created_at)


@router.get("", summary="List Owners", response_model=list[OwnerResponse])
def list_owners(event_type_id: uuid.UUID, db: DB, plan: PlanRead):
    et = event_types.get(db, plan.scope, event_type_id)
    return [_out(o, u) for o, u in event_types.list_owners(db, plan.scope, et)]


@router.post("", summary="Add Owner", response_model=OwnerResponse, status_code=201)
def add_owner(event_type_id: uuid.UUID, body: OwnerCreate, db: DB, plan: PlanWrite):
    et = event_types.get(db, plan.scope, event_type_id)
    return _out(*event_types.add_owner(db, plan.actor, plan.scope, et, body.user_id))


@router.delete("/{owner_id}", summary="Remove Owner", status_code=204)
def remove_owner(event_type_id: uuid.UUID, owner_id: uuid.UUID, db: DB, plan: PlanWrite) -> Response:
    et = event_types.get(db, plan.scope, event_type_id)
    event_types.remove_owner(db, plan.actor, plan.scope, et, owner_id)
    return Response(status_code=204)
