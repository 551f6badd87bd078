"""Fixtures of the versioning tests: a small plan on main, written with the ORM (independent of the plan API)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from tripl_core.db.models.plan import (
    Event,
    EventFieldValue,
    EventTag,
    EventType,
    FieldDefinition,
    FieldType,
    PlanBranch,
)
from tripl_core.db.models.projects import Project
from tripl_core.plan.branching import main_branch


@dataclass
class Plan:
    project_id: uuid.UUID
    main_id: uuid.UUID
    event_type: uuid.UUID
    field: uuid.UUID
    event: uuid.UUID  # "page_view"
    other_event: uuid.UUID  # "add_to_cart"


@pytest.fixture
def plan(db, project) -> Plan:
    proj = db.get(Project, uuid.UUID(project["id"]))
    main = main_branch(db, proj)
    et = EventType(project_id=proj.id, branch_id=main.id, name="screen", display_name="Screen", order=0)
    db.add(et)
    db.flush()
    field = FieldDefinition(event_type_id=et.id, branch_id=main.id, name="screen_name", display_name="Screen name",
                            field_type=FieldType.string, order=0)
    ev = Event(project_id=proj.id, branch_id=main.id, event_type_id=et.id, name="page_view",
               description="A page is shown")
    ev2 = Event(project_id=proj.id, branch_id=main.id, event_type_id=et.id, name="add_to_cart", order=1)
    db.add_all([field, ev, ev2])
    db.flush()
    db.add_all([EventTag(event_id=ev.id, branch_id=main.id, name="core"),
                EventFieldValue(event_id=ev.id, field_definition_id=field.id, branch_id=main.id, value="home")])
    db.commit()
    return Plan(proj.id, main.id, et.id, field.id, ev.id, ev2.id)


def branch_row(db, model, branch_id: uuid.UUID, origin_id: uuid.UUID):
    """The copy of a main row on a branch (pending edits are flushed first, then the row is read fresh)."""
    return db.scalar(select(model).where(model.branch_id == branch_id, model.origin_id == origin_id)
                     .execution_options(populate_existing=True))


def get_branch(db, branch_id: str) -> PlanBranch:
    db.expire_all()
    return db.get(PlanBranch, uuid.UUID(branch_id))
