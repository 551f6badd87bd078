"""Field definitions of event types and their data contracts.

Contracts are checked by every scan, so they are validated here once: a regex must compile, min ≤ max, rates are
in 0..1, and each contract only applies to the types it can judge (a regex to text-like fields, a range to numbers).

Changing a field's type or enum options never silently invalidates the plan: if events of this branch hold values
that would no longer fit, the update is refused (409) and the message names those events. The user fixes or clears
them first (or changes the type in two steps). We chose refusal over a warning in the response because a plan with
values that contradict their declared type would break the pipelines' matching of plan values to warehouse values.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.plan import (
    Event,
    EventFieldValue,
    EventType,
    FieldDefinition,
    FieldType,
    Sensitivity,
)
from tripl_core.errors import Conflict, Invalid, NotFound
from tripl_core.plan.common import PlanScope, clean_text, get_in_branch, options_list, record
from tripl_core.plan.values import fits_field

REGEX_TYPES = {FieldType.string, FieldType.url, FieldType.enum}
RANGE_TYPES = {FieldType.number}
FIELD_COLUMNS = [
    "name", "display_name", "field_type", "is_required", "enum_options", "description", "order", "sensitivity",
    "contract_required_max_null_rate", "contract_regex", "contract_min_value", "contract_max_value",
    "contract_max_bad_rate",
]
NULLABLE = {"enum_options", "contract_required_max_null_rate", "contract_regex", "contract_min_value",
            "contract_max_value"}


def _loc(prefix: list[Any], name: str) -> list[Any]:
    return [*prefix, name]


def _rate(prefix: list[Any], name: str, value: float | None) -> None:
    if value is not None and not 0 <= value <= 1:
        raise Invalid(_loc(prefix, name), "Must be between 0 and 1.")


def validate_field(state: dict[str, Any], prefix: list[Any] | None = None) -> dict[str, Any]:
    """Check a field's full state (after merging an update) and return it normalised. `prefix` locates it."""
    p = prefix or []
    out = dict(state)
    out["name"] = clean_text(_loc(p, "name"), out["name"], 100)
    out["display_name"] = clean_text(_loc(p, "display_name"), out["display_name"], 255)
    try:
        ftype = FieldType(out["field_type"])
        out["field_type"] = ftype
    except ValueError:
        raise Invalid(_loc(p, "field_type"), f"Unknown field type '{out['field_type']}'.") from None
    out["sensitivity"] = Sensitivity(out.get("sensitivity") or Sensitivity.none)
    if ftype == FieldType.enum:
        out["enum_options"] = options_list(_loc(p, "enum_options"), out.get("enum_options"))
    elif out.get("enum_options"):
        raise Invalid(_loc(p, "enum_options"), "Only fields of type enum have options.")
    else:
        out["enum_options"] = None
    _rate(p, "contract_required_max_null_rate", out.get("contract_required_max_null_rate"))
    if out.get("contract_max_bad_rate") is None:
        out["contract_max_bad_rate"] = 0.0
    _rate(p, "contract_max_bad_rate", out["contract_max_bad_rate"])
    regex = out.get("contract_regex")
    if regex == "":
        regex = out["contract_regex"] = None
    if regex is not None:
        if ftype not in REGEX_TYPES:
            raise Invalid(_loc(p, "contract_regex"), f"A regex contract applies to string, url or enum fields, "
                                                     f"not {ftype.value}.")
        try:
            re.compile(regex)
        except (re.error, OverflowError, RecursionError) as exc:
            raise Invalid(_loc(p, "contract_regex"), f"Invalid regular expression: {exc}.") from None
    lo, hi = out.get("contract_min_value"), out.get("contract_max_value")
    for key, val in (("contract_min_value", lo), ("contract_max_value", hi)):
        if val is not None and ftype not in RANGE_TYPES:
            raise Invalid(_loc(p, key), f"A value range applies to number fields, not {ftype.value}.")
    if lo is not None and hi is not None and lo > hi:
        raise Invalid(_loc(p, "contract_min_value"), "Must be less than or equal to contract_max_value.")
    return out


def _snapshot(field: FieldDefinition) -> dict[str, Any]:
    return audit.snapshot(field, FIELD_COLUMNS)


def list_fields(db: Session, scope: PlanScope, event_type: EventType) -> list[FieldDefinition]:
    return list(db.scalars(select(FieldDefinition).where(
        FieldDefinition.branch_id == scope.branch_id, FieldDefinition.event_type_id == event_type.id,
    ).order_by(FieldDefinition.order, FieldDefinition.name)))


def add_fields(db: Session, actor: audit.Actor | None, scope: PlanScope, event_type: EventType,
               items: list[dict[str, Any]], loc_prefix: list[Any]) -> list[FieldDefinition]:
    """Validate every item first (all-or-nothing), then insert; flushes, does not commit."""
    existing = set(db.scalars(select(FieldDefinition.name).where(
        FieldDefinition.branch_id == scope.branch_id, FieldDefinition.event_type_id == event_type.id)))
    clean: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        prefix = [*loc_prefix, i] if loc_prefix else []
        state = validate_field({k: item.get(k) for k in FIELD_COLUMNS}, prefix)
        if state["name"] in existing:
            where = f"{'.'.join(map(str, prefix))}: " if prefix else ""
            raise Conflict(f"{where}Event type '{event_type.name}' already has a field named '{state['name']}'.")
        existing.add(state["name"])
        clean.append(state)
    created = []
    for state in clean:
        field = FieldDefinition(event_type_id=event_type.id, branch_id=scope.branch_id, **state)
        db.add(field)
        created.append(field)
    db.flush()
    for field in created:
        record(db, actor, scope, "field.create", "field", field.id, f"{event_type.name}.{field.name}",
               after=_snapshot(field))
    return created


