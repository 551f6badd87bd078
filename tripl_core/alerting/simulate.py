"""Simulate Alert Rule: what the rule would have sent over the last `days` of stored findings.

Replays findings in time order (a finding's time is when it began: the first anomalous bucket, first seen
day, drift window start) with the rule's kind/scope/filters/direction/thresholds, grouped into incidents as
dispatch groups them, with its cooldown per incident key (or `cooldown_minutes_override`). Items firing at the
same time in the same scan config form one firing, as one scan run would. Mutes and inbox feedback are not replayed: the simulation judges the rule itself.

`noisy` = more than NOISY_FIRINGS_PER_DAY firings per day on average. `cooldown_minutes_saved` is then the
smallest cooldown of COOLDOWN_LADDER that would bring it to that rate (the window length when no cooldown can,
because too many different scopes fire); 0 when the rule is not noisy.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tripl_core import service_settings
from tripl_core.alerting import candidates as cand_mod
from tripl_core.alerting import incidents as grouping
from tripl_core.alerting import matching
from tripl_core.alerting.candidates import Candidate
from tripl_core.alerting.context import build_context
from tripl_core.alerting.render import render_message
from tripl_core.db.models.alerting import AlertDestination, AlertRule
from tripl_core.db.models.projects import Project
from tripl_core.errors import Invalid

NOISY_FIRINGS_PER_DAY = 3.0
COOLDOWN_LADDER = (60, 120, 180, 360, 720, 1440, 2880, 4320, 10080, 20160, 43200, 129600)
KIND_FLAGS = {"volume": ("include_project_total", "include_event_types", "include_events"),
              "dead_event": ("include_events",),
              "schema_drift": ("include_schema_drifts",), "distribution_drift": ("include_distribution_drifts",),
              "release_regression": ("include_release_regressions",)}


def _kinds(rule: AlertRule) -> set[str]:
    return {k for k, flags in KIND_FLAGS.items() if any(getattr(rule, f) for f in flags)}


def replay(matched: list[Candidate], cooldown_minutes: int) -> list[Candidate]:
    """The findings that would have notified, oldest first, as dispatch decides: per incident (incidents.py),
    the first finding not in its cooldown (per incident key: scope × direction) fires, with the incident's other
    findings that began by then; findings that join an incident already told only update it. Across incidents,
    the cooldown holds back a new incident of the same key."""
    last: dict[str, datetime] = {}
    cooldown = timedelta(minutes=cooldown_minutes)
    fired = []
    for inc in grouping.group(matched):
        members = sorted(inc.members, key=lambda c: (c.at, c.key))
        fire_at = None
        for c in members:
            prev = last.get(c.incident_key)
            if prev is not None and c.at - prev < cooldown:
                continue  # held back, and it starts no cooldown
            if fire_at is None:
                fire_at = c.at
            if c.at > fire_at:
                break  # later findings join the incident already told: an update, not a firing
            last[c.incident_key] = c.at
            fired.append(dataclasses.replace(c, at=fire_at))
    return sorted(fired, key=lambda c: (c.at, c.key))


def group_firings(fired: list[Candidate]) -> list[tuple[datetime, uuid.UUID | None, list[Candidate]]]:
    groups: dict[tuple[datetime, uuid.UUID | None], list[Candidate]] = {}
    for c in fired:
        groups.setdefault((c.at, c.scan_config_id), []).append(c)
    return [(at, cfg, items) for (at, cfg), items in sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))]


def _suggest(matched: list[Candidate], used: int, days: int) -> int:
    limit = NOISY_FIRINGS_PER_DAY * days
    for minutes in COOLDOWN_LADDER:
        if minutes > used and len(group_firings(replay(matched, minutes))) <= limit:
            return minutes
    return max(days * 1440, used)


def _render(rule: AlertRule, dest: AlertDestination, project: Project, items: list[Candidate],
            now: datetime) -> str:
    first = items[0]
    ctx = build_context(
        rule={"id": str(rule.id), "name": rule.name, "message_format": rule.message_format.value,
              "cooldown_minutes": rule.cooldown_minutes},
        project={"id": str(project.id), "slug": project.slug, "name": project.name},
        items=[c.item() for c in items],
        scan={"id": str(first.scan_config_id) if first.scan_config_id else None, "name": first.scan_name,
              "interval": first.scan_interval, "bucket_from": min(c.latest for c in items),
              "bucket_to": max(c.latest for c in items)},
        destination={"id": str(dest.id), "name": dest.name, "type": dest.type.value}, now=now)
    return render_message(ctx, rule.message_format.value, rule.message_template, rule.items_template).text


def simulate(db: Session, project: Project, dest: AlertDestination, rule: AlertRule, days: int = 7,
             cooldown_minutes_override: int | None = None, now: datetime | None = None) -> dict[str, Any]:
    if not 1 <= days <= 90:
        raise Invalid("days", "1..90", loc_prefix="query")
    if cooldown_minutes_override is not None and cooldown_minutes_override < 1:
        raise Invalid("cooldown_minutes_override", "at least 1 minute", loc_prefix="query")
    now = now or datetime.now(UTC)
    window_from = now - timedelta(days=days)
    service_settings.effective(db)  # fail early if settings cannot be read, like dispatch would
    kinds = _kinds(rule)
    cands = [c for c in cand_mod.load(db, [project.id], window_from, now, kinds) if window_from <= c.at <= now]
    matched = [c for c in cands if not c.learning and matching.matches(rule, c)]  # learning never alerts
    cooldown = cooldown_minutes_override or rule.cooldown_minutes
    firings = group_firings(replay(matched, cooldown))
    noisy = len(firings) / days > NOISY_FIRINGS_PER_DAY
    return {
        "rule_id": rule.id, "rule_name": rule.name, "days": days, "window_from": window_from, "window_to": now,
        "anomalies_considered": len(cands), "matched_before_cooldown": len(matched),
        "firings": [{"fired_at": at, "scan_config_id": cfg, "scan_name": items[0].scan_name,
                     "item_count": len(items),
                     "items": [{"kind": c.kind, "scope_type": c.scope_type, "scope_ref": c.scope_ref,
                                "scope_name": c.scope_name, "direction": c.direction, "bucket": c.latest,
                                "actual": c.actual, "expected": c.expected, "z": c.z, "summary": c.summary,
                                "finding_id": c.finding_id} for c in items]}
                    for at, cfg, items in firings],
        "noisy": noisy, "cooldown_minutes_used": cooldown,
        "cooldown_minutes_saved": _suggest(matched, cooldown, days) if noisy else 0,
        "rendered_message": _render(rule, dest, project, firings[0][2], now) if firings else None,
        "firings_per_day": round(len(firings) / days, 3), "noisy_threshold_per_day": NOISY_FIRINGS_PER_DAY,
    }
