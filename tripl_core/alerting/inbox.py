"""The alert inbox: delivered findings about one incident form a correlation group, handled as one.

An incident = one scope (plus field, for drifts) × kind × direction; a delivered item joins the newest open,
acknowledged or muted group of its incident whose latest bucket is within `alert_correlation_window_minutes`,
whichever rule or destination delivered it, otherwise it starts a new group. Resolved and false-positive groups
are closed: a later item starts a new group.

False positives are fed back through `alert_feedback` (one row per pattern = incident key × direction: count and
the largest |z| marked): once a pattern has `alert_false_positive_threshold` false positives, dispatch records
lookalikes (|z| not above the largest marked one) as `feedback` instead of sending them, and
`false_positive_patterns()` hands the same rows to the detector.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.alerting.candidates import Candidate
from tripl_core.db.models.alerting import (
    AlertCorrelationGroup,
    AlertDelivery,
    AlertDeliveryItem,
    AlertFeedback,
    GroupStatus,
)
from tripl_core.db.models.projects import Project
from tripl_core.errors import Invalid, NotFound

ACTIVE = (GroupStatus.open, GroupStatus.acknowledged, GroupStatus.muted)
ACTIONS = ("acknowledge", "resolve", "mute", "reopen", "false_positive")


def effective_status(group: AlertCorrelationGroup, now: datetime) -> GroupStatus:
    """A mute that ran out shows (and behaves) as open again."""
    if group.status == GroupStatus.muted and (group.muted_until is None or group.muted_until <= now):
        return GroupStatus.open
    return group.status


def assign_incident_groups(db: Session, incidents: list[list[Candidate]], window: timedelta, now: datetime
                           ) -> list[AlertCorrelationGroup]:
    """One inbox group per incident (its findings on several scopes are one item), in order.

    An incident joins the newest active group, within the window, that already holds one of its scopes in the
    same direction (another rule or destination may have delivered part of it); otherwise it starts a group keyed
    on its primary finding."""
    if not incidents:
        return []
    project_id = incidents[0][0].project_id
    db.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"alert-groups:{project_id}"})
    keys = {c.scope_key for inc in incidents for c in inc}
    oldest = min(c.latest for inc in incidents for c in inc) - window
    active = (AlertCorrelationGroup.project_id == project_id, AlertCorrelationGroup.status.in_(ACTIVE),
              AlertCorrelationGroup.latest_bucket >= oldest)
    pool = {g.id: g for g in db.scalars(select(AlertCorrelationGroup).where(
        *active, AlertCorrelationGroup.scope_key.in_(keys)))}
    members: dict[uuid.UUID, set[tuple[str, str]]] = {g.id: {(g.scope_key, g.direction or "")} for g in pool.values()}
    for gid, key, direction, group in db.execute(
            select(AlertDeliveryItem.correlation_group_id, AlertDeliveryItem.scope_key, AlertDeliveryItem.direction,
                   AlertCorrelationGroup)
            .join(AlertCorrelationGroup, AlertCorrelationGroup.id == AlertDeliveryItem.correlation_group_id)
            .where(*active, AlertDeliveryItem.scope_key.in_(keys))):
        pool.setdefault(gid, group)
        members.setdefault(gid, set()).add((key, direction or ""))
    out = []
    for inc in incidents:
        head = inc[0]
        lo, hi = min(c.at for c in inc) - window, max(c.latest for c in inc) + window
        wanted = {(c.scope_key, c.direction or "") for c in inc}
        fits = [g for g in pool.values() if members.get(g.id, set()) & wanted
                and g.latest_bucket >= lo and (g.first_bucket or g.latest_bucket) <= hi]
        group = max(fits, key=lambda g: g.latest_bucket) if fits else None
        if group is None:
            group = AlertCorrelationGroup(
                id=uuid.uuid4(), project_id=project_id, scope_key=head.scope_key, kind=head.kind,
                scope_type=head.scope_type, scope_ref=head.scope_ref, scope_name=head.scope_name,
                direction=head.direction, status=GroupStatus.open, false_positive_count=0,
                first_bucket=min(c.at for c in inc), latest_bucket=max(c.latest for c in inc))
            db.add(group)
            pool[group.id] = group
        members.setdefault(group.id, set()).update(wanted)
        _stretch(group, inc, now)
        out.append(group)
    db.flush()
    return out


def _stretch(group: AlertCorrelationGroup, cands: list[Candidate], now: datetime) -> None:
    group.latest_bucket = max([group.latest_bucket, *(c.latest for c in cands)] if group.latest_bucket else
                              [c.latest for c in cands])
    group.first_bucket = min([group.first_bucket, *(c.at for c in cands)] if group.first_bucket else
                             [c.at for c in cands])
    group.latest_delivery_at = now


def extend_groups(db: Session, updates: list[tuple[Candidate, uuid.UUID]], now: datetime) -> None:
    """Findings that joined an incident already notified: its inbox item now spans them (nothing is re-sent)."""
    groups = {g.id: g for g in db.scalars(select(AlertCorrelationGroup).where(
        AlertCorrelationGroup.id.in_({g for _, g in updates})))}
    for cand, gid in updates:
        group = groups.get(gid)
        if group is not None:
            _stretch(group, [cand], group.latest_delivery_at or now)


def muted_incidents(db: Session, project_ids: list[uuid.UUID], now: datetime) -> set[tuple[uuid.UUID, str, str]]:
    """(project, scope key, direction) of inbox groups muted right now: their new findings are not sent."""
    if not project_ids:
        return set()
    rows = db.execute(select(AlertCorrelationGroup.project_id, AlertCorrelationGroup.scope_key,
                             AlertCorrelationGroup.direction).where(
        AlertCorrelationGroup.project_id.in_(project_ids), AlertCorrelationGroup.status == GroupStatus.muted,
        AlertCorrelationGroup.muted_until > now))
    return {(p, k, d or "") for p, k, d in rows}


def feedback_for(db: Session, project_ids: list[uuid.UUID]) -> dict[tuple[uuid.UUID, str], AlertFeedback]:
    rows = db.scalars(select(AlertFeedback).where(AlertFeedback.project_id.in_(project_ids))) if project_ids else []
    return {(r.project_id, r.pattern_key): r for r in rows}


def suppressed_by_feedback(fb: AlertFeedback | None, cand: Candidate, threshold: int) -> bool:
    """Learned suppression: enough false positives of this pattern, and this one is no larger than them."""
    if fb is None or fb.false_positive_count < threshold:
        return False
    return cand.abs_z is None or fb.max_abs_z is None or cand.abs_z <= fb.max_abs_z


def false_positive_patterns(db: Session, project_id: uuid.UUID) -> list[dict[str, Any]]:
    """For the detector: patterns people marked as false positives (kind, scope, direction, count, max |z|)."""
    return [{"kind": r.kind, "scope_type": r.scope_type, "scope_ref": r.scope_ref, "direction": r.direction,
             "false_positive_count": r.false_positive_count, "max_abs_z": r.max_abs_z,
             "last_marked_at": r.last_marked_at}
            for r in db.scalars(select(AlertFeedback).where(AlertFeedback.project_id == project_id))]


# --- reading ------------------------------------------------------------------------------------------------

@dataclass
class GroupView:
    group: AlertCorrelationGroup
    status: GroupStatus
    item_count: int
    delivery_count: int
    scope_names: list[str]
    destination_names: list[str]
    rule_names: list[str]
    scan_names: list[str]


def _views(db: Session, groups: list[AlertCorrelationGroup], now: datetime) -> list[GroupView]:
    ids = [g.id for g in groups]
    agg: dict[uuid.UUID, Any] = {}
    if ids:
        rows = db.execute(
            select(AlertDeliveryItem.correlation_group_id, func.count(AlertDeliveryItem.id),
                   func.count(func.distinct(AlertDeliveryItem.delivery_id)),
                   func.array_agg(func.distinct(AlertDeliveryItem.scope_name)),
                   func.array_agg(func.distinct(AlertDelivery.destination_name)),
                   func.array_agg(func.distinct(AlertDelivery.rule_name)),
                   func.array_agg(func.distinct(AlertDelivery.scan_name)))
            .join(AlertDelivery, AlertDelivery.id == AlertDeliveryItem.delivery_id)
            .where(AlertDeliveryItem.correlation_group_id.in_(ids))
            .group_by(AlertDeliveryItem.correlation_group_id))
        agg = {r[0]: r for r in rows}

    def names(values: list[str | None] | None) -> list[str]:
        return sorted(v for v in (values or []) if v)

    out = []
    for g in groups:
        r = agg.get(g.id)
        out.append(GroupView(group=g, status=effective_status(g, now), item_count=r[1] if r else 0,
                             delivery_count=r[2] if r else 0,
                             scope_names=names(r[3]) if r else ([g.scope_name] if g.scope_name else []),
                             destination_names=names(r[4]) if r else [], rule_names=names(r[5]) if r else [],
                             scan_names=names(r[6]) if r else []))
    return out


def _status(value: str | None) -> GroupStatus | None:
    if value is None or value == "":
        return None
    try:
        return GroupStatus(value)
    except ValueError:
        raise Invalid("status", f"one of {', '.join(GroupStatus)}", loc_prefix="query") from None


def list_groups(db: Session, project: Project, status: str | None, offset: int, limit: int,
                now: datetime | None = None) -> tuple[list[GroupView], int]:
    """Newest incidents first. `status=open` includes groups whose mute has run out."""
    now = now or datetime.now(UTC)
    wanted = _status(status)
    stmt = select(AlertCorrelationGroup).where(AlertCorrelationGroup.project_id == project.id)
    expired_mute = (AlertCorrelationGroup.status == GroupStatus.muted) & (
        AlertCorrelationGroup.muted_until.is_(None) | (AlertCorrelationGroup.muted_until <= now))
    if wanted == GroupStatus.open:
        stmt = stmt.where((AlertCorrelationGroup.status == GroupStatus.open) | expired_mute)
    elif wanted == GroupStatus.muted:
        stmt = stmt.where(AlertCorrelationGroup.status == GroupStatus.muted, ~expired_mute)
    elif wanted is not None:
        stmt = stmt.where(AlertCorrelationGroup.status == wanted)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(db.scalars(stmt.order_by(AlertCorrelationGroup.latest_delivery_at.desc().nulls_last(),
                                         AlertCorrelationGroup.id).offset(offset).limit(limit)))
    return _views(db, rows, now), total


def get_group(db: Session, project: Project, group_id: uuid.UUID) -> AlertCorrelationGroup:
    group = db.get(AlertCorrelationGroup, group_id)
    if group is None or group.project_id != project.id:
        raise NotFound("Correlation group not found.")
    return group


def _record_false_positive(db: Session, group: AlertCorrelationGroup, now: datetime) -> None:
    """Teach dispatch every pattern of the incident: its primary scope and the related scopes listed with it."""
    patterns = {(group.scope_key, group.direction, group.kind, group.scope_type, group.scope_ref)}
    patterns |= set(db.execute(select(AlertDeliveryItem.scope_key, AlertDeliveryItem.direction,
                                      AlertDeliveryItem.kind, AlertDeliveryItem.scope_type,
                                      AlertDeliveryItem.scope_ref)
                               .where(AlertDeliveryItem.correlation_group_id == group.id)).all())
    max_z = db.scalar(select(func.max(func.abs(AlertDeliveryItem.z)))
                      .where(AlertDeliveryItem.correlation_group_id == group.id))
    for scope_key, direction, kind, scope_type, scope_ref in sorted(patterns, key=str):
        stmt = insert(AlertFeedback).values(
            project_id=group.project_id, pattern_key=f"{scope_key}|{direction or ''}", kind=kind,
            scope_type=scope_type, scope_ref=scope_ref, direction=direction,
            false_positive_count=1, max_abs_z=max_z, last_marked_at=now, created_at=now, updated_at=now)
        db.execute(stmt.on_conflict_do_update(
            index_elements=["project_id", "pattern_key"],
            set_={"false_positive_count": AlertFeedback.false_positive_count + 1,
                  "max_abs_z": func.greatest(AlertFeedback.max_abs_z, stmt.excluded.max_abs_z),
                  "last_marked_at": now, "updated_at": now}))


def apply_action(db: Session, actor: audit.Actor, project: Project, group: AlertCorrelationGroup, action: str,
                 note: str | None = None, muted_until: datetime | None = None,
                 now: datetime | None = None) -> GroupView:
    now = now or datetime.now(UTC)
    if action not in ACTIONS:
        raise Invalid("action", f"one of {', '.join(ACTIONS)}")
    before = {"status": effective_status(group, now).value, "muted_until": group.muted_until}
    if action == "mute":
        if muted_until is None:
            raise Invalid("muted_until", "required to mute")
        if muted_until.tzinfo is None:
            muted_until = muted_until.replace(tzinfo=UTC)
        if muted_until <= now:
            raise Invalid("muted_until", "must be in the future")
        group.status, group.muted_until = GroupStatus.muted, muted_until
    elif muted_until is not None:
        raise Invalid("muted_until", "only with action mute")
    else:
        group.status = {"acknowledge": GroupStatus.acknowledged, "resolve": GroupStatus.resolved,
                        "reopen": GroupStatus.open, "false_positive": GroupStatus.false_positive}[action]
        group.muted_until = None
    if action == "false_positive":
        group.false_positive_count += 1
        _record_false_positive(db, group, now)
    if note is not None:
        group.note = note.strip() or None
    group.acted_by, group.acted_at = actor.user.id, now
    audit.record(db, actor, f"alert_inbox.{action}", "alert_correlation_group", group.id, group.scope_name,
                 project=project, before=before,
                 after={"status": group.status.value, "muted_until": group.muted_until, "note": group.note},
                 message=f"{actor.label} applied '{action}' to alert incident '{group.scope_name or group.id}'")
    db.commit()
    return _views(db, [group], now)[0]
