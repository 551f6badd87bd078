"""Project summary counts of variables, relations and photos (main branch), for List/Get Project."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core.db.models.plan import BranchKind, PlanBranch
from tripl_core.db.models.plan_extras import EventPhoto, Relation, Variable


def plan_extras_summary(db: Session, project_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """One grouped statement per table, whatever the number of projects."""
    out: dict[uuid.UUID, dict[str, Any]] = {pid: {"variables": 0, "relations": 0, "photos": 0}
                                            for pid in project_ids}
    mains = select(PlanBranch.id).where(PlanBranch.project_id.in_(project_ids), PlanBranch.kind == BranchKind.main)
    for key, model in (("variables", Variable), ("relations", Relation)):
        for pid, n in db.execute(select(model.project_id, func.count()).where(model.branch_id.in_(mains))
                                 .group_by(model.project_id)):
            out[pid][key] = n
    for pid, n in db.execute(select(EventPhoto.project_id, func.count())
                             .where(EventPhoto.project_id.in_(project_ids)).group_by(EventPhoto.project_id)):
        out[pid]["photos"] = n
    return out
