"""plan-revisions: committed snapshots of main's plan and their diffs."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from tripl_api.deps import DB, ProjectRead, ProjectWrite
from tripl_api.schemas.plan_revisions import RevisionCreate, RevisionDiff, RevisionPage, RevisionResponse
from tripl_core.plan import revisions

router = APIRouter(prefix="/api/v1/projects/{slug}/revisions", tags=["plan-revisions"])


@router.post("", summary="Create Revision", response_model=RevisionResponse, status_code=201)
def create_revision(body: RevisionCreate, db: DB, ctx: ProjectWrite):
    return revisions.create(db, ctx.actor, ctx.project, body.summary)


@router.get("", summary="List Revisions", response_model=RevisionPage)
def list_revisions(db: DB, ctx: ProjectRead, offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=200)):
    items, total = revisions.list_page(db, ctx.project, offset, limit)
    return {"items": items, "total": total}


@router.get("/{revision_id}", summary="Get Revision", response_model=RevisionResponse)
def get_revision(revision_id: uuid.UUID, db: DB, ctx: ProjectRead):
    return revisions.get(db, ctx.project, revision_id)


@router.get("/{revision_id}/diff", summary="Diff Revision", response_model=RevisionDiff)
def diff_revision(revision_id: uuid.UUID, db: DB, ctx: ProjectRead,
                  compare_to: uuid.UUID = Query(description="The older revision to compare against.")):
    return revisions.diff(db, ctx.project, revision_id, compare_to)
