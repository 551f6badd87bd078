"""Manual ordering of events within a branch.

- Reorder: the listed events are rearranged among the positions they already occupy, in the given order; every
  other event keeps its position. So reordering a filtered view never disturbs events outside it.
- Move up/down: the event swaps positions with its neighbour in `visible_event_ids` (the user's filtered view,
  default all events of the branch). At the top (bottom) moving up (down) changes nothing.
Positions are kept distinct; if copies or old data left ties, the branch is renumbered first (one statement).
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.plan import Event
from tripl_core.errors import Invalid
from tripl_core.plan.common import PlanScope, record
from tripl_core.plan.event_queries import ORDERING
from tripl_core.plan.events import resolve_ids

RENUMBER = text("""
    UPDATE events AS e SET "order" = r.pos
    FROM (SELECT id, (row_number() OVER (ORDER BY "order", created_at, id) - 1)::int AS pos
          FROM events WHERE branch_id = :branch) AS r
    WHERE e.id = r.id AND e."order" <> r.pos
""")


def _has_ties(db: Session, scope: PlanScope) -> bool:
    distinct, total = db.execute(select(func.count(func.distinct(Event.order)), func.count())
                                 .where(Event.branch_id == scope.branch_id)).one()
    return distinct != total


def renumber(db: Session, scope: PlanScope) -> None:
    db.flush()
    db.execute(RENUMBER, {"branch": scope.branch_id})
    db.expire_all()


def reorder(db: Session, actor: audit.Actor, scope: PlanScope, event_ids: list[uuid.UUID]) -> list[Event]:
    events = resolve_ids(db, scope, event_ids)
    if _has_ties(db, scope):
        renumber(db, scope)
        events = resolve_ids(db, scope, event_ids)
    slots = sorted(e.order for e in events)
    for event, slot in zip(events, slots, strict=True):
        event.order = slot
    record(db, actor, scope, "event.reorder", "event", None, f"{len(events)} events",
           after={"events": [e.name for e in events]},
           message=f"{actor.label} reordered {len(events)} event(s)")
    db.commit()
    return events


def move(db: Session, actor: audit.Actor, scope: PlanScope, event: Event, direction: str,
         visible_event_ids: list[uuid.UUID] | None) -> Event:
    if direction not in ("up", "down"):
        raise Invalid("direction", "Use 'up' or 'down'.")
    if _has_ties(db, scope):
        renumber(db, scope)
    stmt = select(Event.id, Event.order).where(Event.branch_id == scope.branch_id).order_by(*ORDERING)
    if visible_event_ids is not None:
        if event.id not in visible_event_ids:
            raise Invalid("visible_event_ids", "The moved event must be one of the visible events.")
        stmt = stmt.where(Event.id.in_(visible_event_ids))  # ids of other branches or deleted events drop out
    view = db.execute(stmt).all()
    pos = next(i for i, (eid, _) in enumerate(view) if eid == event.id)
    other = pos - 1 if direction == "up" else pos + 1
    if not 0 <= other < len(view):
        return event
    neighbour = db.get(Event, view[other][0])
    assert neighbour is not None
    before = event.order
    event.order, neighbour.order = neighbour.order, event.order
    record(db, actor, scope, "event.move", "event", event.id, event.name,
           before={"order": before}, after={"order": event.order},
           message=f"{actor.label} moved event '{event.name}' {direction} (past '{neighbour.name}')")
    db.commit()
    return event
