"""Alert rules (one per monitor): create, update, delete, with every field checked before it is stored.

Templates are test-rendered in the sandbox against the sample alert in the rule's format, the format must suit
the destination's channel, and filters must name things of this project — all 422s naming the field.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.alerting import filters as rule_filters
from tripl_core.alerting.channels import check_message_format
from tripl_core.alerting.render import validate_template
from tripl_core.db.models.alerting import AlertDestination, AlertMessageFormat, AlertRule
from tripl_core.db.models.projects import Project
from tripl_core.errors import Invalid, NotFound

DEFAULTS: dict[str, Any] = {
    "enabled": True, "include_project_total": True, "include_event_types": True, "include_events": True,
    "include_schema_drifts": False, "include_distribution_drifts": False, "include_release_regressions": False,
    "notify_on_spike": True, "notify_on_drop": True, "ai_explanation_enabled": False, "min_percent_delta": 0.0,
    "min_absolute_delta": 0.0, "min_expected_count": 0.0, "cooldown_minutes": 1440, "message_template": None,
    "items_template": None, "message_format": AlertMessageFormat.plain, "filters": [],
}
BOOLS = [k for k, v in DEFAULTS.items() if isinstance(v, bool)]
NUMBERS = ("min_percent_delta", "min_absolute_delta", "min_expected_count")
MAX_COOLDOWN_MINUTES = 525_600  # a year
_AUDIT_FIELDS = ["name", *DEFAULTS]


def get(db: Session, dest: AlertDestination, rule_id: uuid.UUID) -> AlertRule:
    rule = db.get(AlertRule, rule_id)
    if rule is None or rule.destination_id != dest.id:
        raise NotFound("Alert rule not found.")
    return rule


def get_in_project(db: Session, project: Project, rule_id: uuid.UUID) -> AlertRule:
    rule = db.get(AlertRule, rule_id)
    if rule is None or rule.project_id != project.id:
        raise NotFound("Alert rule not found.")
    return rule


def _apply(db: Session, rule: AlertRule, data: dict[str, Any]) -> None:
    """Set the given fields; null means "keep" for fields that cannot be null, "clear" for templates."""
    if data.get("name") is not None:
        name = str(data["name"]).strip()
        if not name:
            raise Invalid("name", "must not be blank")
        if len(name) > 255:
            raise Invalid("name", "at most 255 characters")
        rule.name = name
    for key in BOOLS:
        if data.get(key) is not None:
            setattr(rule, key, bool(data[key]))
    for key in NUMBERS:
        if data.get(key) is not None:
            value = float(data[key])
            if not math.isfinite(value) or value < 0:
                raise Invalid(key, "a finite number ≥ 0")
            setattr(rule, key, value)
    if data.get("cooldown_minutes") is not None:
        minutes = data["cooldown_minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_COOLDOWN_MINUTES:
            raise Invalid("cooldown_minutes", f"a whole number of minutes, 1..{MAX_COOLDOWN_MINUTES}")
        rule.cooldown_minutes = minutes
    if data.get("message_format") is not None:
        try:
            rule.message_format = AlertMessageFormat(data["message_format"])
        except ValueError:
            raise Invalid("message_format", f"one of {', '.join(AlertMessageFormat)}") from None
    for key in ("message_template", "items_template"):
        if key in data:
            value = data[key]
            setattr(rule, key, value if value is not None and value.strip() else None)
    if data.get("filters") is not None:
        rule.filters = rule_filters.normalize(db, rule.project_id, data["filters"])


def _validate(rule: AlertRule, dest: AlertDestination) -> None:
    check_message_format(dest.type.value, rule.message_format.value)
    validate_template(rule.message_template, "message_template", rule.message_format.value)
    validate_template(rule.items_template, "items_template", rule.message_format.value)
    if not (rule.include_project_total or rule.include_event_types or rule.include_events
            or rule.include_schema_drifts or rule.include_distribution_drifts or rule.include_release_regressions):
        raise Invalid("include_project_total", "a rule must include at least one kind of finding")


def create(db: Session, actor: audit.Actor, dest: AlertDestination, data: dict[str, Any]) -> AlertRule:
    rule = AlertRule(project_id=dest.project_id, destination_id=dest.id, name="", **DEFAULTS)
    _apply(db, rule, data)
    if not rule.name:
        raise Invalid("name", "required")
    _validate(rule, dest)
    db.add(rule)
    db.flush()
    audit.record(db, actor, "alert_rule.create", "alert_rule", rule.id, rule.name,
                 project=db.get(Project, dest.project_id), after=audit.snapshot(rule, _AUDIT_FIELDS))
    db.commit()
    return rule


def update(db: Session, actor: audit.Actor, dest: AlertDestination, rule: AlertRule,
           data: dict[str, Any]) -> AlertRule:
    before = audit.snapshot(rule, _AUDIT_FIELDS)
    _apply(db, rule, data)
    _validate(rule, dest)
    db.flush()
    b, a = audit.changed(before, audit.snapshot(rule, _AUDIT_FIELDS))
    if a:
        audit.record(db, actor, "alert_rule.update", "alert_rule", rule.id, rule.name,
                     project=db.get(Project, dest.project_id), before=b, after=a)
    db.commit()
    return rule


def delete(db: Session, actor: audit.Actor, rule: AlertRule) -> None:
    audit.record(db, actor, "alert_rule.delete", "alert_rule", rule.id, rule.name,
                 project=db.get(Project, rule.project_id), before=audit.snapshot(rule, ["name", "destination_id"]))
    db.delete(rule)
    db.commit()


def mute(db: Session, actor: audit.Actor, rule: AlertRule, until: datetime) -> AlertRule:
    """Muted rules keep matching (the findings are recorded as muted) but send nothing until `until`."""
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    if until <= datetime.now(UTC):
        raise Invalid("muted_until", "must be in the future")
    rule.muted_until = until
    audit.record(db, actor, "alert_rule.mute", "alert_rule", rule.id, rule.name,
                 project=db.get(Project, rule.project_id), after={"muted_until": until})
    db.commit()
    return rule


def unmute(db: Session, actor: audit.Actor, rule: AlertRule) -> AlertRule:
    if rule.muted_until is not None:
        rule.muted_until = None
        audit.record(db, actor, "alert_rule.unmute", "alert_rule", rule.id, rule.name,
                     project=db.get(Project, rule.project_id))
        db.commit()
    return rule


def is_muted(rule: AlertRule, now: datetime) -> bool:
    return rule.muted_until is not None and rule.muted_until > now
