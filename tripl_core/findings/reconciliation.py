"""Reconciliation of the plan with the warehouse: shadow events (names seen but not planned), dead events
(planned, live, but silent) and coverage (how much of the warehouse volume the plan explains).

- Accepting a shadow event creates the plan event on the main branch through the events service (validation,
  history and audit as for Create Event) and links the candidate; a second accept is 409. Required fields the
  caller leaves out get a `{field}` placeholder when their type admits one (the value varies in the warehouse);
  required enum/boolean fields must be given in `field_values` (beyond the reference's body: optional).
- Dead events are main-branch events with status implemented or live whose `last_seen_at` (written by the
  scans) is older than `days`, or that were never seen, or that the scans found dead (regular, then silent far
  longer than their usual gap: `dead_events`, `tripl_core.scanning.deadness`) whatever `days` says; only when the
  project has a scan config (without one, silence means nothing).
- Coverage over the last `days` from `observed_names`: per plan event type, the volume mapped to it and the part
  mapped to plan events; per event, whether it was seen. `coverage` = matched volume / total volume.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.base import utcnow
from tripl_core.db.models.dead_events import DeadEvent
from tripl_core.db.models.findings import ShadowEventCandidate, ShadowStatus
from tripl_core.db.models.metrics import ObservedName
from tripl_core.db.models.plan import Event, EventStatus, EventType, FieldDefinition, PlanBranch
from tripl_core.db.models.projects import Project
from tripl_core.errors import Conflict, Invalid, NotFound
from tripl_core.findings import common
from tripl_core.plan import events as event_service
from tripl_core.plan.common import PlanScope
from tripl_core.plan.values import PLACEHOLDER_TYPES

DEAD_STATUSES = (EventStatus.implemented, EventStatus.live)


def _main_scope(db: Session, project: Project) -> PlanScope:
    branch = db.get(PlanBranch, common.main_branch_id(db, project))
    assert branch is not None
    return PlanScope(project, branch)


def list_shadow(db: Session, project: Project, status: ShadowStatus | None, limit: int) -> dict[str, Any]:
    """Biggest first; `total` counts the filtered candidates, `new_count` the new, still unplanned ones."""
    where = [ShadowEventCandidate.project_id == project.id]
    if status is not None:
        where.append(ShadowEventCandidate.status == status)
    total = db.scalar(select(func.count()).select_from(ShadowEventCandidate).where(*where)) or 0
    new_count = db.scalar(select(func.count()).select_from(ShadowEventCandidate).where(
        ShadowEventCandidate.project_id == project.id, ShadowEventCandidate.status == ShadowStatus.new,
        ShadowEventCandidate.is_active.is_(True))) or 0
    items = list(db.scalars(select(ShadowEventCandidate).where(*where).order_by(
        ShadowEventCandidate.total_count.desc(), ShadowEventCandidate.name, ShadowEventCandidate.id).limit(limit)))
    return {"items": items, "total": total, "new_count": new_count}


def _candidate(db: Session, project: Project, candidate_id: uuid.UUID) -> ShadowEventCandidate:
    c = db.get(ShadowEventCandidate, candidate_id)
    if c is None or c.project_id != project.id:
        raise NotFound(f"Shadow event '{candidate_id}' not found.")
    return c


def _required_values(db: Session, et: EventType, given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The values sent, plus a `{field}` placeholder ("varies, as observed") for each required string, number,
    url or json field left out. Required enum/boolean fields have no neutral value: 422 asks for them."""
    named = {v.get("field_name") for v in given} | {str(v.get("field_definition_id")) for v in given}
    values = list(given)
    required = db.scalars(select(FieldDefinition).where(FieldDefinition.event_type_id == et.id,
                                                        FieldDefinition.is_required.is_(True))
                          .order_by(FieldDefinition.order, FieldDefinition.name))
    for f in required:
        if f.name in named or str(f.id) in named:
            continue
        if f.field_type in PLACEHOLDER_TYPES and re.fullmatch(r"[a-z][a-z0-9_]*", f.name):
            values.append({"field_name": f.name, "value": f"{{{f.name}}}"})
        else:
            raise Invalid("field_values", f"Event type '{et.name}' requires field '{f.name}' ({f.field_type.value});"
                                          f" give its value in field_values.")
    return values


