"""Schema drifts (list, and the actions people take on them) and distribution drifts (read).

Accepting a schema drift teaches the plan what the warehouse showed, through the plan's own field services so that
validation, history and audit are the same as for a hand edit (on the main branch, which the scans compare with):
- new_field: the field is added to the event type with the observed type (object/array → json);
- type_mismatch: the field's declared type becomes the observed one, dropping contracts the new type cannot
  carry (refused, 409, when plan values would no longer fit, as Update Field refuses it);
- enum_value_outside_options: the observed outside values join the options;
- missing_required_field: the field is no longer required;
- null_rate_breach / bad_rate_breach: the contract's limit is raised to the observed rate (rounded up to 1 %).
Snooze needs `snoozed_until` in the future (the scans reopen the drift when it passes); false_positive closes it
for good; reopen puts it back to open. accept and false_positive record who resolved it and when.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.base import utcnow
from tripl_core.db.models.findings import DistributionDrift, DriftStatus, DriftType, SchemaDrift
from tripl_core.db.models.plan import EventType, FieldDefinition, FieldType, PlanBranch
from tripl_core.db.models.projects import Project
from tripl_core.errors import Conflict, Invalid, NotFound
from tripl_core.findings import common
from tripl_core.plan import fields as field_service
from tripl_core.plan.common import PlanScope

ACTIONS = ("accept", "snooze", "false_positive", "reopen")
DRIFT_WINDOW = timedelta(days=30)
OBSERVED_TO_FIELD = {"string": FieldType.string, "number": FieldType.number, "boolean": FieldType.boolean,
                     "object": FieldType.json, "array": FieldType.json, "json": FieldType.json}
_ORDER = {DriftStatus.open: 0, DriftStatus.snoozed: 1, DriftStatus.accepted: 2, DriftStatus.false_positive: 3,
          DriftStatus.resolved: 4}


def list_for_event_type(db: Session, project: Project, event_type_id: uuid.UUID) -> dict[str, Any]:
    """The event type's drifts: open first, then snoozed, accepted…; newest sighting first within a status."""
    et = db.get(EventType, event_type_id)
    if et is None or et.project_id != project.id:
        raise NotFound(f"Event type '{event_type_id}' not found.")
    ids = {et.id, et.origin_id} - {None}
    rows = list(db.scalars(select(SchemaDrift).where(SchemaDrift.project_id == project.id,
                                                    SchemaDrift.event_type_id.in_(ids))))
    rows.sort(key=lambda d: (_ORDER[d.status], -d.last_seen_at.timestamp(), d.field_name, d.drift_type.value))
    return {"items": rows, "total": len(rows)}


def _get(db: Session, project: Project, drift_id: uuid.UUID) -> SchemaDrift:
    drift = db.get(SchemaDrift, drift_id)
    if drift is None or drift.project_id != project.id:
        raise NotFound(f"Drift '{drift_id}' not found.")
    return drift


def _main_scope(db: Session, project: Project) -> PlanScope:
    branch = db.get(PlanBranch, common.main_branch_id(db, project))
    assert branch is not None
    return PlanScope(project, branch)


def _field(db: Session, et: EventType, name: str) -> FieldDefinition | None:
    return db.scalar(select(FieldDefinition).where(FieldDefinition.event_type_id == et.id,
                                                   FieldDefinition.name == name))


def _rate_up(rate: Any) -> float | None:
    try:
        value = float(rate)
    except (TypeError, ValueError):
        return None
    return min(1.0, math.ceil(value * 100 - 1e-9) / 100) if math.isfinite(value) else None


