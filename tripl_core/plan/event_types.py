"""Event types (screen_view, ui_interaction, …): the families events belong to, each with its fields and owners."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tripl_core import audit
from tripl_core.db.models.auth import User
from tripl_core.db.models.plan import EventType, EventTypeOwner
from tripl_core.errors import Conflict, Invalid, NotFound
from tripl_core.plan import fields as field_service
from tripl_core.plan.common import PlanScope, clean_text, get_in_branch, record

COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOR = "#6366f1"
COLUMNS = ["name", "display_name", "description", "color", "order"]


def _with_fields():
    return select(EventType).options(selectinload(EventType.field_definitions))


def list_types(db: Session, scope: PlanScope) -> list[EventType]:
    return list(db.scalars(_with_fields().where(EventType.branch_id == scope.branch_id)
                           .order_by(EventType.order, EventType.name)))


def get(db: Session, scope: PlanScope, event_type_id: uuid.UUID) -> EventType:
    return get_in_branch(db, EventType, event_type_id, scope, "Event type")


def _color(value: str | None) -> str:
    color = value or DEFAULT_COLOR
    if not COLOR_RE.match(color):
        raise Invalid("color", "Use a hex colour like '#6366f1'.")
    return color


def create(db: Session, actor: audit.Actor | None, scope: PlanScope, data: dict[str, Any],
           commit: bool = True) -> EventType:
    name = clean_text("name", data["name"], 100)
    display_name = clean_text("display_name", data["display_name"], 255)
    if db.scalar(select(EventType.id).where(EventType.branch_id == scope.branch_id, EventType.name == name)):
        raise Conflict(f"An event type named '{name}' already exists.")
    event_type = EventType(project_id=scope.project.id, branch_id=scope.branch_id, name=name,
                           display_name=display_name, description=data.get("description") or "",
                           color=_color(data.get("color")), order=data.get("order") or 0)
    db.add(event_type)
    db.flush()
    record(db, actor, scope, "event_type.create", "event_type", event_type.id, name,
           after=audit.snapshot(event_type, COLUMNS))
    field_service.add_fields(db, actor, scope, event_type, data.get("field_definitions") or [],
                             ["field_definitions"])
    if commit:
        db.commit()
    db.refresh(event_type, ["field_definitions"])
    return event_type


def update(db: Session, actor: audit.Actor, scope: PlanScope, event_type: EventType,
           changes: dict[str, Any]) -> EventType:
    before = audit.snapshot(event_type, COLUMNS)
    if changes.get("display_name") is not None:
        event_type.display_name = clean_text("display_name", changes["display_name"], 255)
    if changes.get("description") is not None:
        event_type.description = changes["description"]
    if changes.get("color") is not None:
        event_type.color = _color(changes["color"])
    if changes.get("order") is not None:
        event_type.order = changes["order"]
    db.flush()
    b, a = audit.changed(before, audit.snapshot(event_type, COLUMNS))
    if a:
        record(db, actor, scope, "event_type.update", "event_type", event_type.id, event_type.name,
               before=b, after=a)
    db.commit()
    db.refresh(event_type, ["field_definitions"])
    return event_type


def delete(db: Session, actor: audit.Actor, scope: PlanScope, event_type: EventType) -> None:
    """Its fields, owners and events go with it (ON DELETE CASCADE)."""
    record(db, actor, scope, "event_type.delete", "event_type", event_type.id, event_type.name,
           before=audit.snapshot(event_type, COLUMNS))
    db.delete(event_type)
    db.commit()


# --- owners -----------------------------------------------------------------------------------------------


def list_owners(db: Session, scope: PlanScope, event_type: EventType) -> list[tuple[EventTypeOwner, User]]:
    return [(o, u) for o, u in db.execute(
        select(EventTypeOwner, User).join(User, User.id == EventTypeOwner.user_id)
        .where(EventTypeOwner.branch_id == scope.branch_id, EventTypeOwner.event_type_id == event_type.id)
        .order_by(EventTypeOwner.created_at, User.email)).all()]


def add_owner_row(db: Session, actor: audit.Actor, scope: PlanScope, event_type: EventType,
                  user_id: uuid.UUID) -> tuple[EventTypeOwner, User]:
    """Validate and add an ownership (flushed, not committed)."""
    user = db.get(User, user_id)
    if user is None:
        raise Invalid("user_id", f"User '{user_id}' does not exist.")
    if db.scalar(select(EventTypeOwner.id).where(EventTypeOwner.branch_id == scope.branch_id,
                                                 EventTypeOwner.event_type_id == event_type.id,
                                                 EventTypeOwner.user_id == user_id)):
        raise Conflict(f"{user.email} already owns event type '{event_type.name}'.")
    owner = EventTypeOwner(event_type_id=event_type.id, branch_id=scope.branch_id, user_id=user_id,
                           granted_by=actor.user.id)
    db.add(owner)
    db.flush()
    record(db, actor, scope, "event_type_owner.add", "event_type", event_type.id, event_type.name,
           after={"owner": user.email},
           message=f"{actor.label} made {user.email} an owner of event type '{event_type.name}'")
    return owner, user


def add_owner(db: Session, actor: audit.Actor, scope: PlanScope, event_type: EventType,
              user_id: uuid.UUID) -> tuple[EventTypeOwner, User]:
    owner, user = add_owner_row(db, actor, scope, event_type, user_id)
    db.commit()
    return owner, user


def remove_owner(db: Session, actor: audit.Actor, scope: PlanScope, event_type: EventType,
                 owner_id: uuid.UUID) -> None:
    """`owner_id` is the ownership's id; a user id is accepted too, since that is what clients usually hold."""
    owner = db.scalar(select(EventTypeOwner).where(
        EventTypeOwner.branch_id == scope.branch_id, EventTypeOwner.event_type_id == event_type.id,
        (EventTypeOwner.id == owner_id) | (EventTypeOwner.user_id == owner_id)))
    if owner is None:
        raise NotFound(f"Owner '{owner_id}' not found on event type '{event_type.name}'.")
    user = db.get(User, owner.user_id)
    email = user.email if user else str(owner.user_id)
    record(db, actor, scope, "event_type_owner.remove", "event_type", event_type.id, event_type.name,
           before={"owner": email},
           message=f"{actor.label} removed {email} from the owners of event type '{event_type.name}'")
    db.delete(owner)
    db.commit()