def accept_shadow(db: Session, actor: audit.Actor, project: Project, candidate_id: uuid.UUID,
                  event_type_id: uuid.UUID | None, name: str | None,
                  field_values: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    c = _candidate(db, project, candidate_id)
    if c.status == ShadowStatus.accepted:
        raise Conflict(f"Shadow event '{c.name}' was already accepted.")
    scope = _main_scope(db, project)
    etid = event_type_id or c.event_type_id
    if etid is None:
        raise Invalid("event_type_id", f"'{c.name}' was seen under no plan event type "
                                       f"('{c.event_type_value}'); give event_type_id.")
    et = db.get(EventType, etid)
    if et is None or et.branch_id != scope.branch_id:
        raise Invalid("event_type_id", f"Event type '{etid}' does not exist in the project's main plan.")
    values = _required_values(db, et, field_values or [])
    description = f"Accepted from the warehouse: seen {c.total_count} times between {c.first_seen_at:%Y-%m-%d} " \
                  f"and {c.last_seen_at:%Y-%m-%d}."
    [event] = event_service.create_many(db, actor, scope, [{
        "event_type_id": et.id, "name": name if name is not None else c.name, "status": EventStatus.live,
        "description": description, "field_values": values}], bulk=False, commit=False)
    event.last_seen_at = c.last_seen_at
    c.status, c.event_id, c.is_active = ShadowStatus.accepted, event.id, False
    audit.record(db, actor, "shadow_event.accept", "shadow_event", c.id, c.name, project=project,
                 after={"event_id": str(event.id), "event_type_id": str(et.id)},
                 message=f"{actor.label} accepted shadow event '{c.name}' as plan event '{event.name}'")
    db.commit()
    return {"candidate_id": c.id, "event_id": event.id, "status": c.status.value}


def dismiss_shadow(db: Session, actor: audit.Actor, project: Project, candidate_id: uuid.UUID) -> dict[str, Any]:
    c = _candidate(db, project, candidate_id)
    if c.status == ShadowStatus.accepted:
        raise Conflict(f"Shadow event '{c.name}' was accepted; delete its plan event instead.")
    if c.status != ShadowStatus.dismissed:
        c.status = ShadowStatus.dismissed
        audit.record(db, actor, "shadow_event.dismiss", "shadow_event", c.id, c.name, project=project,
                     message=f"{actor.label} dismissed shadow event '{c.name}'")
        db.commit()
    return {"candidate_id": c.id, "status": c.status.value}


def dead_events(db: Session, project: Project, days: int) -> dict[str, Any]:
    """Silent implemented/live events, longest silent (never seen) first."""
    if not common.configs(db, project):
        return {"items": [], "total": 0, "days": days}
    now = utcnow()
    cutoff = now - timedelta(days=days)
    branch = common.main_branch_id(db, project)
    rows = db.execute(select(Event, EventType.name).join(EventType, EventType.id == Event.event_type_id).where(
        Event.branch_id == branch, Event.status.in_(DEAD_STATUSES),
        or_(Event.last_seen_at.is_(None), Event.last_seen_at < cutoff,
            Event.id.in_(select(DeadEvent.event_id).where(DeadEvent.project_id == project.id,
                                                          DeadEvent.status == "open")))).order_by(
        Event.last_seen_at.asc().nulls_first(), Event.name)).all()
    items = [{"event_id": e.id, "name": e.name, "event_type_id": e.event_type_id, "event_type_name": tname,
              "status": e.status.value, "last_seen_at": e.last_seen_at,
              "days_silent": (now - e.last_seen_at).days if e.last_seen_at else None} for e, tname in rows]
    return {"items": items, "total": len(items), "days": days}


def archive_dead(db: Session, actor: audit.Actor, project: Project, event_ids: list[uuid.UUID],
                 status: EventStatus) -> dict[str, Any]:
    if not event_ids:
        raise Invalid("event_ids", "Give at least one event id.")
    ids = list(dict.fromkeys(event_ids))
    changed = event_service.bulk_update(db, actor, _main_scope(db, project), ids, {"status": status})
    return {"event_ids": [e.id for e in changed], "status": status.value, "archived_count": len(changed)}


def coverage(db: Session, project: Project, days: int, named: uuid.UUID | None) -> dict[str, Any]:
    cfg_ids = [common.named_config(db, project, named).id] if named else [c.id for c in common.configs(db, project)]
    since = utcnow() - timedelta(days=days)
    volume: list[Any] = []
    if cfg_ids:
        volume = db.execute(select(ObservedName.event_type_id, ObservedName.event_id,
                                   func.sum(ObservedName.count), func.count(func.distinct(ObservedName.event_name)))
                            .where(ObservedName.scan_config_id.in_(cfg_ids), ObservedName.bucket >= since)
                            .group_by(ObservedName.event_type_id, ObservedName.event_id)).all()
    per_event = {eid: int(n) for _, eid, n, _ in volume if eid is not None}
    per_type: dict[uuid.UUID | None, list[int]] = {}
    unmatched_names = 0
    for etid, eid, n, names in volume:
        acc = per_type.setdefault(etid, [0, 0])
        acc[0] += int(n)
        if eid is not None:
            acc[1] += int(n)
        else:
            unmatched_names += int(names)
    branch = common.main_branch_id(db, project)
    types = db.execute(select(EventType.id, EventType.name).where(EventType.branch_id == branch)
                       .order_by(EventType.order, EventType.name)).all()
    events = db.execute(select(Event.id, Event.name, Event.event_type_id, Event.status).where(
        Event.branch_id == branch).order_by(Event.order, Event.name)).all()
    by_type: dict[uuid.UUID, list[Any]] = {}
    for e in events:
        by_type.setdefault(e.event_type_id, []).append(e)
    items = []
    for tid, tname in types:
        evs = [{"event_id": e.id, "name": e.name, "status": e.status.value, "count": per_event.get(e.id, 0),
                "seen": per_event.get(e.id, 0) > 0} for e in by_type.get(tid, [])]
        total, matched = per_type.get(tid, [0, 0])
        items.append({"event_type_id": tid, "name": tname, "planned_events": len(evs),
                      "seen_events": sum(e["seen"] for e in evs), "volume": total, "matched_volume": matched,
                      "coverage": matched / total if total else None, "events": evs})
    total = sum(v[0] for v in per_type.values())
    matched = sum(v[1] for v in per_type.values())
    summary = {"planned_event_types": len(types), "seen_event_types": sum(1 for i in items if i["volume"] > 0),
               "planned_events": len(events), "seen_events": sum(i["seen_events"] for i in items),
               "total_volume": total, "matched_volume": matched, "unmatched_volume": total - matched,
               "unmatched_names": unmatched_names, "coverage": matched / total if total else None}
    return {"items": items, "summary": summary, "days": days}
