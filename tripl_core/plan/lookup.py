"""Where every plan request starts: the project by slug and the branch it works on.

Separate from `branching` because `projects` creates main branches through `branching`, and this needs
`projects.get_by_slug`: in one module they would import each other.
"""

from __future__ import annotations

import uuid

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from tripl_core.db.models.plan import BranchKind, PlanBranch
from tripl_core.db.models.projects import Project
from tripl_core.plan import branching
from tripl_core.projects import get_by_slug


def project_and_branch(db: Session, slug: str, branch_id: uuid.UUID | None, *,
                       for_write: bool) -> tuple[Project, PlanBranch]:
    """The project by slug and the branch an operation works on (`resolve_branch`); the usual case — main — in
    one query, since every plan request starts here."""
    if branch_id is not None:
        project = get_by_slug(db, slug)
        return project, branching.resolve_branch(db, project, branch_id, for_write=for_write)
    row = db.execute(select(Project, PlanBranch).outerjoin(PlanBranch, and_(
        PlanBranch.project_id == Project.id, PlanBranch.kind == BranchKind.main)).where(Project.slug == slug)).first()
    if row is None:
        get_by_slug(db, slug)  # raises its 404
    project, branch = row
    return project, branch if branch is not None else branching.main_branch(db, project)
