"""Writing events: create (one or many, all-or-nothing), update, delete, bulk update/delete.

Every write validates the whole event against its event type's fields (type, enum options, required) and the
branch's meta fields (type, options, required; defaults fill what is missing on create), and records an audit
entry whose before/after is the event's full readable state, from which Get Event History derives field-by-field
changes (tripl_core.plan.history).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, text, tuple_
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.auth import User
from tripl_core.db.models.plan import (
    Event,
    EventFieldValue,
    EventMetaValue,
    EventStatus,
    EventTag,
    EventType,
    FieldDefinition,
    MetaFieldDefinition,
)
from tripl_core.errors import Conflict, Invalid
from tripl_core.plan.common import PlanScope, clean_text, get_in_branch, record
from tripl_core.plan.values import ValueError_, field_value_text, meta_value_text

SCALARS = ["name", "description", "status", "sunset_at", "owner_id", "reviewed", "metric_breakdown_columns"]
BULK_UPDATABLE = ["status", "sunset_at", "owner_id", "reviewed"]
ANALYZE_AFTER = 200  # events created in one request before table statistics are refreshed


@dataclass
class Prepared:
    """A validated event write: scalar columns plus the full sets of tags and values (None = keep)."""

    scalars: dict[str, Any]
    tags: list[str] | None = None
    field_values: list[tuple[FieldDefinition, str]] | None = None
    meta_values: list[tuple[MetaFieldDefinition, str]] | None = None


@dataclass
class Catalog:
    """The definitions a batch of writes validates against, loaded once per request."""

    types: dict[uuid.UUID, EventType] = field(default_factory=dict)
    fields: dict[uuid.UUID, list[FieldDefinition]] = field(default_factory=dict)
    meta: list[MetaFieldDefinition] = field(default_factory=list)
    users: set[uuid.UUID] = field(default_factory=set)


def load_catalog(db: Session, scope: PlanScope, type_ids: set[uuid.UUID], user_ids: set[uuid.UUID]) -> Catalog:
    cat = Catalog()
    if type_ids:
        cat.types = {t.id: t for t in db.scalars(select(EventType).where(
            EventType.branch_id == scope.branch_id, EventType.id.in_(type_ids)))}
        for f in db.scalars(select(FieldDefinition).where(FieldDefinition.event_type_id.in_(type_ids))
                            .order_by(FieldDefinition.order, FieldDefinition.name)):
            cat.fields.setdefault(f.event_type_id, []).append(f)
    cat.meta = list(db.scalars(select(MetaFieldDefinition).where(MetaFieldDefinition.branch_id == scope.branch_id)
                               .order_by(MetaFieldDefinition.order, MetaFieldDefinition.name)))
    if user_ids:
        cat.users = set(db.scalars(select(User.id).where(User.id.in_(user_ids))))
    return cat


def _clean_list(loc: list[Any], items: list[str], max_len: int) -> list[str]:
    out: list[str] = []
    for i, raw in enumerate(items):
        text = clean_text([*loc, i], raw, max_len)
        if text not in out:
            out.append(text)
    return out


def _resolve_values(loc: list[Any], defs: list[Any], items: list[dict[str, Any]], id_key: str, name_key: str,
                    label: str, unknown: str, to_text: Callable[..., str]) -> dict[uuid.UUID, tuple[Any, str]]:
    """Field and meta values alike: find each item's definition by id or name, reject repeats, check the value."""
    by_id = {d.id: d for d in defs}
    by_name = {d.name: d for d in defs}
    out: dict[uuid.UUID, tuple[Any, str]] = {}
    for i, item in enumerate(items):
        here = [*loc, i]
        did, dname = item.get(id_key), item.get(name_key)
        found = by_id.get(did) if did is not None else by_name.get(dname) if dname else None
        if found is None:
            key = id_key if did is not None or not dname else name_key
            if did is None and not dname:
                raise Invalid([*here, key], f"Give {id_key} or {name_key}.")
            raise Invalid([*here, key], f"'{did or dname}' is not {unknown}.")
        if found.id in out:
            raise Invalid(here, f"{label} '{found.name}' is given twice.")
        try:
            out[found.id] = (found, to_text(found.field_type, found.enum_options, item.get("value")))
        except ValueError_ as exc:
            raise Invalid([*here, "value"], f"{label} '{found.name}' ({found.field_type.value}): {exc}.") from None
    return out