def create(db: Session, actor: audit.Actor, scope: PlanScope, event_type: EventType,
           data: dict[str, Any]) -> FieldDefinition:
    [field] = add_fields(db, actor, scope, event_type, [data], [])
    db.commit()
    return field


def bulk_create(db: Session, actor: audit.Actor, scope: PlanScope, event_type: EventType,
                items: list[dict[str, Any]]) -> list[FieldDefinition]:
    if not items:
        raise Invalid("fields", "Give at least one field.")
    created = add_fields(db, actor, scope, event_type, items, ["fields"])
    db.commit()
    return created


def get(db: Session, scope: PlanScope, event_type: EventType, field_id: uuid.UUID) -> FieldDefinition:
    field = get_in_branch(db, FieldDefinition, field_id, scope, "Field")
    if field.event_type_id != event_type.id:
        raise NotFound(f"Field '{field_id}' not found in event type '{event_type.name}'.")
    return field


def _values_that_no_longer_fit(db: Session, field: FieldDefinition, ftype: FieldType,
                               options: list[str] | None) -> list[tuple[str, str]]:
    rows = db.execute(select(Event.name, EventFieldValue.value).join(Event, Event.id == EventFieldValue.event_id)
                      .where(EventFieldValue.field_definition_id == field.id).order_by(Event.name)).all()
    return [(name, value) for name, value in rows if not fits_field(ftype, options, value)]


def update(db: Session, actor: audit.Actor, scope: PlanScope, event_type: EventType, field: FieldDefinition,
           changes: dict[str, Any]) -> FieldDefinition:
    """Merge `changes` (keys present = sent; None clears nullable contracts, is ignored otherwise) and validate."""
    before = _snapshot(field)
    state = {k: getattr(field, k) for k in FIELD_COLUMNS}
    for key, value in changes.items():
        if key not in FIELD_COLUMNS or key == "name":
            continue
        if value is None and key not in NULLABLE:
            continue
        state[key] = value
    if "field_type" in changes and changes["field_type"] not in (None, FieldType.enum, "enum") \
            and "enum_options" not in changes:
        state["enum_options"] = None  # leaving enum: its options go with it
    state = validate_field(state)
    if state["field_type"] != field.field_type or state["enum_options"] != field.enum_options:
        bad = _values_that_no_longer_fit(db, field, state["field_type"], state["enum_options"])
        if bad:
            sample = ", ".join(f"'{n}' ({v!r})" for n, v in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            raise Conflict(f"{len(bad)} event(s) have values of field '{field.name}' that would no longer fit: "
                           f"{sample}{more}. Change or clear those values first.")
    for key in FIELD_COLUMNS:
        if key != "name":
            setattr(field, key, state[key])
    db.flush()
    b, a = audit.changed(before, _snapshot(field))
    if a:
        record(db, actor, scope, "field.update", "field", field.id, f"{event_type.name}.{field.name}",
               before=b, after=a)
    db.commit()
    return field


def reorder(db: Session, actor: audit.Actor, scope: PlanScope, event_type: EventType,
            field_ids: list[uuid.UUID]) -> list[FieldDefinition]:
    """The listed fields first, in that order; unlisted fields keep their relative order after them."""
    current = list_fields(db, scope, event_type)
    by_id = {f.id: f for f in current}
    seen: set[uuid.UUID] = set()
    for i, fid in enumerate(field_ids):
        if fid not in by_id:
            raise Invalid(["field_ids", i], f"Field '{fid}' is not a field of event type '{event_type.name}'.")
        if fid in seen:
            raise Invalid(["field_ids", i], f"Field '{fid}' is listed twice.")
        seen.add(fid)
    ordered = [by_id[fid] for fid in field_ids] + [f for f in current if f.id not in seen]
    for pos, field in enumerate(ordered):
        field.order = pos
    record(db, actor, scope, "field.reorder", "event_type", event_type.id, event_type.name,
           after={"field_order": [f.name for f in ordered]},
           message=f"{actor.label} reordered the fields of event type '{event_type.name}'")
    db.commit()
    return ordered


def delete(db: Session, actor: audit.Actor, scope: PlanScope, event_type: EventType, field: FieldDefinition) -> None:
    """Values of this field on events go with it (ON DELETE CASCADE)."""
    n_values = db.scalar(select(func.count()).select_from(EventFieldValue)
                         .where(EventFieldValue.field_definition_id == field.id)) or 0
    record(db, actor, scope, "field.delete", "field", field.id, f"{event_type.name}.{field.name}",
           before={**_snapshot(field), "event_values_removed": n_values})
    db.delete(field)
    db.commit()
