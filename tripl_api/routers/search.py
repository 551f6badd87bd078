from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from tripl_api.deps import DB, ProjectRead, ProjectWrite
from tripl_api.schemas.search import ReindexResponse, SearchDocType, SearchResponse
from tripl_core.errors import Invalid
from tripl_core.plan.branching import resolve_branch
from tripl_core.search import index, query

router = APIRouter(prefix="/api/v1/projects/{slug}/search", tags=["search"])

BranchId = Annotated[uuid.UUID | None, Query(description="Search this plan branch instead of main.")]


@router.get("", summary="Search Project", response_model=SearchResponse)
def search_project(
    db: DB,
    ctx: ProjectRead,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    types: Annotated[list[SearchDocType] | None, Query(description="Only these document types.")] = None,
    include_archived: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    branch_id: BranchId = None,
):
    if not q.strip() or "\x00" in q:
        raise Invalid("q", "The query is blank or contains a NUL character.", loc_prefix="query")
    branch = resolve_branch(db, ctx.project, branch_id, for_write=False)
    res = query.search(db, ctx.project.id, branch.id, q.strip(), [t.value for t in types] if types else None,
                       include_archived, limit)
    return SearchResponse(items=[h.__dict__ for h in res.items], total=res.total, semantic_used=res.semantic_used)


@router.post("/reindex", summary="Reindex Project Search", response_model=ReindexResponse)
def reindex_project_search(db: DB, ctx: ProjectWrite, branch_id: BranchId = None):
    branch = resolve_branch(db, ctx.project, branch_id, for_write=False)
    count, scheduled = index.reindex(db, ctx.actor, ctx.project, branch.id)
    return ReindexResponse(documents_indexed=count, embeddings_scheduled=scheduled)
