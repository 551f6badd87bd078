"""A small shop plan on main, written with the plan models (shared by the search and AI tests)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from tripl_core.db.models.plan import (
    Event,
    EventStatus,
    EventTag,
    EventType,
    FieldDefinition,
    FieldType,
    MetaFieldDefinition,
    MetaFieldType,
)
from tripl_core.db.models.plan_extras import Variable
from tripl_core.plan.branching import main_branch
from tripl_core.projects import get_by_slug


@dataclass
class Plan:
    project_id: uuid.UUID
    branch_id: uuid.UUID
    ids: dict[str, uuid.UUID]


@pytest.fixture
def plan(db, project) -> Plan:
    """A small shop plan on main: 2 event types, 3 fields, 4 events (one archived), a meta field, a variable."""
    proj = get_by_slug(db, project["slug"])
    branch = main_branch(db, proj)
    common = {"project_id": proj.id, "branch_id": branch.id}
    checkout = EventType(**common, name="checkout", display_name="Checkout", description="Purchase funnel steps")
    screen = EventType(**common, name="screen_view", display_name="Screen View",
                       description="A screen was shown to the user")
    db.add_all([checkout, screen])
    db.flush()
    fields = [
        FieldDefinition(event_type_id=checkout.id, branch_id=branch.id, name="order_total", display_name="Order total",
                        field_type=FieldType.number, description="Total order value in cents"),
        FieldDefinition(event_type_id=checkout.id, branch_id=branch.id, name="payment_method",
                        display_name="Payment method", field_type=FieldType.enum,
                        enum_options=["card", "paypal", "apple_pay"]),
        FieldDefinition(event_type_id=screen.id, branch_id=branch.id, name="screen_name", display_name="Screen name",
                        field_type=FieldType.string, description="Name of the screen"),
    ]
    ev = {"event_type_id": checkout.id, **common}
    events = [
        Event(**ev, name="checkout_completed", description="User finished the purchase and paid"),
        Event(**ev, name="checkout_started", description="User opened the checkout page"),
        Event(**ev, name="cartItemAdded", description="A product was put in the shopping basket"),
        Event(**ev, name="legacy_checkout", description="Old flow", status=EventStatus.archived),
    ]
    meta = MetaFieldDefinition(**common, name="jira_ticket", display_name="Jira ticket",
                               field_type=MetaFieldType.url)
    var = Variable(**common, name="screen", source_name="screen", description="Current screen identifier")
    db.add_all([*fields, *events, meta, var])
    db.flush()
    db.add(EventTag(event_id=events[0].id, branch_id=branch.id, name="revenue-critical"))
    db.commit()
    ids = {o.name: o.id for o in [checkout, screen, *fields, *events, meta, var]}
    return Plan(project_id=proj.id, branch_id=branch.id, ids=ids)
