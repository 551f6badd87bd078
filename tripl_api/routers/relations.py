"""Relations between fields of event types (branch-scoped: `?branch_id=`, default main)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Response

from tripl_api.deps import DB
from tripl_api.plan_deps import PlanRead, PlanWrite
from tripl_api.schemas.relations import RelationCreate, RelationResponse
from tripl_core.plan_extras import relations

router = APIRouter(prefix="/api/v1/projects/{slug}/relations", tags=["relations"])


def relation_out(view: relations.RelationView) -> RelationResponse:
    r = view.relation
    return RelationResponse(id=r.id, project_id=r.project_id, branch_id=r.branch_id,
                            source_event_type_id=r.source_event_type_id,
                            target_event_type_id=r.target_event_type_id, source_field_id=r.source_field_id,
                            target_field_id=r.target_field_id, relation_type=r.relation_type,
                            description=r.description, source_event_type_name=view.source_event_type_name,
                            source_field_name=view.source_field_name,
                            target_event_type_name=view.target_event_type_name,
                            target_field_name=view.target_field_name, created_at=r.created_at)


@router.get("", summary="List Relations", response_model=list[RelationResponse])
def list_relations(db: DB, plan: PlanRead, event_type_id: uuid.UUID | None = Query(
        None, description="Only relations with this event type at either end.")):
    return [relation_out(v) for v in relations.list_relations(db, plan.scope, event_type_id)]


@router.post("", summary="Create Relation", response_model=RelationResponse, status_code=201)
def create_relation(body: RelationCreate, db: DB, plan: PlanWrite):
    return relation_out(relations.create(db, plan.actor, plan.scope, **body.model_dump()))


@router.delete("/{relation_id}", summary="Delete Relation", status_code=204)
def delete_relation(relation_id: uuid.UUID, db: DB, plan: PlanWrite) -> Response:
    relations.delete(db, plan.actor, plan.scope, relation_id)
    return Response(status_code=204)