def _learn(db: Session, actor: audit.Actor, project: Project, drift: SchemaDrift) -> str | None:
    """Apply the drift to the plan (without committing when possible). Returns what changed, for the audit."""
    scope = _main_scope(db, project)
    et = db.get(EventType, drift.event_type_id)
    if et is None:
        raise NotFound(f"Event type '{drift.event_type_id}' of the drift no longer exists.")
    existing = _field(db, et, drift.field_name)
    if drift.drift_type == DriftType.new_field:
        if existing is not None:
            return None  # someone declared it meanwhile: nothing left to learn
        ftype = OBSERVED_TO_FIELD.get((drift.observed_type or "string").lower(), FieldType.string)
        order = (db.scalar(select(func.max(FieldDefinition.order)).where(
            FieldDefinition.event_type_id == et.id)) or 0) + 1
        item = {"name": drift.field_name, "display_name": drift.field_name, "field_type": ftype,
                "is_required": False, "description": "Added from a schema drift (observed in the warehouse).",
                "order": order, "sensitivity": None, "contract_max_bad_rate": 0.0}
        try:
            field_service.add_fields(db, actor, scope, et, [item], [])
        except Invalid as exc:
            raise Conflict(f"The plan cannot take field '{drift.field_name}': {exc.message}") from None
        return f"added field '{drift.field_name}' ({ftype.value})"
    if existing is None:
        return None
    changes: dict[str, Any] = {}
    if drift.drift_type == DriftType.type_mismatch and drift.observed_type:
        ftype = OBSERVED_TO_FIELD.get(drift.observed_type.lower())
        if ftype is not None and ftype != existing.field_type:
            changes["field_type"] = ftype
            # contracts the new type cannot carry go with the old type (as enum options do)
            if ftype not in field_service.RANGE_TYPES:
                changes.update(contract_min_value=None, contract_max_value=None)
            if ftype not in field_service.REGEX_TYPES:
                changes["contract_regex"] = None
    elif drift.drift_type == DriftType.enum_value_outside_options:
        values = [str(v) for v in (drift.details or {}).get("values") or []]
        if not values and drift.sample_value is not None:
            values = [drift.sample_value]
        options = list(existing.enum_options or [])
        new = [v for v in dict.fromkeys(values) if v not in options]
        if new:
            changes["enum_options"] = options + new
    elif drift.drift_type == DriftType.missing_required_field and existing.is_required:
        changes["is_required"] = False
    elif drift.drift_type == DriftType.null_rate_breach:
        rate = _rate_up((drift.details or {}).get("rate"))
        if rate is not None:
            changes["contract_required_max_null_rate"] = rate
    elif drift.drift_type == DriftType.bad_rate_breach:
        rate = _rate_up((drift.details or {}).get("rate"))
        if rate is not None:
            changes["contract_max_bad_rate"] = rate
    if not changes:
        return None
    field_service.update(db, actor, scope, et, existing, changes)  # validates, audits and commits
    return "updated field '{}': {}".format(drift.field_name, ", ".join(
        f"{k}={v.value if hasattr(v, 'value') else v}" for k, v in changes.items()))


def apply_action(db: Session, actor: audit.Actor, project: Project, drift_id: uuid.UUID, action: str,
                 note: str | None, snoozed_until: datetime | None) -> SchemaDrift:
    drift = _get(db, project, drift_id)
    if action not in ACTIONS:
        raise Invalid("action", f"action must be one of {', '.join(ACTIONS)}.")
    before = audit.snapshot(drift, ["status", "resolution_note", "snoozed_until"])
    now = utcnow()
    if action == "snooze":
        until = common.as_utc(snoozed_until)
        if until is None:
            raise Invalid("snoozed_until", "snoozed_until is required to snooze a drift.")
        if until <= now:
            raise Invalid("snoozed_until", "snoozed_until must be in the future.")
        drift.status, drift.snoozed_until = DriftStatus.snoozed, until
        drift.resolved_at = drift.resolved_by = None
    elif action == "reopen":
        if drift.status == DriftStatus.open:
            raise Conflict("The drift is already open.")
        drift.status, drift.snoozed_until = DriftStatus.open, None
        drift.resolved_at = drift.resolved_by = None
    else:
        target = DriftStatus.accepted if action == "accept" else DriftStatus.false_positive
        if drift.status == target:
            raise Conflict(f"The drift is already {target.value.replace('_', ' ')}.")
        drift.status, drift.snoozed_until = target, None
        drift.resolved_at, drift.resolved_by = now, actor.user.id
    if note is not None:
        drift.resolution_note = note.strip() or None
    learned = _learn(db, actor, project, drift) if action == "accept" else None
    message = f"{actor.label} {audit.past_tense(action)} {drift.drift_type.value.replace('_', ' ')} drift of " \
              f"'{drift.field_name}'" + (f" ({learned})" if learned else "")
    b, a = audit.changed(before, audit.snapshot(drift, ["status", "resolution_note", "snoozed_until"]))
    audit.record(db, actor, f"schema_drift.{action}", "schema_drift", drift.id, drift.field_name,
                 project=project, before=b, after=a, message=message)
    db.commit()
    return drift


