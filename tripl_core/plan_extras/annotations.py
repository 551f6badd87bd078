"""Chart annotations: markers (a release, a campaign, an incident) drawn on metric charts at one bucket.

Scope follows the metrics: `project_total` (no scope_ref), `event_type` or `event` (scope_ref = the id of one of
main's event types / events; charts show main's ids). Filters: exact scope, and `time_from <= bucket <= time_to`.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.plan import BranchKind, Event, EventType, PlanBranch
from tripl_core.db.models.plan_extras import ChartAnnotation, ChartAnnotationScopeType
from tripl_core.db.models.projects import Project
from tripl_core.errors import Invalid, NotFound

COLOR_RE = re.compile(r"^(#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})|[a-zA-Z]{3,20})$")
AUDIT_FIELDS = ["scope_type", "scope_ref", "bucket", "label", "description", "color"]
_SCOPED_MODELS: dict[ChartAnnotationScopeType, type[EventType] | type[Event]] = {
    ChartAnnotationScopeType.event_type: EventType,
    ChartAnnotationScopeType.event: Event,
}


def _utc(value: datetime) -> datetime:
    """Timestamps without a zone are taken as UTC (buckets are UTC everywhere)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _check_scope(db: Session, project: Project, scope_type: ChartAnnotationScopeType,
                 scope_ref: str | None) -> str | None:
    ref = (scope_ref or "").strip() or None
    if scope_type == ChartAnnotationScopeType.project_total:
        if ref is not None:
            raise Invalid("scope_ref", "Leave scope_ref empty for scope_type 'project_total'.")
        return None
    if ref is None:
        raise Invalid("scope_ref", f"scope_type '{scope_type.value}' needs scope_ref (the {scope_type.value} id).")
    try:
        ref_id = uuid.UUID(ref)
    except ValueError:
        raise Invalid("scope_ref", f"Must be the id (UUID) of a {scope_type.value.replace('_', ' ')}.") from None
    model = _SCOPED_MODELS[scope_type]
    found = db.scalar(
        select(model.id).join(PlanBranch, PlanBranch.id == model.branch_id)
        .where(model.id == ref_id, model.project_id == project.id, PlanBranch.kind == BranchKind.main)
    )
    if found is None:
        raise Invalid("scope_ref", f"No {scope_type.value.replace('_', ' ')} '{ref}' on this project's main plan.")
    return str(ref_id)


def create(db: Session, actor: audit.Actor, project: Project, *, bucket: datetime, label: str,
           description: str | None = None, color: str = "#ef4444",
           scope_type: ChartAnnotationScopeType | None = None, scope_ref: str | None = None) -> ChartAnnotation:
    label = label.strip()
    if not label:
        raise Invalid("label", "Must not be empty or blank.")
    if not COLOR_RE.match(color):
        raise Invalid("color", "Use a hex color such as '#ef4444' or a CSS color name.")
    stype = scope_type or ChartAnnotationScopeType.project_total
    ann = ChartAnnotation(project_id=project.id, scope_type=stype, scope_ref=_check_scope(db, project, stype,
                                                                                          scope_ref),
                          bucket=_utc(bucket), label=label, description=description, color=color,
                          created_by_user_id=actor.user.id)
    db.add(ann)
    db.flush()
    audit.record(db, actor, "chart_annotation.create", "chart_annotation", ann.id, label, project=project,
                 after=audit.snapshot(ann, AUDIT_FIELDS))
    db.commit()
    return ann


def list_annotations(db: Session, project: Project, *, scope_type: ChartAnnotationScopeType | None = None,
                     scope_ref: str | None = None, time_from: datetime | None = None,
                     time_to: datetime | None = None) -> list[ChartAnnotation]:
    if time_from is not None and time_to is not None and _utc(time_from) > _utc(time_to):
        raise Invalid("time_to", "Must not be before time_from.", loc_prefix="query")
    stmt = select(ChartAnnotation).where(ChartAnnotation.project_id == project.id)
    if scope_type is not None:
        stmt = stmt.where(ChartAnnotation.scope_type == scope_type)
    if scope_ref:
        stmt = stmt.where(ChartAnnotation.scope_ref == scope_ref.strip().lower())
    if time_from is not None:
        stmt = stmt.where(ChartAnnotation.bucket >= _utc(time_from))
    if time_to is not None:
        stmt = stmt.where(ChartAnnotation.bucket <= _utc(time_to))
    return list(db.scalars(stmt.order_by(ChartAnnotation.bucket, ChartAnnotation.created_at)))


def delete(db: Session, actor: audit.Actor, project: Project, annotation_id: uuid.UUID) -> None:
    ann = db.get(ChartAnnotation, annotation_id)
    if ann is None or ann.project_id != project.id:
        raise NotFound(f"Chart annotation '{annotation_id}' not found.")
    audit.record(db, actor, "chart_annotation.delete", "chart_annotation", ann.id, ann.label, project=project,
                 before=audit.snapshot(ann, AUDIT_FIELDS))
    db.delete(ann)
    db.commit()
