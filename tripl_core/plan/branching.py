"""Which branch a plan operation reads or writes (docs/branches.md).

Every project has exactly one `main` branch, created with the project; working branches are copies of it. The
main branch's status is always `draft`, which here means "open for edits" (it is never reviewed or merged).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core.db.models.plan import (
    CLOSED_BRANCH_STATUSES,
    MAIN_BRANCH_STATUS,
    BranchKind,
    PlanBranch,
)
from tripl_core.db.models.projects import Project
from tripl_core.errors import Conflict, NotFound

MAIN_BRANCH_NAME = "main"


def create_main(db: Session, project: Project, created_by: uuid.UUID | None = None) -> PlanBranch:
    """The main branch of a new project (flushed, not committed: it is part of the project's creation)."""
    branch = PlanBranch(project_id=project.id, name=MAIN_BRANCH_NAME, kind=BranchKind.main,
                        status=MAIN_BRANCH_STATUS, description="", created_by=created_by)
    db.add(branch)
    db.flush()
    return branch


def main_branch(db: Session, project: Project) -> PlanBranch:
    branch = db.scalar(select(PlanBranch).where(PlanBranch.project_id == project.id,
                                                PlanBranch.kind == BranchKind.main))
    if branch is None:  # projects made before 0002_plan are backfilled by the migration; this is a safety net
        branch = create_main(db, project)
        db.commit()
    return branch


def resolve_branch(db: Session, project: Project, branch_id: uuid.UUID | None, *, for_write: bool) -> PlanBranch:
    """None → main; a branch of another project → 404; writing to a merged or closed branch → 409."""
    if branch_id is None:
        return main_branch(db, project)
    branch = db.get(PlanBranch, branch_id)
    if branch is None or branch.project_id != project.id:
        raise NotFound(f"Branch '{branch_id}' not found in project '{project.slug}'.")
    if for_write and branch.status in CLOSED_BRANCH_STATUSES:
        raise Conflict(f"Branch '{branch.name}' is {branch.status.value}; it can no longer be edited.")
    return branch
