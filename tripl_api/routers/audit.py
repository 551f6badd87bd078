from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Query

from tripl_api.deps import DB, OwnerRead
from tripl_api.schemas.audit import AuditPage
from tripl_core import activity

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", summary="List Audit", response_model=AuditPage)
def list_audit(
    db: DB,
    actor: OwnerRead,
    project_slug: str | None = None,
    action: str | None = Query(None, description="An action ('event.create') or a family ('event')."),
    user_id: uuid.UUID | None = None,
    user_email: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
):
    items, total = activity.list_audit(db, project_slug=project_slug, action=action, user_id=user_id,
                                       user_email=user_email, since=since, until=until, limit=limit,
                                       offset=offset,
                                       only_project_id=actor.api_key.project_id if actor.api_key else None)
    return {"items": items, "total": total}
