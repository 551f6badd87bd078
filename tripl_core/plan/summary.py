"""The plan's part of a project's `summary`: counts on the main branch, one query per count for all projects."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core.db.models.plan import BranchKind, Event, EventType, FieldDefinition, PlanBranch


def plan_summary(db: Session, project_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    mains = select(PlanBranch.id).where(PlanBranch.project_id.in_(project_ids), PlanBranch.kind == BranchKind.main)
    out: dict[uuid.UUID, dict[str, Any]] = {pid: {"event_types": 0, "events": 0, "events_by_status": {},
                                                   "fields": 0} for pid in project_ids}
    for pid, n in db.execute(select(EventType.project_id, func.count()).where(EventType.branch_id.in_(mains))
                             .group_by(EventType.project_id)):
        out[pid]["event_types"] = n
    for pid, status, n in db.execute(select(Event.project_id, Event.status, func.count())
                                     .where(Event.branch_id.in_(mains)).group_by(Event.project_id, Event.status)):
        out[pid]["events_by_status"][status.value] = n
        out[pid]["events"] += n
    for pid, n in db.execute(select(EventType.project_id, func.count(FieldDefinition.id))
                             .join(FieldDefinition, FieldDefinition.event_type_id == EventType.id)
                             .where(EventType.branch_id.in_(mains)).group_by(EventType.project_id)):
        out[pid]["fields"] = n
    return out
