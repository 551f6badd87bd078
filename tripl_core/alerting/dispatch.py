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

import bisect
import dataclasses
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, aliased

from tripl_core import links, service_settings
from tripl_core.ai.explain import explain_alert
from tripl_core.alerting import candidates as cand_mod
from tripl_core.alerting import inbox, matching, sending
from tripl_core.alerting import incidents as grouping
from tripl_core.alerting.candidates import Candidate
from tripl_core.alerting.context import AlertItem, build_context, item_dict
from tripl_core.alerting.incidents import Incident
from tripl_core.alerting.render import render_message
from tripl_core.alerting.rules import is_muted
from tripl_core.db.models.alerting import (
    AlertCorrelationGroup,
    AlertDelivery,
    AlertDeliveryItem,
    AlertDestination,
    AlertFeedback,
    AlertMatch,
    AlertRule,
    DeliveryStatus,
    GroupStatus,
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


MAX_RELATED = 10  # related findings listed under an incident's item; the rest are counted (`related_more`)
RESOLVE_CHANNELS = frozenset({"slack", "telegram", "webhook", "email"})  # issue trackers: the issue is the record


def _links(settings: Settings, project: Project) -> dict[str, str | None]:
    """Console addresses (tripl_core/links.py): on TRIPL_PUBLIC_BASE_URL, or the address tripl serves on."""
    base = links.base_url(settings)
    return {"project": links.project_page(base, project.slug), "inbox": links.inbox_page(base, project.slug),
            "delivery": None}


def finding_link(settings: Settings, project: Project, cand: Candidate) -> str:
    page = {"volume": "signal", "contract": "schema_drift"}.get(cand.kind, cand.kind)
    return links.finding_page(links.base_url(settings), project.slug, page, cand.finding_id)


def _last_notified(db: Session, rule_id: uuid.UUID, keys: set[str]) -> dict[str, datetime]:
    """When the rule last delivered each incident key. Deliveries whose inbox incident was marked a false
    positive do not count: a false alarm must not hold back the real one that follows."""
    if not keys:
        return {}
    item = aliased(AlertDeliveryItem)
    rows = db.execute(
        select(AlertMatch.scope_key, func.max(AlertMatch.created_at))
        .outerjoin(item, (item.delivery_id == AlertMatch.delivery_id) & (item.finding_key == AlertMatch.finding_key))
        .outerjoin(AlertCorrelationGroup, AlertCorrelationGroup.id == item.correlation_group_id)
        .where(AlertMatch.rule_id == rule_id, AlertMatch.scope_key.in_(keys),
               AlertMatch.outcome == MatchOutcome.delivered,
               AlertCorrelationGroup.status.is_distinct_from(GroupStatus.false_positive))
        .group_by(AlertMatch.scope_key))
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
    per_config: dict[uuid.UUID, tuple[list[datetime], list[uuid.UUID]]] = {}
    for cfg_id, job_id, started in jobs:  # ordered by start
        starts, ids = per_config.setdefault(cfg_id, ([], []))
        starts.append(started)
        ids.append(job_id)
    out: dict[uuid.UUID, uuid.UUID | None] = {}
    for c in cands:
        starts, ids = per_config.get(c.scan_config_id, ([], [])) if c.scan_config_id else ([], [])
        at = bisect.bisect_right(starts, c.written_at)
        out[c.finding_id] = ids[at - 1] if at else None
    return out


@dataclass
class _State:
    """What every rule of one dispatch cycle consults: learned false positives and muted inbox incidents."""

    feedback: dict[tuple[uuid.UUID, str], AlertFeedback]
    muted: set[tuple[uuid.UUID, str, str]]
    since: datetime  # the look-back: findings whose newest evidence is older are stale
    jobs: dict[uuid.UUID, uuid.UUID | None] = field(default_factory=dict)  # finding id → scan run that wrote it
    incidents: list[Incident] = field(default_factory=list)  # every loaded finding, grouped once per cycle


def _outcome(rule: AlertRule, cand: Candidate, now: datetime, notified: dict[str, datetime], state: _State,
             settings: Settings) -> MatchOutcome:
    if cand.learning:
        return MatchOutcome.learning
    if cand.latest < state.since:
        return MatchOutcome.stale
    if is_muted(rule, now):
        return MatchOutcome.muted
    if (cand.project_id, cand.scope_key, cand.direction or "") in state.muted:
        return MatchOutcome.group_muted
    fb = state.feedback.get((cand.project_id, cand.pattern_key))
    if inbox.suppressed_by_feedback(fb, cand, settings.alert_false_positive_threshold):
        return MatchOutcome.feedback
    last = notified.get(cand.incident_key)
    if last is not None and now - last < timedelta(minutes=rule.cooldown_minutes):
        return MatchOutcome.cooldown
    return MatchOutcome.delivered


def _item(settings: Settings, project: Project, inc: list[Candidate], status: str = "firing") -> AlertItem:
    """One message item per incident: its primary finding, the others listed as `related`. In a "resolved"
    message the summary starts with when it ended (the first normal bucket after it)."""
    head, *rest = inc
    related = [item_dict(c.item(finding_link(settings, project, c))) for c in rest[:MAX_RELATED]]
    item = head.item(finding_link(settings, project, head))
    if status == "resolved":
        ended = max((c.extra.get("closed_at") or "" for c in inc), default="")
        when = f"ended {datetime.fromisoformat(ended):%Y-%m-%d %H:%M} UTC: " if ended else "ended: "
        item = dataclasses.replace(item, summary=when + (item.summary or ""))
    return dataclasses.replace(item, related=related, related_more=max(0, len(rest) - MAX_RELATED))


def _with_totals(db: Session, inc: list[Candidate]) -> list[Candidate]:
    """Copies whose volume numbers cover the whole incident (candidates are shared by every rule's matching)."""
    copies = [dataclasses.replace(c, extra=dict(c.extra)) for c in inc]
    cand_mod.totals(db, copies)
    return copies


def _write_delivery(db: Session, rule: AlertRule, dest: AlertDestination, project: Project,
                    incidents: list[list[Candidate]], scan_job_id: uuid.UUID | None, settings: Settings,
                    now: datetime, status: str = "firing",
                    groups: list[AlertCorrelationGroup] | None = None) -> AlertDelivery:
    """Render and write one delivery (one item per incident) with its delivery items and inbox groups."""
    delivery_id = uuid.uuid4()
    flat = [c for inc in incidents for c in inc]
    first = flat[0]
    link_set = _links(settings, project)
    incidents = [_with_totals(db, inc) for inc in incidents]
    alert_items = [_item(settings, project, inc, status) for inc in incidents]
    explanation = None
    if rule.ai_explanation_enabled and status == "firing":  # None when AI is off or fails: sent without it
        explanation = explain_alert(db, [item_dict(i) for i in alert_items])
    buckets = [c.latest for c in flat]
    configs = {c.scan_config_id for c in flat}
    scan = {"id": str(first.scan_config_id) if first.scan_config_id and len(configs) == 1 else None,
            "name": first.scan_name if len(configs) == 1 else None,
            "job_id": str(scan_job_id) if scan_job_id else None, "interval": first.scan_interval,
            "bucket_from": min(c.at for c in flat), "bucket_to": max(buckets)}
    ctx = build_context(
        rule={"id": str(rule.id), "name": rule.name, "message_format": rule.message_format.value,
              "cooldown_minutes": rule.cooldown_minutes},
        project={"id": str(project.id), "slug": project.slug, "name": project.name}, items=alert_items, scan=scan,
        destination={"id": str(dest.id), "name": dest.name, "type": dest.type.value}, links=link_set,
        explanation=explanation, now=now, status=status)
    custom = (rule.message_template, rule.items_template, dest.email_subject_template) \
        if status == "firing" else (None, None, None)  # a custom template may not know `status`: say it plainly
    msg = render_message(ctx, rule.message_format.value, *custom)
    if len(alert_items) == 1:  # one incident: the message opens its finding's page
        msg = dataclasses.replace(msg, url=alert_items[0].link)
    msg_snapshot = sending.message_snapshot(msg)
    msg_snapshot["delivery_id"] = str(delivery_id)
    delivery = AlertDelivery(
        id=delivery_id, project_id=project.id, scan_config_id=first.scan_config_id if len(configs) == 1 else None,
        scan_job_id=scan_job_id, destination_id=dest.id, rule_id=rule.id, destination_name=dest.name,
        rule_name=rule.name, scan_name=scan["name"], status=DeliveryStatus.pending, channel=dest.type.value,
        matched_count=len(flat), payload_snapshot={"context": ctx, "message": msg_snapshot}, attempts=0,
        error_message=msg.template_error, created_at=now, updated_at=now)
    db.add(delivery)
    db.flush()
    if groups is None:
        window = timedelta(minutes=settings.alert_correlation_window_minutes)
        groups = inbox.assign_incident_groups(db, incidents, window, now)
    rows = []
    for pos, (inc, view, group) in enumerate(zip(incidents, ctx["items"], groups, strict=True)):
        for c in inc:
            data = view if c is inc[0] else {**item_dict(c.item(finding_link(settings, project, c))),
                                            "incident_of": str(inc[0].finding_id)}
            rows.append({"id": uuid.uuid4(), "delivery_id": delivery.id, "correlation_group_id": group.id,
                         "position": pos, "kind": c.kind, "finding_id": c.finding_id, "finding_key": c.key,
                         "scope_key": c.scope_key, "scope_type": c.scope_type, "scope_ref": c.scope_ref,
                         "scope_name": c.scope_name, "direction": c.direction, "bucket": c.latest,
                         "actual": c.actual, "expected": c.expected, "z": c.z, "summary": c.summary, "data": data})
    db.execute(insert(AlertDeliveryItem), rows)  # one multi-row INSERT, not one per item
    return delivery


@dataclass
class _Ledger:
    """This rule's earlier verdicts on the loaded findings, and the inbox group each delivered one joined."""

    outcome: dict[str, MatchOutcome]
    delivery: dict[str, uuid.UUID | None]
    group: dict[str, uuid.UUID]
    resolved: set[str]  # "resolved:<group id>" rows: the incident's end was already announced


def _ledger(db: Session, rule: AlertRule, cands: list[Candidate]) -> _Ledger:
    keys = [c.key for c in cands]
    rows = db.execute(select(AlertMatch.finding_key, AlertMatch.outcome, AlertMatch.delivery_id).where(
        AlertMatch.rule_id == rule.id, AlertMatch.finding_key.in_(keys))).all() if keys else []
    led = _Ledger({k: o for k, o, _ in rows}, {k: d for k, _, d in rows}, {}, set())
    told = [(k, d) for k, o, d in rows if d is not None and o in (MatchOutcome.delivered, MatchOutcome.updated)]
    if told:
        for key, group_id in db.execute(select(AlertDeliveryItem.finding_key, AlertDeliveryItem.correlation_group_id)
                                        .where(AlertDeliveryItem.delivery_id.in_({d for _, d in told}),
                                               AlertDeliveryItem.finding_key.in_({k for k, _ in told}))):
            if group_id is not None:
                led.group[key] = group_id
    if led.group:
        marks = [f"resolved:{g}" for g in set(led.group.values())]
        led.resolved = set(db.scalars(select(AlertMatch.finding_key).where(
            AlertMatch.rule_id == rule.id, AlertMatch.finding_key.in_(marks))))
    return led


def _match_row(rule: AlertRule, c: Candidate, outcome: MatchOutcome, delivery_id: uuid.UUID | None,
               now: datetime) -> dict[str, Any]:
    return {"rule_id": rule.id, "finding_key": c.key, "project_id": c.project_id, "kind": c.kind,
            "finding_id": c.finding_id, "scope_key": c.incident_key, "outcome": outcome, "delivery_id": delivery_id,
            "finding_at": c.at, "created_at": now}


def _dispatch_rule(db: Session, rule: AlertRule, dest: AlertDestination, project: Project,
                   cands: list[Candidate], state: _State, settings: Settings, now: datetime,
                   report: Report) -> None:
    """Everything one rule does with new candidates, in one transaction (the caller commits).

    Incidents are formed over every loaded finding the rule matches, seen or not: a new finding that joins an
    incident the rule already told people about is `updated` (its inbox item grows; nothing is re-sent); the new
    findings of an incident nobody heard of yet go out as one item; an incident whose volume signals all ended
    gets one "resolved" message on channels that can show it."""
    db.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"alert-rule:{rule.id}"})
    mine = [c for c in cands if c.project_id == rule.project_id and matching.matches(rule, c)]
    if not mine:
        return
    led = _ledger(db, rule, mine)
    jobs = state.jobs
    incidents = grouping.restrict(state.incidents, {c.key for c in mine})

    def is_new(c: Candidate) -> bool:  # a stale verdict is revisited when a wider catch-up look-back covers it
        seen = led.outcome.get(c.key)
        return seen is None or seen == MatchOutcome.stale and c.latest >= state.since

    fresh = [c for inc in incidents for c in inc.members if is_new(c)]
    report.matched += len(fresh)
    notified = _last_notified(db, rule.id, {c.incident_key for c in fresh})
    to_send: list[list[Candidate]] = []
    updates: list[tuple[Candidate, uuid.UUID]] = []  # (finding, inbox group it joins)
    listed: list[tuple[Candidate, uuid.UUID, str]] = []  # (update, delivery that told its incident, lead there)
    matches: list[dict[str, Any]] = []
    ended: list[tuple[Incident, uuid.UUID]] = []
    for inc in incidents:
        told = [c for c in inc.members if c.key in led.group]
        group_id = led.group[told[0].key] if told else None
        open_told = group_id is not None and f"resolved:{group_id}" not in led.resolved
        sending_now: list[Candidate] = []
        for c in inc.members:
            if not is_new(c):
                continue
            outcome = _outcome(rule, c, now, notified, state, settings)
            if outcome == MatchOutcome.delivered and (open_told or _during(c, told)):
                outcome = MatchOutcome.updated
            report.outcomes[outcome.value] = report.outcomes.get(outcome.value, 0) + 1
            if outcome == MatchOutcome.delivered:
                notified[c.incident_key] = now
                sending_now.append(c)
            elif outcome == MatchOutcome.updated:
                updates.append((c, group_id))  # type: ignore[arg-type]
                told_in = led.delivery.get(told[0].key)
                if told_in is not None:
                    listed.append((c, told_in, told[0].key))
                matches.append(_match_row(rule, c, outcome, told_in, now))
            else:
                matches.append(_match_row(rule, c, outcome, None, now))
        if sending_now:
            to_send.append(sending_now)
        elif open_told and _ended(inc.members):
            ended.append((inc, group_id))  # type: ignore[arg-type]
    if to_send:
        jobs_used = {jobs.get(c.finding_id) for inc in to_send for c in inc}
        delivery = _write_delivery(db, rule, dest, project, to_send,
                                   next(iter(jobs_used)) if len(jobs_used) == 1 else None, settings, now)
        report.deliveries.append(delivery.id)
        matches += [_match_row(rule, c, MatchOutcome.delivered, delivery.id, now) for inc in to_send for c in inc]
        for inc in to_send:  # already over when first told (a catch-up): no "resolved" message follows
            if _ended(inc):
                matches.append(_resolved_row(rule, project, inc, _group_of(db, delivery.id, inc[0].key), None, now))
    if updates:
        inbox.extend_groups(db, updates, now)
        _list_updates(db, settings, project, listed)
    if ended:
        _resolve_incidents(db, rule, dest, project, ended, settings, now, report, matches)
    if matches:
        stmt = pg_insert(AlertMatch)
        db.execute(stmt.on_conflict_do_update(  # only stale rows are revisited (see is_new)
            index_elements=["rule_id", "finding_key"],
            set_={"outcome": stmt.excluded.outcome, "delivery_id": stmt.excluded.delivery_id,
                  "scope_key": stmt.excluded.scope_key, "created_at": stmt.excluded.created_at}),
            matches)  # executemany with batched VALUES, not one statement with 100k parameters


