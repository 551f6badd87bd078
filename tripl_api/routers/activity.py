from __future__ import annotations

from fastapi import APIRouter, Query

from tripl_api.deps import DB, ProjectRead, Viewer
from tripl_api.schemas.activity import ActivityEntry
from tripl_core import activity

router = APIRouter(prefix="/api/v1", tags=["activity"])


@router.get("/activity", summary="List Workspace Activity", response_model=list[ActivityEntry])
def list_workspace_activity(db: DB, actor: Viewer, limit: int = Query(20, ge=1, le=100)):
    only = actor.api_key.project_id if actor.api_key else None
    return activity.list_activity(db, None, limit, visible_project_id=only)


@router.get("/projects/{slug}/activity", summary="List Project Activity", response_model=list[ActivityEntry])
def list_project_activity(db: DB, ctx: ProjectRead, limit: int = Query(20, ge=1, le=100)):
    return activity.list_activity(db, ctx.project.id, limit)