def _field_values(loc: list[Any], fields: list[FieldDefinition], items: list[dict[str, Any]],
                  event_type: EventType) -> list[tuple[FieldDefinition, str]]:
    out = _resolve_values(loc, fields, items, "field_definition_id", "field_name", "Field",
                          f"a field of event type '{event_type.name}'", field_value_text)
    missing = [f.name for f in fields if f.is_required and f.id not in out]
    if missing:
        raise Invalid(loc, f"Required field(s) of event type '{event_type.name}' without a value: "
                           f"{', '.join(missing)}.")
    return list(out.values())


def _meta_values(loc: list[Any], metas: list[MetaFieldDefinition], items: list[dict[str, Any]],
                 apply_defaults: bool) -> list[tuple[MetaFieldDefinition, str]]:
    out = _resolve_values(loc, metas, items, "meta_field_definition_id", "meta_field_name", "Meta field",
                          "a meta field of this project", meta_value_text)
    if apply_defaults:
        for meta in metas:
            if meta.id not in out and meta.default_value is not None:
                out[meta.id] = (meta, meta.default_value)
    missing = [m.name for m in metas if m.is_required and m.id not in out]
    if missing:
        raise Invalid(loc, f"Required meta field(s) without a value: {', '.join(missing)}.")
    return sorted(out.values(), key=lambda mv: (mv[0].order, mv[0].name))


def prepare(cat: Catalog, data: dict[str, Any], prefix: list[Any], event_type: EventType | None,
            creating: bool) -> Prepared:
    """Validate one create (all keys) or update (only the keys sent) against the catalog."""
    if event_type is None:
        etid = data.get("event_type_id")
        event_type = cat.types.get(etid) if etid is not None else None
        if event_type is None:
            raise Invalid([*prefix, "event_type_id"], f"Event type '{etid}' does not exist in this plan.")
    scalars: dict[str, Any] = {}
    if data.get("name") is not None:
        scalars["name"] = clean_text([*prefix, "name"], data["name"], 500)
    if data.get("description") is not None:
        scalars["description"] = data["description"]
    if data.get("status") is not None:
        scalars["status"] = EventStatus(data["status"])
    if data.get("reviewed") is not None:
        scalars["reviewed"] = bool(data["reviewed"])
    for key in ("sunset_at", "owner_id"):
        if key in data:
            scalars[key] = data[key]
    if scalars.get("owner_id") is not None and scalars["owner_id"] not in cat.users:
        raise Invalid([*prefix, "owner_id"], f"User '{scalars['owner_id']}' does not exist.")
    if data.get("metric_breakdown_columns") is not None:
        scalars["metric_breakdown_columns"] = _clean_list([*prefix, "metric_breakdown_columns"],
                                                          data["metric_breakdown_columns"], 255)
    prepared = Prepared(scalars)
    if data.get("tags") is not None:
        prepared.tags = _clean_list([*prefix, "tags"], data["tags"], 100)
    if creating or data.get("field_values") is not None:
        prepared.field_values = _field_values([*prefix, "field_values"], cat.fields.get(event_type.id, []),
                                              data.get("field_values") or [], event_type)
    if creating or data.get("meta_values") is not None:
        prepared.meta_values = _meta_values([*prefix, "meta_values"], cat.meta, data.get("meta_values") or [],
                                            apply_defaults=creating)
    return prepared


def state(event: Event, tags: list[str], fvals: list[tuple[str, str]], mvals: list[tuple[str, str]],
          type_name: str) -> dict[str, Any]:
    """The readable full state of an event, for audit before/after and history.

    Values are lists of [name, value] pairs (not dicts) so that audit scrubbing of secret-looking keys never
    hides a field that merely has such a name.
    """
    snap = audit.snapshot(event, SCALARS)
    snap["event_type"] = type_name
    snap["tags"] = sorted(tags)
    snap["field_values"] = [[n, v] for n, v in fvals]
    snap["meta_values"] = [[n, v] for n, v in mvals]
    return snap


