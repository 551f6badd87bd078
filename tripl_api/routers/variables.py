"""Variables of the plan (branch-scoped: `?branch_id=`, default main)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Response

from tripl_api.deps import DB
from tripl_api.plan_deps import PlanRead, PlanWrite
from tripl_api.schemas.variables import (
    VariableCreate,
    VariableResponse,
    VariableUpdate,
    VariableValueResponse,
)
from tripl_core.plan_extras import variables

router = APIRouter(prefix="/api/v1/projects/{slug}/variables", tags=["variables"])


def variable_out(view: variables.VariableView) -> VariableResponse:
    v, s = view.variable, view.stats
    return VariableResponse(id=v.id, project_id=v.project_id, branch_id=v.branch_id, name=v.name,
                            source_name=v.source_name, variable_type=v.variable_type, description=v.description,
                            event_count=s.event_count, context_count=s.context_count,
                            low_context_count=s.low_context_count, high_context_count=s.high_context_count,
                            sample_values=s.sample_values, created_at=v.created_at, updated_at=v.updated_at)


@router.get("", summary="List Variables", response_model=list[VariableResponse])
def list_variables(db: DB, plan: PlanRead):
    return [variable_out(v) for v in variables.list_variables(db, plan.scope)]


@router.post("", summary="Create Variable", response_model=VariableResponse, status_code=201)
def create_variable(body: VariableCreate, db: DB, plan: PlanWrite):
    return variable_out(variables.create(db, plan.actor, plan.scope, body.name, body.variable_type,
                                         body.description))


@router.get("/{variable_id}/values", summary="List Variable Values", response_model=list[VariableValueResponse])
def list_variable_values(variable_id: uuid.UUID, db: DB, plan: PlanRead,
                         limit: int | None = Query(None, ge=1, le=100_000, description=(
                             "At most this many values (default: all of them, as the reference lists them).")),
                         offset: int = Query(0, ge=0, le=100_000_000)):
    rows = variables.list_values(db, plan.scope, variable_id, limit=limit, offset=offset)
    return [VariableValueResponse(value=r.value, occurrences=r.occurrences, event_count=r.event_count,
                                  first_seen_at=r.first_seen_at, last_seen_at=r.last_seen_at) for r in rows]


@router.patch("/{variable_id}", summary="Update Variable", response_model=VariableResponse)
def update_variable(variable_id: uuid.UUID, body: VariableUpdate, db: DB, plan: PlanWrite):
    changes = body.model_dump(exclude_unset=True)
    return variable_out(variables.update(db, plan.actor, plan.scope, variable_id, changes))


@router.delete("/{variable_id}", summary="Delete Variable", status_code=204)
def delete_variable(variable_id: uuid.UUID, db: DB, plan: PlanWrite) -> Response:
    variables.delete(db, plan.actor, plan.scope, variable_id)
    return Response(status_code=204)
