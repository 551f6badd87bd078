"""Plan access: the project context plus the branch an operation works on (`?branch_id=`, default main).

Every plan router (events, event types, fields, owners, meta fields, variables, relations…) uses `PlanRead` for
reads and `PlanWrite` for writes, so branch scoping is the same everywhere.
No `from __future__ import annotations`: FastAPI must see the real `Annotated[...]` types (see deps.py).
"""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from tripl_api.deps import DB, ProjectRead, ProjectWrite
from tripl_core.audit import Actor
from tripl_core.db.models.plan import PlanBranch
from tripl_core.db.models.projects import Project
from tripl_core.plan.branching import resolve_branch
from tripl_core.plan.common import PlanScope

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


def plan_read(db: DB, ctx: ProjectRead, branch_id: BranchId = None) -> PlanAccess:
    return PlanAccess(ctx.project, ctx.actor, resolve_branch(db, ctx.project, branch_id, for_write=False))


def plan_write(db: DB, ctx: ProjectWrite, branch_id: BranchId = None) -> PlanAccess:
    return PlanAccess(ctx.project, ctx.actor, resolve_branch(db, ctx.project, branch_id, for_write=True))


PlanRead = Annotated[PlanAccess, Depends(plan_read)]
PlanWrite = Annotated[PlanAccess, Depends(plan_write)]