def _list_updates(db: Session, settings: Settings, project: Project,
                  listed: list[tuple[Candidate, uuid.UUID, str]]) -> None:
    """An update is listed on the inbox item it joined (as an item of the delivery that told the incident, marked
    `updated`), so the inbox shows every scope of the incident whichever arrived first; nothing is sent."""
    rows = []
    for c, delivery_id, lead_key in listed:
        lead = db.execute(select(AlertDeliveryItem.position, AlertDeliveryItem.correlation_group_id,
                                 AlertDeliveryItem.finding_id).where(
            AlertDeliveryItem.delivery_id == delivery_id, AlertDeliveryItem.finding_key == lead_key)).first()
        if lead is None:
            continue
        data = {**item_dict(c.item(finding_link(settings, project, c))), "incident_of": str(lead.finding_id),
                "updated": True}
        rows.append({"id": uuid.uuid4(), "delivery_id": delivery_id, "correlation_group_id": lead.correlation_group_id,
                     "position": lead.position, "kind": c.kind, "finding_id": c.finding_id, "finding_key": c.key,
                     "scope_key": c.scope_key, "scope_type": c.scope_type, "scope_ref": c.scope_ref,
                     "scope_name": c.scope_name, "direction": c.direction, "bucket": c.latest,
                     "actual": c.actual, "expected": c.expected, "z": c.z, "summary": c.summary, "data": data})
    if rows:
        db.execute(insert(AlertDeliveryItem), rows)


