"""Plan access: the project context plus the branch an operation works on (`?branch_id=`, default main).

Every plan router (events, event types, fields, owners, meta fields, variables, relations…) uses `PlanRead` for
reads and `PlanWrite` for writes, so branch scoping is the same everywhere.
No `from __future__ import annotations`: FastAPI must see the real `Annotated[...]` types (see deps.py).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query

from tripl_api.deps import DB, check_key_project, require
from tripl_core.audit import Actor
from tripl_core.db.models.auth import UserRole
from tripl_core.db.models.plan import PlanBranch
from tripl_core.db.models.projects import Project
from tripl_core.plan.common import PlanScope
from tripl_core.plan.lookup import project_and_branch

BranchId = Annotated[
    uuid.UUID | None,
    Query(description="Plan branch to read or write; the project's main branch when omitted."),
]


@dataclass
class PlanAccess:
    project: Project
    actor: Actor
    branch: PlanBranch

    @property
    def scope(self) -> PlanScope:
        return PlanScope(self.project, self.branch)


def _plan_access(role: UserRole, write: bool) -> Callable[..., PlanAccess]:
    """The project's checks (`deps._project_access`) plus the branch; project and main branch in one query."""

    def dep(db: DB, slug: Annotated[str, Path(description="Project slug")],
            actor: Annotated[Actor, Depends(require(role, write))], branch_id: BranchId = None) -> PlanAccess:
        project, branch = project_and_branch(db, slug, branch_id, for_write=write)
        check_key_project(actor, project)
        return PlanAccess(project, actor, branch)

    return dep


PlanRead = Annotated[PlanAccess, Depends(_plan_access(UserRole.viewer, write=False))]
PlanWrite = Annotated[PlanAccess, Depends(_plan_access(UserRole.editor, write=True))]
