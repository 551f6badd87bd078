"""Annotations on metric charts (attached to main's ids; not branch-scoped)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Query, Response

from tripl_api.deps import DB, ProjectRead, ProjectWrite
from tripl_api.schemas.chart_annotations import ChartAnnotationCreate, ChartAnnotationResponse
from tripl_core.db.models.plan_extras import ChartAnnotationScopeType
from tripl_core.plan_extras import annotations

router = APIRouter(prefix="/api/v1/projects/{slug}/annotations", tags=["chart-annotations"])


@router.get("", summary="List Chart Annotations", response_model=list[ChartAnnotationResponse])
def list_chart_annotations(
    db: DB, ctx: ProjectRead,
    scope_type: ChartAnnotationScopeType | None = Query(None),
    scope_ref: str | None = Query(None, max_length=64),
    time_from: datetime | None = Query(None, description="Buckets at or after this time."),
    time_to: datetime | None = Query(None, description="Buckets at or before this time."),
):
    return annotations.list_annotations(db, ctx.project, scope_type=scope_type, scope_ref=scope_ref,
                                        time_from=time_from, time_to=time_to)


@router.post("", summary="Create Chart Annotation", response_model=ChartAnnotationResponse, status_code=201)
def create_chart_annotation(body: ChartAnnotationCreate, db: DB, ctx: ProjectWrite):
    return annotations.create(db, ctx.actor, ctx.project, **body.model_dump())


@router.delete("/{annotation_id}", summary="Delete Chart Annotation", status_code=204)
def delete_chart_annotation(annotation_id: uuid.UUID, db: DB, ctx: ProjectWrite) -> Response:
    annotations.delete(db, ctx.actor, ctx.project, annotation_id)
    return Response(status_code=204)