def _during(c: Candidate, told: list[Candidate]) -> bool:
    """A finding that began while an incident already told (and since ended) was still anomalous is part of what
    people heard about — e.g. the event's spike a scan found a cycle after its event type's and the total's, told
    in a catch-up that was already over. Only a finding that starts after it is a new incident."""
    return bool(told) and c.at <= max(t.latest for t in told)


def _ended(members: list[Candidate]) -> bool:
    """A volume incident whose signals all closed (a later bucket was normal again)."""
    return members[0].kind == "volume" and all(c.closed for c in members if c.kind == "volume")


def _group_of(db: Session, delivery_id: uuid.UUID, finding_key: str) -> uuid.UUID | None:
    return db.scalar(select(AlertDeliveryItem.correlation_group_id).where(
        AlertDeliveryItem.delivery_id == delivery_id, AlertDeliveryItem.finding_key == finding_key))


def _resolved_row(rule: AlertRule, project: Project, members: list[Candidate], group_id: uuid.UUID | None,
                  delivery_id: uuid.UUID | None, now: datetime) -> dict[str, Any]:
    """The ledger's mark that an incident's end was handled (announced, or known when it was first told)."""
    return {"rule_id": rule.id, "finding_key": f"resolved:{group_id}", "project_id": project.id, "kind": "resolved",
            "finding_id": None, "scope_key": f"resolved|{group_id}", "outcome": MatchOutcome.delivered,
            "delivery_id": delivery_id, "finding_at": max(c.latest for c in members), "created_at": now}


