"""Plan context for prompts: what the plan says about an event or event type, plus what scans observed.

Scans register an observation provider (`register_observations`) so the prompts can cite observed fields and
values without this module depending on the scan tables.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core.db.models.plan import (
    BranchKind,
    Event,
    EventFieldValue,
    EventTag,
    EventType,
    FieldDefinition,
    PlanBranch,
)
from tripl_core.db.models.plan_extras import Variable, VariableValue
from tripl_core.db.models.projects import Project
from tripl_core.errors import NotFound

# (db, project, event_type, event or None) -> {"fields": [{"name", "observed_types", "top_values"}...], ...}
ObservationProvider = Callable[[Session, Project, EventType, Event | None], dict[str, Any] | None]
OBSERVATION_PROVIDERS: list[ObservationProvider] = []
MAX_CONTEXT_CHARS = 12000


def register_observations(provider: ObservationProvider) -> ObservationProvider:
    """Scans call this (usable as a decorator) to ground AI answers in warehouse observations."""
    OBSERVATION_PROVIDERS.append(provider)
    return provider


def _observations(db: Session, project: Project, et: EventType, event: Event | None) -> list[dict[str, Any]]:
    out = []
    for provider in OBSERVATION_PROVIDERS:
        part = provider(db, project, et, event)
        if part:
            out.append(part)
    return out


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@register_observations
def variable_values(db: Session, project: Project, et: EventType, event: Event | None) -> dict[str, Any] | None:
    """Values scans observed for the `{variables}` the event (or the type's events) use in field values."""
    stmt = select(EventFieldValue.value).join(Event, Event.id == EventFieldValue.event_id)
    stmt = stmt.where(Event.id == event.id) if event else stmt.where(Event.event_type_id == et.id)
    names = {m for (v,) in db.execute(stmt.limit(500)) for m in _PLACEHOLDER.findall(v)}
    if not names:
        return None
    rows = db.execute(
        select(Variable.name, VariableValue.value, VariableValue.occurrences)
        .join(VariableValue, VariableValue.variable_id == Variable.id)
        .join(PlanBranch, PlanBranch.id == Variable.branch_id)
        .where(Variable.project_id == project.id, PlanBranch.kind == BranchKind.main, Variable.name.in_(names))
        .order_by(Variable.name, VariableValue.occurrences.desc()).limit(200)).all()
    values: dict[str, list[str]] = {}
    for name, value, _ in rows:
        if len(values.setdefault(name, [])) < 10:
            values[name].append(value)
    return {"variables": values} if values else None


def get_event(db: Session, branch: PlanBranch, event_id: uuid.UUID) -> Event:
    event = db.get(Event, event_id)
    if event is None or event.branch_id != branch.id:
        raise NotFound(f"Event '{event_id}' not found on branch '{branch.name}'.")
    return event


def get_event_type(db: Session, branch: PlanBranch, event_type_id: uuid.UUID) -> EventType:
    et = db.get(EventType, event_type_id)
    if et is None or et.branch_id != branch.id:
        raise NotFound(f"Event type '{event_type_id}' not found on branch '{branch.name}'.")
    return et


def _fields(et: EventType) -> list[dict[str, Any]]:
    return [{"name": f.name, "display_name": f.display_name, "type": f.field_type.value, "required": f.is_required,
             "description": f.description or None, "enum_options": f.enum_options or None}
            for f in et.field_definitions]


def event_type_context(db: Session, project: Project, et: EventType) -> dict[str, Any]:
    events = db.execute(select(Event.name, Event.description, Event.status).where(Event.event_type_id == et.id)
                        .order_by(Event.order, Event.name).limit(40)).all()
    return {
        "project": project.name,
        "event_type": {"name": et.name, "display_name": et.display_name, "description": et.description or None},
        "fields": _fields(et),
        "events": [{"name": n, "description": d or None, "status": s.value} for n, d, s in events],
        "observed_in_warehouse": _observations(db, project, et, None),
    }


def event_context(db: Session, project: Project, event: Event) -> dict[str, Any]:
    et = db.get(EventType, event.event_type_id)
    assert et is not None  # FK
    values = dict(db.execute(select(FieldDefinition.name, EventFieldValue.value)
                             .join(FieldDefinition, FieldDefinition.id == EventFieldValue.field_definition_id)
                             .where(EventFieldValue.event_id == event.id)).all())
    tags = list(db.scalars(select(EventTag.name).where(EventTag.event_id == event.id).order_by(EventTag.name)))
    siblings = list(db.scalars(select(Event.name).where(Event.event_type_id == et.id, Event.id != event.id)
                               .order_by(Event.order, Event.name).limit(20)))
    return {
        "project": project.name,
        "event": {"name": event.name, "description": event.description or None, "status": event.status.value,
                  "tags": tags, "field_values": values},
        "event_type": {"name": et.name, "display_name": et.display_name, "description": et.description or None},
        "fields": _fields(et),
        "sibling_events": siblings,
        "observed_in_warehouse": _observations(db, project, et, event),
    }


def plan_overview(db: Session, branch: PlanBranch) -> dict[str, Any]:
    """Counts and event type names: lets the model answer "how many / which types" questions."""
    types = db.execute(select(EventType.name, func.count(Event.id)).outerjoin(Event, Event.event_type_id == EventType.id)
                       .where(EventType.branch_id == branch.id).group_by(EventType.name)
                       .order_by(EventType.name).limit(60)).all()
    total = db.scalar(select(func.count()).select_from(Event).where(Event.branch_id == branch.id))
    return {"events": total, "event_types": {name: n for name, n in types}}


def to_prompt(data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False, default=str, indent=1)
    return text if len(text) <= MAX_CONTEXT_CHARS else text[:MAX_CONTEXT_CHARS] + "\n…(truncated)"