def current_state(db: Session, event: Event) -> dict[str, Any]:
    tags = list(db.scalars(select(EventTag.name).where(EventTag.event_id == event.id)))
    fvals = [(n, v) for n, v in db.execute(
        select(FieldDefinition.name, EventFieldValue.value)
        .join(FieldDefinition, FieldDefinition.id == EventFieldValue.field_definition_id)
        .where(EventFieldValue.event_id == event.id).order_by(FieldDefinition.order, FieldDefinition.name))]
    mvals = [(n, v) for n, v in db.execute(
        select(MetaFieldDefinition.name, EventMetaValue.value)
        .join(MetaFieldDefinition, MetaFieldDefinition.id == EventMetaValue.meta_field_definition_id)
        .where(EventMetaValue.event_id == event.id).order_by(MetaFieldDefinition.order, MetaFieldDefinition.name))]
    type_name = db.scalar(select(EventType.name).where(EventType.id == event.event_type_id)) or ""
    return state(event, tags, fvals, mvals, type_name)


def _write_children(db: Session, event: Event, p: Prepared, replace: bool) -> None:
    if p.tags is not None:
        if replace:
            db.execute(delete(EventTag).where(EventTag.event_id == event.id))
        db.add_all(EventTag(event_id=event.id, branch_id=event.branch_id, name=t) for t in p.tags)
    if p.field_values is not None:
        if replace:
            db.execute(delete(EventFieldValue).where(EventFieldValue.event_id == event.id))
        db.add_all(EventFieldValue(event_id=event.id, field_definition_id=f.id, branch_id=event.branch_id, value=v)
                   for f, v in p.field_values)
    if p.meta_values is not None:
        if replace:
            db.execute(delete(EventMetaValue).where(EventMetaValue.event_id == event.id))
        db.add_all(EventMetaValue(event_id=event.id, meta_field_definition_id=m.id, branch_id=event.branch_id,
                                  value=v) for m, v in p.meta_values)


def _check_names_free(db: Session, scope: PlanScope, pairs: list[tuple[uuid.UUID, str]],
                      exclude: uuid.UUID | None = None, labels: list[str] | None = None) -> None:
    seen: dict[tuple[uuid.UUID, str], int] = {}
    for i, pair in enumerate(pairs):
        if pair in seen:
            raise Conflict(f"{labels[i] if labels else ''}Event '{pair[1]}' appears twice in this request "
                           f"(items {seen[pair]} and {i}).")
        seen[pair] = i
    if not pairs:
        return
    taken = db.execute(select(Event.id, Event.event_type_id, Event.name).where(
        Event.branch_id == scope.branch_id, tuple_(Event.event_type_id, Event.name).in_(pairs))).all()
    for eid, etid, name in taken:
        if eid != exclude:
            i = seen[(etid, name)]
            raise Conflict(f"{labels[i] if labels else ''}An event named '{name}' already exists in this "
                           f"event type.")


def create_many(db: Session, actor: audit.Actor | None, scope: PlanScope, items: list[dict[str, Any]],
                bulk: bool, commit: bool = True) -> list[Event]:
    """Validate every item, then insert all; any failure leaves the plan untouched. Errors locate the item."""
    cat = load_catalog(db, scope, {i["event_type_id"] for i in items if i.get("event_type_id")},
                       {i["owner_id"] for i in items if i.get("owner_id")})
    prepared = [prepare(cat, item, [i] if bulk else [], None, creating=True) for i, item in enumerate(items)]
    pairs = [(item["event_type_id"], p.scalars["name"]) for item, p in zip(items, prepared, strict=True)]
    _check_names_free(db, scope, pairs, labels=[f"Item {i}: " if bulk else "" for i in range(len(items))])
    next_order = (db.scalar(select(func.max(Event.order)).where(Event.branch_id == scope.branch_id)) or 0) + 1
    events = []
    for offset, (item, p) in enumerate(zip(items, prepared, strict=True)):
        cols = {"metric_breakdown_columns": [], **p.scalars}
        event = Event(project_id=scope.project.id, branch_id=scope.branch_id, event_type_id=item["event_type_id"],
                      order=next_order + offset, **cols)
        db.add(event)
        events.append(event)
    db.flush()
    for event, p in zip(events, prepared, strict=True):
        _write_children(db, event, p, replace=False)
        snap = state(event, p.tags or [], [(f.name, v) for f, v in p.field_values or []],
                     [(m.name, v) for m, v in p.meta_values or []], cat.types[event.event_type_id].name)
        record(db, actor, scope, "event.create", "event", event.id, event.name, after=snap)
    db.flush()
    if commit:
        db.commit()
        if len(events) >= ANALYZE_AFTER:
            refresh_statistics(db)
    return events


