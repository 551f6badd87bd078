"""The finding pages alert links open (tripl_core/links.py): signal, schema drift, distribution drift, release
regression, shadow event, dead event, and the inbox. Each page says what happened, shows the evidence and a
chart, and offers the actions the API has for that finding; the actions call the same functions the API does.

Signals and release regressions have no action of their own in the API: people act on them through the alert
inbox (acknowledge, resolve, mute, mark false positive), so their pages show the inbox incidents that delivered
them. Schema drifts have their own actions (accept, snooze, false positive, reopen), shadow events accept and
dismiss, dead events archive.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core.alerting import inbox
from tripl_core.console.chart import volume_chart
from tripl_core.console.names import Names
from tripl_core.db.base import utcnow
from tripl_core.db.models.alerting import AlertCorrelationGroup, AlertDeliveryItem
from tripl_core.db.models.findings import (
    AnomalySignal,
    DistributionDrift,
    ReleaseRegression,
    SchemaDrift,
    ShadowEventCandidate,
)
from tripl_core.db.models.metrics import ScopeType
from tripl_core.db.models.plan import EventType
from tripl_core.db.models.projects import Project
from tripl_core.errors import Invalid, NotFound
from tripl_core.findings import common, reconciliation, rootcause, series

BEFORE, AFTER = timedelta(days=3), timedelta(days=1)
DEAD_DAYS = 30  # silent this long while planned as implemented or live (as the overview lists them)


def _owned(db: Session, model: type[Any], project: Project, finding_id: uuid.UUID, label: str) -> Any:
    row = db.get(model, finding_id)
    if row is None or row.project_id != project.id:
        raise NotFound(f"{label} '{finding_id}' not found.")
    return row


def groups_for(db: Session, project: Project, finding_id: uuid.UUID) -> list[dict[str, Any]]:
    """Inbox incidents that delivered this finding (newest first), with their status as the inbox shows it."""
    ids = list(db.scalars(select(AlertDeliveryItem.correlation_group_id).where(
        AlertDeliveryItem.finding_id == finding_id, AlertDeliveryItem.correlation_group_id.is_not(None))
        .distinct()))
    if not ids:
        return []
    rows = list(db.scalars(select(AlertCorrelationGroup).where(
        AlertCorrelationGroup.project_id == project.id, AlertCorrelationGroup.id.in_(ids))
        .order_by(AlertCorrelationGroup.latest_delivery_at.desc().nulls_last())))
    now = utcnow()
    return [{"group": g, "status": inbox.effective_status(g, now).value} for g in rows]


def _chart_for(db: Session, project: Project, scope_type: ScopeType, scope_ref: uuid.UUID | None,
               cfg_id: uuid.UUID | None, since: datetime, until: datetime) -> dict[str, Any]:
    start = since - BEFORE
    end = min(until + AFTER, max(utcnow(), until + timedelta(hours=1)))
    data = series.scope_series(db, project, scope_type, scope_ref, named=cfg_id, time_from=start, time_to=end)
    return {"series": data, "chart": volume_chart(data["data"], data["forecast"], since, until)}


def signal_page(db: Session, project: Project, signal_id: uuid.UUID) -> dict[str, Any]:
    s = _owned(db, AnomalySignal, project, signal_id, "Signal")
    names = Names(db, project)
    out = {"signal": s, "name": names.scope(s.scope_type.value, s.scope_ref),
           **_chart_for(db, project, s.scope_type, s.scope_ref, s.scan_config_id, s.since, s.bucket),
           "groups": groups_for(db, project, s.id), "movers": []}
    with contextlib.suppress(Invalid, NotFound):
        out["movers"] = rootcause.movers(db, project, s.scan_config_id, s.scope_type.value,
                                         str(s.scope_ref) if s.scope_ref else None, s.bucket, 8)
    return out


def drift_page(db: Session, project: Project, drift_id: uuid.UUID) -> dict[str, Any]:
    d = _owned(db, SchemaDrift, project, drift_id, "Schema drift")
    et = db.get(EventType, d.event_type_id)
    return {"drift": d, "type_name": et.display_name if et else "",
            **_chart_for(db, project, ScopeType.event_type, d.event_type_id, d.scan_config_id, d.detected_at,
                         d.last_seen_at),
            "groups": groups_for(db, project, d.id)}


def distribution_drift_page(db: Session, project: Project, drift_id: uuid.UUID) -> dict[str, Any]:
    d = _owned(db, DistributionDrift, project, drift_id, "Distribution drift")
    names = Names(db, project)
    edges = list(d.edges or [])
    bins = []
    cur_total, base_total = max(sum(d.current_hist), 1), max(sum(d.baseline_hist), 1)
    for i, (c, b) in enumerate(zip(d.current_hist, d.baseline_hist, strict=False)):
        label = f"{edges[i]:g} – {edges[i + 1]:g}" if i + 1 < len(edges) else (str(edges[i]) if i < len(edges)
                                                                               else f"bin {i + 1}")
        bins.append({"label": label, "current": c, "baseline": b, "current_share": c / cur_total,
                     "baseline_share": b / base_total})
    return {"drift": d, "name": names.scope(d.scope_type.value, d.scope_ref), "bins": bins,
            **_chart_for(db, project, d.scope_type, d.scope_ref, d.scan_config_id, d.window_start, d.window_end),
            "groups": groups_for(db, project, d.id)}


def release_page(db: Session, project: Project, regression_id: uuid.UUID) -> dict[str, Any]:
    r = _owned(db, ReleaseRegression, project, regression_id, "Release regression")
    names = Names(db, project)
    since = r.detected_at - timedelta(days=1)
    return {"regression": r, "name": names.scope(r.scope_type.value, r.scope_ref),
            **_chart_for(db, project, r.scope_type, r.scope_ref, r.scan_config_id, since, r.detected_at),
            "groups": groups_for(db, project, r.id)}


def shadow_page(db: Session, project: Project, candidate_id: uuid.UUID) -> dict[str, Any]:
    c = _owned(db, ShadowEventCandidate, project, candidate_id, "Shadow event")
    branch = common.main_branch_id(db, project)
    types = list(db.scalars(select(EventType).where(EventType.branch_id == branch).order_by(EventType.name)))
    return {"candidate": c, "types": types,
            "type_name": next((t.display_name for t in types if t.id == c.event_type_id), "")}


def dead_page(db: Session, project: Project, event_id: uuid.UUID) -> dict[str, Any]:
    """A dead event is keyed on the event: silent while planned as implemented or live."""
    event = common.main_event(db, project, event_id)
    dead = reconciliation.dead_events(db, project, DEAD_DAYS)["items"]
    listed = next((i for i in dead if i["event_id"] == event.id), None)
    now = utcnow()
    data = series.event_series(db, project, event.id, now - timedelta(days=30), now)
    return {"event": event, "dead": listed, "series": data,
            "chart": volume_chart(data["data"], data["forecast"]),
            "type_name": Names(db, project).load(type_ids=[event.event_type_id]).types.get(event.event_type_id, "")}


def inbox_page(db: Session, project: Project, status: str | None) -> dict[str, Any]:
    views, total = inbox.list_groups(db, project, status or None, 0, 100)
    return {"groups": views, "total": total, "status": status or ""}
