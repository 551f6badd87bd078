"""Monitors: one per rule, its state computed from current findings and its delivery history.

- active scopes: scopes with a current finding the rule watches (kind, scope type and filters match): open
  volume incidents, open schema drifts, distribution drifts / release regressions of the dispatch look-back;
- firing scopes: active scopes whose finding also passes the rule's direction and thresholds;
- status: `muted` while muted_until is in the future; else `firing` with a firing scope; `warning` with active
  scopes below the thresholds or when the latest delivery failed; `healthy` otherwise.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core import service_settings
from tripl_core.alerting import candidates as cand_mod
from tripl_core.alerting import matching
from tripl_core.alerting.candidates import Candidate
from tripl_core.alerting.rules import is_muted
from tripl_core.db.models.alerting import (
    AlertDelivery,
    AlertDestination,
    AlertMatch,
    AlertRule,
    DeliveryStatus,
    MatchOutcome,
)
from tripl_core.db.models.projects import Project


@dataclass
class MonitorView:
    rule: AlertRule
    destination: AlertDestination
    status: str
    active_scope_count: int
    firing_scope_count: int
    last_anomaly_at: datetime | None
    last_notified_at: datetime | None
    total_deliveries: int
    last_delivery_at: datetime | None
    last_delivery_status: str | None

    def as_dict(self) -> dict[str, Any]:
        r, d = self.rule, self.destination
        return {
            "rule_id": r.id, "rule_name": r.name, "destination_id": d.id, "destination_name": d.name,
            "destination_type": d.type.value, "enabled": r.enabled and d.enabled, "status": self.status,
            "active_scope_count": self.active_scope_count, "firing_scope_count": self.firing_scope_count,
            "last_anomaly_at": self.last_anomaly_at, "last_notified_at": self.last_notified_at,
            "notify_on_spike": r.notify_on_spike, "notify_on_drop": r.notify_on_drop,
            "min_percent_delta": r.min_percent_delta, "min_expected_count": r.min_expected_count,
            "cooldown_minutes": r.cooldown_minutes, "muted": self.status == "muted", "muted_until": r.muted_until,
            "rule_enabled": r.enabled, "destination_enabled": d.enabled,
            "include_project_total": r.include_project_total, "include_event_types": r.include_event_types,
            "include_events": r.include_events, "include_schema_drifts": r.include_schema_drifts,
            "include_distribution_drifts": r.include_distribution_drifts,
            "include_release_regressions": r.include_release_regressions,
            "total_deliveries": self.total_deliveries, "last_delivery_at": self.last_delivery_at,
            "last_delivery_status": self.last_delivery_status,
        }


def _active(c: Candidate) -> bool:
    """A finding that is going on; a series still learning is not an anomaly anyone should see firing."""
    return not c.learning and (c.kind != "volume" or c.extra.get("status") == "open")


def _delivery_stats(db: Session, rule_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    out: dict[uuid.UUID, dict[str, Any]] = {r: {"total": 0, "last_at": None, "last_status": None,
                                                "notified": None, "last_match": None} for r in rule_ids}
    if not rule_ids:
        return out
    for rid, total, notified in db.execute(
            select(AlertDelivery.rule_id, func.count(), func.max(AlertDelivery.sent_at))
            .where(AlertDelivery.rule_id.in_(rule_ids)).group_by(AlertDelivery.rule_id)):
        out[rid].update(total=total, notified=notified)
    latest = (select(AlertDelivery.rule_id, AlertDelivery.created_at, AlertDelivery.status)
              .where(AlertDelivery.rule_id.in_(rule_ids))
              .distinct(AlertDelivery.rule_id)
              .order_by(AlertDelivery.rule_id, AlertDelivery.created_at.desc()))
    for rid, at, status in db.execute(latest):
        out[rid].update(last_at=at, last_status=status.value)
    quiet = (MatchOutcome.learning, MatchOutcome.stale)  # not anomalies of now: a replay, a series learning
    for rid, at in db.execute(select(AlertMatch.rule_id, func.max(AlertMatch.finding_at))
                              .where(AlertMatch.rule_id.in_(rule_ids), AlertMatch.outcome.not_in(quiet),
                                     AlertMatch.kind != "resolved")
                              .group_by(AlertMatch.rule_id)):
        out[rid]["last_match"] = at
    return out


def _views(db: Session, project: Project, pairs: list[tuple[AlertRule, AlertDestination]],
           now: datetime) -> list[MonitorView]:
    settings = service_settings.effective(db).as_settings()
    cands = cand_mod.load(db, [project.id], now - timedelta(hours=settings.alert_dispatch_lookback_hours))
    stats = _delivery_stats(db, [r.id for r, _ in pairs])
    views = []
    for rule, dest in pairs:
        watched = [c for c in cands if matching.in_scope(rule, c)]
        active = {c.scope_key for c in watched if _active(c)}
        firing = {c.scope_key for c in watched if _active(c) and matching.passes_thresholds(rule, c)}
        s = stats[rule.id]
        anomaly_times = [c.latest for c in watched if not c.learning and matching.passes_thresholds(rule, c)]
        if s["last_match"] is not None:
            anomaly_times.append(s["last_match"])
        if is_muted(rule, now):
            status = "muted"
        elif firing:
            status = "firing"
        elif active or s["last_status"] == DeliveryStatus.failed.value:
            status = "warning"
        else:
            status = "healthy"
        views.append(MonitorView(rule=rule, destination=dest, status=status, active_scope_count=len(active),
                                 firing_scope_count=len(firing),
                                 last_anomaly_at=max(anomaly_times) if anomaly_times else None,
                                 last_notified_at=s["notified"], total_deliveries=s["total"],
                                 last_delivery_at=s["last_at"], last_delivery_status=s["last_status"]))
    return views


def summary(db: Session, project: Project, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    pairs = db.execute(select(AlertRule, AlertDestination)
                       .join(AlertDestination, AlertDestination.id == AlertRule.destination_id)
                       .where(AlertRule.project_id == project.id)
                       .order_by(AlertRule.name, AlertRule.created_at)).all()
    views = _views(db, project, [(r, d) for r, d in pairs], now)
    count = {s: sum(1 for v in views if v.status == s) for s in ("firing", "warning", "healthy", "muted")}
    return {"monitors": [v.as_dict() for v in views], "firing_count": count["firing"],
            "warning_count": count["warning"], "healthy_count": count["healthy"], "muted_count": count["muted"],
            "total": len(views)}


def get(db: Session, project: Project, rule: AlertRule, now: datetime | None = None) -> dict[str, Any]:
    dest = db.get(AlertDestination, rule.destination_id)
    return _views(db, project, [(rule, dest)], now or datetime.now(UTC))[0].as_dict()
