"""Alert dispatch: new findings → enabled rules → deliveries (written first) → channels.

`run()` is what the Dagster sensor `alert_dispatch` calls (and tests, and `tripl` without Dagster):

1. findings of the last `alert_dispatch_lookback_hours` (by their newest bucket) are loaded as candidates;
2. per enabled rule of an enabled destination, in one transaction under a per-rule advisory lock: the
   candidates the rule has not seen yet (no `alert_matches` row for rule × finding key) that it matches get an
   outcome — `muted` (monitor muted), `group_muted` (inbox group muted), `feedback` (learned false positive),
   `cooldown` (the rule notified about the same scope less than `cooldown_minutes` ago, or an earlier finding
   of this batch did) or `delivered`; delivered ones are grouped into one delivery per scan run (scan config ×
   scan job), rendered, and written with their items and matches; then commit;
3. every due delivery is sent (`sending.send_due`), including retries whose backoff has passed.

A crash before the commit of step 2 leaves nothing (the next run redoes it); a crash after it leaves pending
deliveries that step 3 of the next run sends. The unique (rule, finding key) ledger means a second run finds
nothing new: no finding is delivered twice by one rule and none is lost.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from tripl_core import service_settings
from tripl_core.ai.explain import explain_alert
from tripl_core.alerting import candidates as cand_mod
from tripl_core.alerting import inbox, matching, sending
from tripl_core.alerting.candidates import Candidate
from tripl_core.alerting.context import build_context, item_dict
from tripl_core.alerting.render import render_message
from tripl_core.alerting.rules import is_muted
from tripl_core.db.models.alerting import (
    AlertDelivery,
    AlertDeliveryItem,
    AlertDestination,
    AlertFeedback,
    AlertMatch,
    AlertRule,
    DeliveryStatus,
    MatchOutcome,
)
from tripl_core.db.models.projects import Project
from tripl_core.db.models.scans import ScanJob
from tripl_core.settings import Settings

log = logging.getLogger("tripl.alerting")

@dataclass
class Report:
    candidates: int = 0
    matched: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    deliveries: list[uuid.UUID] = field(default_factory=list)
    sent: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"candidates": self.candidates, "matched": self.matched, "deliveries": len(self.deliveries),
                "sent": self.sent, "failed": self.failed, **self.outcomes}


def _links(settings: Settings, project: Project, delivery_id: uuid.UUID) -> dict[str, str | None]:
    base = (settings.public_base_url or "").rstrip("/")
    if not base:
        return {"project": None, "inbox": None, "delivery": None}
    p = f"{base}/projects/{project.slug}"
    return {"project": p, "inbox": f"{p}/alerts/inbox", "delivery": f"{p}/alerts/deliveries/{delivery_id}"}


def _last_notified(db: Session, rule_id: uuid.UUID, scope_keys: set[str]) -> dict[str, datetime]:
    if not scope_keys:
        return {}
    rows = db.execute(select(AlertMatch.scope_key, func.max(AlertMatch.created_at)).where(
        AlertMatch.rule_id == rule_id, AlertMatch.scope_key.in_(scope_keys),
        AlertMatch.outcome == MatchOutcome.delivered).group_by(AlertMatch.scope_key))
    return dict(rows.all())


def _scan_jobs(db: Session, cands: list[Candidate]) -> dict[uuid.UUID, uuid.UUID | None]:
    """The scan run that wrote each finding: the latest job of its config started before the write."""
    cfg_ids = {c.scan_config_id for c in cands if c.scan_config_id}
    if not cfg_ids:
        return {}
    oldest = min(c.written_at for c in cands) - timedelta(days=1)
    jobs = db.execute(select(ScanJob.scan_config_id, ScanJob.id, ScanJob.started_at).where(
        ScanJob.scan_config_id.in_(cfg_ids), ScanJob.started_at.is_not(None), ScanJob.started_at >= oldest)
        .order_by(ScanJob.started_at)).all()
    out: dict[uuid.UUID, uuid.UUID | None] = {}
    for c in cands:
        best = None
        for cfg_id, job_id, started in jobs:
            if cfg_id == c.scan_config_id and started <= c.written_at:
                best = job_id
        out[c.finding_id] = best
    return out


@dataclass
class _State:
    """What every rule of one dispatch cycle consults: learned false positives and muted inbox incidents."""

    feedback: dict[tuple[uuid.UUID, str], AlertFeedback]
    muted: set[tuple[uuid.UUID, str, str]]


def _outcome(rule: AlertRule, cand: Candidate, now: datetime, notified: dict[str, datetime], state: _State,
             settings: Settings) -> MatchOutcome:
    if is_muted(rule, now):
        return MatchOutcome.muted
    if (cand.project_id, cand.scope_key, cand.direction or "") in state.muted:
        return MatchOutcome.group_muted
    fb = state.feedback.get((cand.project_id, cand.pattern_key))
    if inbox.suppressed_by_feedback(fb, cand, settings.alert_false_positive_threshold):
        return MatchOutcome.feedback
    last = notified.get(cand.scope_key)
    if last is not None and now - last < timedelta(minutes=rule.cooldown_minutes):
        return MatchOutcome.cooldown
    return MatchOutcome.delivered


def _write_delivery(db: Session, rule: AlertRule, dest: AlertDestination, project: Project,
                    items: list[Candidate], scan_job_id: uuid.UUID | None, settings: Settings,
                    now: datetime) -> AlertDelivery:
    delivery_id = uuid.uuid4()
    first = items[0]
    links = _links(settings, project, delivery_id)
    alert_items = [c.item(links["delivery"]) for c in items]
    explanation = None
    if rule.ai_explanation_enabled:  # None when AI is off or fails: the alert goes out without it
        explanation = explain_alert(db, [item_dict(i) for i in alert_items])
    buckets = [c.latest for c in items]
    scan = {"id": str(first.scan_config_id) if first.scan_config_id else None, "name": first.scan_name,
            "job_id": str(scan_job_id) if scan_job_id else None, "interval": first.scan_interval,
            "bucket_from": min(buckets), "bucket_to": max(buckets)}
    ctx = build_context(
        rule={"id": str(rule.id), "name": rule.name, "message_format": rule.message_format.value,
              "cooldown_minutes": rule.cooldown_minutes},
        project={"id": str(project.id), "slug": project.slug, "name": project.name}, items=alert_items, scan=scan,
        destination={"id": str(dest.id), "name": dest.name, "type": dest.type.value}, links=links,
        explanation=explanation, now=now)
    msg = render_message(ctx, rule.message_format.value, rule.message_template, rule.items_template,
                         dest.email_subject_template)
    msg_snapshot = sending.message_snapshot(msg)
    msg_snapshot["delivery_id"] = str(delivery_id)
    delivery = AlertDelivery(
        id=delivery_id, project_id=project.id, scan_config_id=first.scan_config_id, scan_job_id=scan_job_id,
        destination_id=dest.id, rule_id=rule.id, destination_name=dest.name, rule_name=rule.name,
        scan_name=first.scan_name, status=DeliveryStatus.pending, channel=dest.type.value,
        matched_count=len(items), payload_snapshot={"context": ctx, "message": msg_snapshot}, attempts=0,
        error_message=msg.template_error, created_at=now, updated_at=now)
    db.add(delivery)
    db.flush()
    window = timedelta(minutes=settings.alert_correlation_window_minutes)
    groups = inbox.assign_groups(db, items, window, now)
    db.execute(insert(AlertDeliveryItem), [  # one multi-row INSERT, not one per item
        {"id": uuid.uuid4(), "delivery_id": delivery.id, "correlation_group_id": group.id, "position": pos,
         "kind": c.kind, "finding_id": c.finding_id, "finding_key": c.key, "scope_key": c.scope_key,
         "scope_type": c.scope_type, "scope_ref": c.scope_ref, "scope_name": c.scope_name,
         "direction": c.direction, "bucket": c.latest, "actual": c.actual, "expected": c.expected, "z": c.z,
         "summary": c.summary, "data": view}
        for pos, (c, view, group) in enumerate(zip(items, ctx["items"], groups, strict=True))])
    return delivery


def _dispatch_rule(db: Session, rule: AlertRule, dest: AlertDestination, project: Project,
                   cands: list[Candidate], state: _State, settings: Settings, now: datetime,
                   report: Report) -> None:
    """Everything one rule does with new candidates, in one transaction (the caller commits)."""
    db.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"alert-rule:{rule.id}"})
    mine = [c for c in cands if c.project_id == rule.project_id and matching.matches(rule, c)]
    if not mine:
        return
    seen = set(db.scalars(select(AlertMatch.finding_key).where(
        AlertMatch.rule_id == rule.id, AlertMatch.finding_key.in_([c.key for c in mine]))))
    new = [c for c in mine if c.key not in seen]
    if not new:
        return
    report.matched += len(new)
    notified = _last_notified(db, rule.id, {c.scope_key for c in new})
    jobs = _scan_jobs(db, new)
    groups: dict[tuple[uuid.UUID | None, uuid.UUID | None], list[Candidate]] = {}
    outcomes: dict[str, MatchOutcome] = {}
    for c in new:  # oldest first: within a batch the first finding of a scope fires, later ones cool down
        outcome = _outcome(rule, c, now, notified, state, settings)
        outcomes[c.key] = outcome
        report.outcomes[outcome.value] = report.outcomes.get(outcome.value, 0) + 1
        if outcome == MatchOutcome.delivered:
            notified[c.scope_key] = now
            groups.setdefault((c.scan_config_id, jobs.get(c.finding_id)), []).append(c)
    delivered_by: dict[str, uuid.UUID] = {}
    for (_, job_id), items in groups.items():
        delivery = _write_delivery(db, rule, dest, project, items, job_id, settings, now)
        report.deliveries.append(delivery.id)
        delivered_by.update({c.key: delivery.id for c in items})
    db.execute(insert(AlertMatch), [
        {"rule_id": rule.id, "finding_key": c.key, "project_id": c.project_id, "kind": c.kind,
         "finding_id": c.finding_id, "scope_key": c.scope_key, "outcome": outcomes[c.key],
         "delivery_id": delivered_by.get(c.key), "finding_at": c.at, "created_at": now} for c in new])


def dispatch_new(db: Session, now: datetime | None = None, project_id: uuid.UUID | None = None,
                 lookback_hours: float | None = None) -> Report:
    """Steps 1–2: match new findings and write deliveries (committed per rule). Sends nothing.

    `lookback_hours` overrides `alert_dispatch_lookback_hours` for one catch-up cycle (`tripl demo` sends the
    incidents of the days it just replayed); the ledger still delivers each finding once."""
    now = now or datetime.now(UTC)
    settings = service_settings.effective(db).as_settings()
    report = Report()
    stmt = (select(AlertRule, AlertDestination, Project)
            .join(AlertDestination, AlertDestination.id == AlertRule.destination_id)
            .join(Project, Project.id == AlertRule.project_id)
            .where(AlertRule.enabled.is_(True), AlertDestination.enabled.is_(True))
            .order_by(AlertRule.created_at))
    if project_id is not None:
        stmt = stmt.where(AlertRule.project_id == project_id)
    rows = db.execute(stmt).all()
    if not rows:
        return report
    project_ids = sorted({r[0].project_id for r in rows})
    hours = settings.alert_dispatch_lookback_hours if lookback_hours is None else lookback_hours
    cands = cand_mod.load(db, project_ids, now - timedelta(hours=hours))
    report.candidates = len(cands)
    state = _State(feedback=inbox.feedback_for(db, project_ids), muted=inbox.muted_incidents(db, project_ids, now))
    db.commit()
    for rule, dest, project in rows:
        try:
            _dispatch_rule(db, rule, dest, project, cands, state, settings, now, report)
            db.commit()
        except Exception:  # noqa: BLE001 — one broken rule must not stop the others; it is retried next cycle
            db.rollback()
            log.exception("alert dispatch failed for rule %s", rule.id)
            report.outcomes["errors"] = report.outcomes.get("errors", 0) + 1
    return report


def run(db: Session, now: datetime | None = None, after_write: Callable[[Report], None] | None = None,
        project_id: uuid.UUID | None = None, lookback_hours: float | None = None) -> Report:
    """One dispatch cycle: write deliveries for new findings, then send everything due.

    `after_write` runs between the two steps (tests use it to kill the process right there)."""
    now = now or datetime.now(UTC)
    report = dispatch_new(db, now, project_id, lookback_hours)
    if after_write is not None:
        after_write(report)
    counts = sending.send_due(db, now)
    report.sent, report.failed = counts["sent"], counts["failed"]
    return report