def distribution_drifts(db: Session, project: Project, scope_type: str, scope_ref: str | None,
                        named: uuid.UUID | None, time_from: datetime | None,
                        time_to: datetime | None) -> dict[str, Any]:
    """Daily comparisons of each drift field with its baseline over the window (default the last 30 days):
    `data` has every day × field, `fields` the latest verdict per field and how many days drifted."""
    st, ref = common.parse_scope(scope_type, scope_ref)
    if st.value == "event":
        raise Invalid("scope_type", "Distribution drifts are kept per event type or project total.",
                      loc_prefix="query")
    event_type_id = common.main_event_type(db, project, ref).id if ref is not None else None
    end = common.as_utc(time_to) or utcnow()
    start = common.as_utc(time_from) or end - DRIFT_WINDOW
    if start >= end:
        raise Invalid("from", "'from' must be before 'to'.", loc_prefix="query")
    ref_match = DistributionDrift.scope_ref.is_(None) if ref is None else DistributionDrift.scope_ref == ref
    q = select(DistributionDrift).where(DistributionDrift.project_id == project.id,
                                        DistributionDrift.scope_type == st, ref_match,
                                        DistributionDrift.window_start >= start, DistributionDrift.window_start < end)
    cfg_id = common.named_config(db, project, named).id if named is not None else None
    if cfg_id is None:
        cfg_id = db.scalar(select(DistributionDrift.scan_config_id).where(
            DistributionDrift.project_id == project.id, DistributionDrift.scope_type == st, ref_match)
            .order_by(DistributionDrift.window_start.desc()).limit(1))
    rows = list(db.scalars(q.where(DistributionDrift.scan_config_id == cfg_id).order_by(
        DistributionDrift.field, DistributionDrift.window_start))) if cfg_id else []
    data = [{
        "field": r.field, "window_start": r.window_start, "window_end": r.window_end,
        "baseline_start": r.baseline_start, "baseline_end": r.baseline_end, "current_count": r.current_count,
        "baseline_count": r.baseline_count, "chi2_p_value": common.finite(r.chi2_p_value),
        "js_distance": common.finite(r.js_distance), "psi": common.finite(r.psi), "is_drift": r.is_drift,
        "edges": list(r.edges), "current_hist": list(r.current_hist), "baseline_hist": list(r.baseline_hist),
    } for r in rows]
    fields: dict[str, dict[str, Any]] = {}
    for d in data:
        f = fields.setdefault(d["field"], {"field": d["field"], "days": 0, "drift_days": 0})
        f["days"] += 1
        f["drift_days"] += int(d["is_drift"])
        f.update({"latest_window_start": d["window_start"], "is_drift": d["is_drift"],
                  "chi2_p_value": d["chi2_p_value"], "js_distance": d["js_distance"], "psi": d["psi"]})
    return {"scope": st.value, "scan_config_id": cfg_id, "event_type_id": event_type_id,
            "fields": list(fields.values()), "data": data}
