"""Reconciliation tag: shadow events, dead events, coverage (tripl_core.findings.reconciliation)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from tripl_api.deps import DB, ProjectRead, ProjectWrite
from tripl_api.schemas.reconciliation import (
    AcceptShadowRequest,
    AcceptShadowResponse,
    ArchiveDeadRequest,
    ArchiveDeadResponse,
    Coverage,
    DeadEventList,
    DismissShadowResponse,
    ShadowEventList,
)
from tripl_core.db.models.findings import ShadowStatus
from tripl_core.findings import reconciliation

router = APIRouter(prefix="/api/v1/projects/{slug}/reconciliation", tags=["reconciliation"])


@router.get("/shadow-events", summary="List Shadow Events", response_model=ShadowEventList)
def list_shadow_events(db: DB, ctx: ProjectRead, status: ShadowStatus | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100):
    return reconciliation.list_shadow(db, ctx.project, status, limit)


@router.post("/shadow-events/{candidate_id}/accept", summary="Accept Shadow Event",
             response_model=AcceptShadowResponse)
def accept_shadow_event(candidate_id: uuid.UUID, body: AcceptShadowRequest, db: DB, ctx: ProjectWrite):
    return reconciliation.accept_shadow(db, ctx.actor, ctx.project, candidate_id, body.event_type_id, body.name,
                                        [v.model_dump() for v in body.field_values or []])


@router.post("/shadow-events/{candidate_id}/dismiss", summary="Dismiss Shadow Event",
             response_model=DismissShadowResponse)
def dismiss_shadow_event(candidate_id: uuid.UUID, db: DB, ctx: ProjectWrite):
    return reconciliation.dismiss_shadow(db, ctx.actor, ctx.project, candidate_id)


@router.get("/dead-events", summary="List Dead Events", response_model=DeadEventList)
def list_dead_events(db: DB, ctx: ProjectRead, days: Annotated[int, Query(ge=1, le=365)] = 30):
    return reconciliation.dead_events(db, ctx.project, days)


@router.post("/dead-events/archive", summary="Archive Dead Events", response_model=ArchiveDeadResponse)
def archive_dead_events(body: ArchiveDeadRequest, db: DB, ctx: ProjectWrite):
    return reconciliation.archive_dead(db, ctx.actor, ctx.project, body.event_ids, body.status)


@router.get("/coverage", summary="Get Coverage", response_model=Coverage)
def get_coverage(db: DB, ctx: ProjectRead, days: Annotated[int, Query(ge=1, le=180)] = 14,
                 scan_config_id: uuid.UUID | None = None):
    return reconciliation.coverage(db, ctx.project, days, scan_config_id)
