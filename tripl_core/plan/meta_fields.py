"""Meta fields: project-wide attributes of events that are documentation, not data (team, Jira ticket, platform).

A `default_value` fills events created without a value; a `link_template` such as
`https://jira.example.com/browse/{value}` turns each value into a link in event responses. As with fields, a type or
option change that would leave stored values invalid is refused (409) with the offending events named.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.plan import Event, EventMetaValue, MetaFieldDefinition, MetaFieldType, Sensitivity
from tripl_core.errors import Conflict, Invalid
from tripl_core.plan.common import PlanScope, clean_text, get_in_branch, options_list, record
from tripl_core.plan.values import ValueError_, is_url, meta_value_text

COLUMNS = ["name", "display_name", "field_type", "is_required", "enum_options", "default_value", "link_template",
           "order", "sensitivity"]
NULLABLE = {"enum_options", "default_value", "link_template"}
TEMPLATE_PLACEHOLDER_RE = re.compile(r"\{[^}]*\}")


def validate(state: dict[str, Any]) -> dict[str, Any]:
    out = dict(state)
    out["name"] = clean_text("name", out["name"], 100)
    out["display_name"] = clean_text("display_name", out["display_name"], 255)
    try:
        ftype = out["field_type"] = MetaFieldType(out["field_type"])
    except ValueError:
        raise Invalid("field_type", f"Unknown meta field type '{out['field_type']}'.") from None
    out["sensitivity"] = Sensitivity(out.get("sensitivity") or Sensitivity.none)
    out["is_required"] = bool(out.get("is_required"))
    out["order"] = out.get("order") or 0
    if ftype == MetaFieldType.enum:
        out["enum_options"] = options_list("enum_options", out.get("enum_options"))
    elif out.get("enum_options"):
        raise Invalid("enum_options", "Only meta fields of type enum have options.")
    else:
        out["enum_options"] = None
    if out.get("default_value") is not None:
        try:
            out["default_value"] = meta_value_text(ftype, out["enum_options"], out["default_value"])
        except ValueError_ as exc:
            raise Invalid("default_value", f"The default does not fit the meta field: {exc}.") from None
    template = out.get("link_template") or None
    if template is not None:
        placeholders = TEMPLATE_PLACEHOLDER_RE.findall(template)
        if "{value}" not in placeholders or any(p != "{value}" for p in placeholders):
            raise Invalid("link_template", "Use exactly the placeholder {value}, e.g. "
                                           "'https://jira.example.com/browse/{value}'.")
        if not is_url(template.replace("{value}", "x")):
            raise Invalid("link_template", "The template must make an http(s) URL.")
    out["link_template"] = template
    return out


def list_meta_fields(db: Session, scope: PlanScope) -> list[MetaFieldDefinition]:
    return list(db.scalars(select(MetaFieldDefinition).where(MetaFieldDefinition.branch_id == scope.branch_id)
                           .order_by(MetaFieldDefinition.order, MetaFieldDefinition.name)))


def get(db: Session, scope: PlanScope, meta_field_id: uuid.UUID) -> MetaFieldDefinition:
    return get_in_branch(db, MetaFieldDefinition, meta_field_id, scope, "Meta field")


def create(db: Session, actor: audit.Actor | None, scope: PlanScope, data: dict[str, Any],
           commit: bool = True) -> MetaFieldDefinition:
    state = validate({k: data.get(k) for k in COLUMNS})
    if db.scalar(select(MetaFieldDefinition.id).where(MetaFieldDefinition.branch_id == scope.branch_id,
                                                      MetaFieldDefinition.name == state["name"])):
        raise Conflict(f"A meta field named '{state['name']}' already exists.")
    meta = MetaFieldDefinition(project_id=scope.project.id, branch_id=scope.branch_id, **state)
    db.add(meta)
    db.flush()
    record(db, actor, scope, "meta_field.create", "meta_field", meta.id, meta.name,
           after=audit.snapshot(meta, COLUMNS))
    if commit:
        db.commit()
    return meta


def update(db: Session, actor: audit.Actor, scope: PlanScope, meta: MetaFieldDefinition,
           changes: dict[str, Any]) -> MetaFieldDefinition:
    before = audit.snapshot(meta, COLUMNS)
    state = {k: getattr(meta, k) for k in COLUMNS}
    for key, value in changes.items():
        if key in COLUMNS and key != "name" and (value is not None or key in NULLABLE):
            state[key] = value
    if changes.get("field_type") not in (None, MetaFieldType.enum, "enum") and "enum_options" not in changes:
        state["enum_options"] = None
    state = validate(state)
    if state["field_type"] != meta.field_type or state["enum_options"] != meta.enum_options:
        rows = db.execute(select(Event.name, EventMetaValue.value)
                          .join(Event, Event.id == EventMetaValue.event_id)
                          .where(EventMetaValue.meta_field_definition_id == meta.id).order_by(Event.name)).all()
        bad = []
        for name, value in rows:
            try:
                meta_value_text(state["field_type"], state["enum_options"], value)
            except ValueError_:
                bad.append((name, value))
        if bad:
            sample = ", ".join(f"'{n}' ({v!r})" for n, v in bad[:5])
            raise Conflict(f"{len(bad)} event(s) have values of meta field '{meta.name}' that would no longer "
                           f"fit: {sample}. Change or clear those values first.")
    for key in COLUMNS:
        if key != "name":
            setattr(meta, key, state[key])
    db.flush()
    b, a = audit.changed(before, audit.snapshot(meta, COLUMNS))
    if a:
        record(db, actor, scope, "meta_field.update", "meta_field", meta.id, meta.name, before=b, after=a)
    db.commit()
    return meta


def delete(db: Session, actor: audit.Actor, scope: PlanScope, meta: MetaFieldDefinition) -> None:
    n_values = db.scalar(select(func.count()).select_from(EventMetaValue)
                         .where(EventMetaValue.meta_field_definition_id == meta.id)) or 0
    record(db, actor, scope, "meta_field.delete", "meta_field", meta.id, meta.name,
           before={**audit.snapshot(meta, COLUMNS), "event_values_removed": n_values})
    db.delete(meta)
    db.commit()