def refresh_statistics(db: Session) -> None:
    """ANALYZE the event tables after a large bulk write.

    Until autovacuum gets to them, a freshly filled table has no statistics and PostgreSQL estimates one row
    everywhere; List Events with a tag or value filter then picks nested loops that took 100-400 ms on 10k events
    instead of 2-3 ms. ANALYZE samples, takes no lock that blocks reads or writes, and costs tens of ms.
    """
    db.execute(text("ANALYZE events, event_tags, event_field_values, event_meta_values"))
    db.commit()


def update(db: Session, actor: audit.Actor, scope: PlanScope, event: Event, changes: dict[str, Any]) -> Event:
    """Apply the keys sent; lists (tags, field_values, meta_values) replace the event's whole set."""
    before = current_state(db, event)
    owner = {changes["owner_id"]} if changes.get("owner_id") else set()
    cat = load_catalog(db, scope, {event.event_type_id}, owner)
    p = prepare(cat, changes, [], cat.types[event.event_type_id], creating=False)
    if "name" in p.scalars and p.scalars["name"] != event.name:
        _check_names_free(db, scope, [(event.event_type_id, p.scalars["name"])], exclude=event.id)
    for key, value in p.scalars.items():
        setattr(event, key, value)
    _write_children(db, event, p, replace=True)
    db.flush()
    b, a = audit.changed(before, current_state(db, event))
    if a:
        record(db, actor, scope, "event.update", "event", event.id, event.name, before=b, after=a)
    db.commit()
    return event


def get(db: Session, scope: PlanScope, event_id: uuid.UUID) -> Event:
    return get_in_branch(db, Event, event_id, scope, "Event")


def delete_one(db: Session, actor: audit.Actor, scope: PlanScope, event: Event) -> None:
    record(db, actor, scope, "event.delete", "event", event.id, event.name, before=current_state(db, event))
    db.delete(event)
    db.commit()


def resolve_ids(db: Session, scope: PlanScope, event_ids: list[uuid.UUID]) -> list[Event]:
    if not event_ids:
        raise Invalid("event_ids", "Give at least one event id.")
    found = {e.id: e for e in db.scalars(select(Event).where(Event.branch_id == scope.branch_id,
                                                             Event.id.in_(event_ids)))}
    seen: set[uuid.UUID] = set()
    for i, eid in enumerate(event_ids):
        if eid not in found:
            raise Invalid(["event_ids", i], f"Event '{eid}' not found in this plan.")
        if eid in seen:
            raise Invalid(["event_ids", i], f"Event '{eid}' is listed twice.")
        seen.add(eid)
    return [found[eid] for eid in event_ids]


def bulk_delete(db: Session, actor: audit.Actor, scope: PlanScope, event_ids: list[uuid.UUID]) -> int:
    events = resolve_ids(db, scope, event_ids)
    names = [e.name for e in events]
    shown = ", ".join(f"'{n}'" for n in names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    record(db, actor, scope, "event.bulk_delete", "event", None, f"{len(events)} events",
           before={"events": names}, message=f"{actor.label} deleted {len(events)} event(s): {shown}")
    db.execute(delete(Event).where(Event.id.in_([e.id for e in events])))
    db.commit()
    return len(events)


def bulk_update(db: Session, actor: audit.Actor, scope: PlanScope, event_ids: list[uuid.UUID],
                changes: dict[str, Any]) -> list[Event]:
    """Set status / sunset_at / owner_id / reviewed on many events; one history entry per changed event."""
    events = resolve_ids(db, scope, event_ids)
    sets = {k: v for k, v in changes.items() if k in BULK_UPDATABLE and (v is not None or k in ("sunset_at",
                                                                                                 "owner_id"))}
    if not sets:
        raise Invalid("body", "Give at least one of status, sunset_at, owner_id, reviewed.", loc_prefix="")
    if sets.get("owner_id") is not None and db.get(User, sets["owner_id"]) is None:
        raise Invalid("owner_id", f"User '{sets['owner_id']}' does not exist.")
    if "status" in sets:
        sets["status"] = EventStatus(sets["status"])
    for event in events:
        before = audit.snapshot(event, list(sets))
        for key, value in sets.items():
            setattr(event, key, value)
        b, a = audit.changed(before, audit.snapshot(event, list(sets)))
        if a:
            record(db, actor, scope, "event.update", "event", event.id, event.name, before=b, after=a,
                   message=f"{actor.label} updated event '{event.name}' (bulk: "
                           f"{', '.join(sorted(a))})")
    db.commit()
    return events
