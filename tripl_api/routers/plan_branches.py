"""plan-branches: working branches of a project's plan, their review, diff, conflicts and merge."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from tripl_api.deps import DB, ProjectComment, ProjectRead, ProjectWrite
from tripl_api.schemas.plan_branches import (
    BranchConflicts,
    BranchCreate,
    BranchDetail,
    BranchDiff,
    BranchPage,
    BranchResponse,
    CommentCreate,
    CommentResponse,
    ResolutionCreate,
    ResolutionResponse,
    ReviewerAdd,
    ReviewerResponse,
    TransitionRequest,
)
from tripl_core import service_settings
from tripl_core.db.models.plan import PlanBranch
from tripl_core.plan import branch_ops, review

router = APIRouter(prefix="/api/v1/projects/{slug}/branches", tags=["plan-branches"])


def detail(db: Session, branch: PlanBranch) -> BranchDetail:
    out = BranchDetail.model_validate(branch)
    out.reviewers = [ReviewerResponse.model_validate(r) for r in review.reviewers(db, branch)]
    out.approvals = [ReviewerResponse.model_validate(a) for a in review.approvals(db, branch)]
    return out


@router.get("", summary="List Branches", response_model=BranchPage)
def list_branches(db: DB, ctx: ProjectRead):
    items = branch_ops.list_all(db, ctx.project)
    return {"items": items, "total": len(items)}


@router.post("", summary="Create Branch", response_model=BranchResponse, status_code=201)
def create_branch(body: BranchCreate, db: DB, ctx: ProjectWrite):
    return branch_ops.create(db, ctx.actor, ctx.project, body.name, body.description)


@router.get("/{branch_id}", summary="Get Branch", response_model=BranchDetail)
def get_branch(branch_id: uuid.UUID, db: DB, ctx: ProjectRead):
    return detail(db, branch_ops.get(db, ctx.project, branch_id))


@router.delete("/{branch_id}", summary="Delete Branch", status_code=204)
def delete_branch(branch_id: uuid.UUID, db: DB, ctx: ProjectWrite) -> Response:
    branch_ops.delete(db, ctx.actor, ctx.project, branch_ops.get(db, ctx.project, branch_id))
    return Response(status_code=204)


@router.post("/{branch_id}/transition", summary="Transition Branch", response_model=BranchDetail)
def transition_branch(branch_id: uuid.UUID, body: TransitionRequest, db: DB, ctx: ProjectWrite):
    branch = branch_ops.get(db, ctx.project, branch_id)
    return detail(db, review.transition(db, ctx.actor, ctx.project, branch, body.action))


@router.post("/{branch_id}/reviewers", summary="Add Reviewer", response_model=ReviewerResponse, status_code=201)
def add_reviewer(branch_id: uuid.UUID, body: ReviewerAdd, db: DB, ctx: ProjectWrite):
    branch = branch_ops.get(db, ctx.project, branch_id)
    return review.add_reviewer(db, ctx.actor, ctx.project, branch, body.user_id)


@router.delete("/{branch_id}/reviewers/{user_id}", summary="Remove Reviewer", status_code=204)
def remove_reviewer(branch_id: uuid.UUID, user_id: uuid.UUID, db: DB, ctx: ProjectWrite) -> Response:
    review.remove_reviewer(db, ctx.actor, ctx.project, branch_ops.get(db, ctx.project, branch_id), user_id)
    return Response(status_code=204)


@router.get("/{branch_id}/comments", summary="List Comments", response_model=list[CommentResponse])
def list_comments(branch_id: uuid.UUID, db: DB, ctx: ProjectRead):
    return review.comments(db, branch_ops.get(db, ctx.project, branch_id))


@router.post("/{branch_id}/comments", summary="Create Comment", response_model=CommentResponse, status_code=201)
def create_comment(branch_id: uuid.UUID, body: CommentCreate, db: DB, ctx: ProjectComment):
    branch = branch_ops.get(db, ctx.project, branch_id)
    allowed = bool(service_settings.effective(db).viewer_comments_enabled)
    return review.add_comment(db, ctx.actor, ctx.project, branch, body.body, body.parent_id, allowed)


@router.delete("/{branch_id}/comments/{comment_id}", summary="Delete Comment", status_code=204)
def delete_comment(branch_id: uuid.UUID, comment_id: uuid.UUID, db: DB, ctx: ProjectComment) -> Response:
    review.delete_comment(db, ctx.actor, ctx.project, branch_ops.get(db, ctx.project, branch_id), comment_id)
    return Response(status_code=204)


@router.get("/{branch_id}/diff", summary="Diff Branch", response_model=BranchDiff)
def diff_branch(branch_id: uuid.UUID, db: DB, ctx: ProjectRead):
    return branch_ops.diff(db, ctx.project, branch_ops.get(db, ctx.project, branch_id))


@router.get("/{branch_id}/conflicts", summary="Get Branch Conflicts", response_model=BranchConflicts)
def get_branch_conflicts(branch_id: uuid.UUID, db: DB, ctx: ProjectRead):
    return branch_ops.conflicts(db, ctx.project, branch_ops.get(db, ctx.project, branch_id))


@router.post("/{branch_id}/resolutions", summary="Save Branch Resolution", response_model=ResolutionResponse,
             status_code=201)
def save_branch_resolution(branch_id: uuid.UUID, body: ResolutionCreate, db: DB, ctx: ProjectWrite):
    branch = branch_ops.get(db, ctx.project, branch_id)
    return branch_ops.save_resolution(db, ctx.actor, ctx.project, branch, body.entity_type, body.entity_name,
                                      body.field_name, body.choice)


@router.delete("/{branch_id}/resolutions/{resolution_id}", summary="Delete Branch Resolution", status_code=204)
def delete_branch_resolution(branch_id: uuid.UUID, resolution_id: uuid.UUID, db: DB, ctx: ProjectWrite) -> Response:
    branch = branch_ops.get(db, ctx.project, branch_id)
    branch_ops.delete_resolution(db, ctx.actor, ctx.project, branch, resolution_id)
    return Response(status_code=204)


@router.post("/{branch_id}/merge", summary="Merge Branch", response_model=BranchDetail)
def merge_branch(branch_id: uuid.UUID, db: DB, ctx: ProjectWrite):
    branch = branch_ops.get(db, ctx.project, branch_id)
    return detail(db, branch_ops.merge(db, ctx.actor, ctx.project, branch))