def _resolve_incidents(db: Session, rule: AlertRule, dest: AlertDestination, project: Project,
                       ended: list[tuple[Incident, uuid.UUID]], settings: Settings, now: datetime,
                       report: Report, matches: list[dict[str, Any]]) -> None:
    """Incidents whose signals all closed: their inbox item is resolved and, on channels that show a follow-up,
    one "resolved" message lists them (Datadog's recovery, Mackerel's OK). Muted or false-positive incidents
    end silently."""
    groups = {g.id: g for g in db.scalars(select(AlertCorrelationGroup).where(
        AlertCorrelationGroup.id.in_({g for _, g in ended})))}
    announce: list[tuple[Incident, AlertCorrelationGroup]] = []
    for inc, group_id in ended:
        group = groups.get(group_id)
        if group is None:
            continue
        status = inbox.effective_status(group, now)
        if status in (GroupStatus.open, GroupStatus.acknowledged):
            group.status, group.acted_at = GroupStatus.resolved, now
            announce.append((inc, group))
        elif status == GroupStatus.resolved:
            announce.append((inc, group))
        matches.append(_resolved_row(rule, project, inc.members, group_id, None, now))
    if not announce or dest.type.value not in RESOLVE_CHANNELS:
        return
    delivery = _write_delivery(db, rule, dest, project, [inc.members for inc, _ in announce], None, settings,
                               now, status="resolved", groups=[g for _, g in announce])
    report.deliveries.append(delivery.id)
    report.outcomes["resolved"] = report.outcomes.get("resolved", 0) + len(announce)
    for m in matches:
        if m["finding_key"] in {f"resolved:{g.id}" for _, g in announce}:
            m["delivery_id"] = delivery.id


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
    # Also findings a scan wrote within the look-back about older buckets (a replay): recorded as `stale`.
    cands = cand_mod.load(db, project_ids, now - timedelta(hours=hours),
                          written_since=now - timedelta(hours=settings.alert_dispatch_lookback_hours))
    report.candidates = len(cands)
    jobs = _scan_jobs(db, cands)
    state = _State(feedback=inbox.feedback_for(db, project_ids), muted=inbox.muted_incidents(db, project_ids, now),
                   since=now - timedelta(hours=hours), jobs=jobs,
                   incidents=grouping.group(cands, lambda c: jobs.get(c.finding_id)))
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
