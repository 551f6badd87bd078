"""Events of the tracking plan: CRUD, filters, bulk operations, ordering, history."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from tripl_api.deps import DB
from tripl_api.plan_deps import PlanRead, PlanWrite
from tripl_api.schemas.events import (
    BulkUpdate,
    EventCreate,
    EventIds,
    EventList,
    EventResponse,
    EventUpdate,
    HistoryEntry,
    MoveEvent,
)
from tripl_core.db.models.plan import EventStatus
from tripl_core.plan import event_queries, events, history, ordering
from tripl_core.plan.event_queries import EventFilters

router = APIRouter(prefix="/api/v1/projects/{slug}/events", tags=["events"])


@router.get("", summary="List Events", response_model=EventList)
def list_events(
    db: DB, plan: PlanRead,
    event_type_id: uuid.UUID | None = None,
    search: Annotated[str | None, Query(description="Case-insensitive substring of name or description.")] = None,
    status: Annotated[list[EventStatus] | None, Query(description="Any of these statuses (repeatable).")] = None,
    tag: str | None = None,
    silent_since_days: Annotated[int | None, Query(ge=0, le=36500, description="Never seen, or last seen more than N days "
                                                                      "ago.")] = None,
    field_value: Annotated[str | None, Query(description="`name=value` (exact, case-insensitive) or a substring "
                                                         "of any field value.")] = None,
    meta_value: Annotated[str | None, Query(description="`name=value` or a substring of any meta value.")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 200,
):
    filters = EventFilters(event_type_id=event_type_id, search=search, statuses=status or [], tag=tag,
                           silent_since_days=silent_since_days, field_value=field_value, meta_value=meta_value)
    # The body comes from PostgreSQL as EventList JSON (see event_queries._ITEM_SQL): nothing is decoded, validated
    # or re-encoded per event. response_model still documents the schema; tests/plan/test_list_events_json.py pins
    # the bytes to what the model writes.
    return Response(event_queries.list_events_json(db, plan.scope, filters, offset, limit),
                    media_type="application/json")


@router.post("", summary="Create Event", response_model=EventResponse, status_code=201)
def create_event(body: EventCreate, db: DB, plan: PlanWrite):
    [event] = events.create_many(db, plan.actor, plan.scope, [body.model_dump()], bulk=False)
    return event_queries.hydrate_one(db, event)


@router.get("/tags", summary="List Tags", response_model=list[str])
def list_tags(db: DB, plan: PlanRead):
    return event_queries.list_tags(db, plan.scope)


@router.post("/bulk", summary="Bulk Create Events", response_model=list[EventResponse], status_code=201)
def bulk_create_events(body: list[EventCreate], db: DB, plan: PlanWrite):
    created = events.create_many(db, plan.actor, plan.scope, [e.model_dump() for e in body], bulk=True)
    return event_queries.hydrate(db, created)


@router.post("/bulk-delete", summary="Bulk Delete Events", status_code=204)
def bulk_delete_events(body: EventIds, db: DB, plan: PlanWrite) -> Response:
    events.bulk_delete(db, plan.actor, plan.scope, body.event_ids)
    return Response(status_code=204)


@router.post("/bulk-update", summary="Bulk Update Events", status_code=204)
def bulk_update_events(body: BulkUpdate, db: DB, plan: PlanWrite) -> Response:
    changes = body.model_dump(exclude_unset=True, exclude={"event_ids"})
    events.bulk_update(db, plan.actor, plan.scope, body.event_ids, changes)
    return Response(status_code=204)


@router.post("/reorder", summary="Reorder Events", response_model=list[EventResponse])
def reorder_events(body: EventIds, db: DB, plan: PlanWrite):
    return event_queries.hydrate(db, ordering.reorder(db, plan.actor, plan.scope, body.event_ids))


@router.get("/{event_id}", summary="Get Event", response_model=EventResponse)
def get_event(event_id: uuid.UUID, db: DB, plan: PlanRead):
    return event_queries.hydrate_one(db, events.get(db, plan.scope, event_id))


@router.patch("/{event_id}", summary="Update Event", response_model=EventResponse)
def update_event(event_id: uuid.UUID, body: EventUpdate, db: DB, plan: PlanWrite):
    event = events.get(db, plan.scope, event_id)
    updated = events.update(db, plan.actor, plan.scope, event, body.model_dump(exclude_unset=True))
    return event_queries.hydrate_one(db, updated)


@router.delete("/{event_id}", summary="Delete Event", status_code=204)
def delete_event(event_id: uuid.UUID, db: DB, plan: PlanWrite) -> Response:
    events.delete_one(db, plan.actor, plan.scope, events.get(db, plan.scope, event_id))
    return Response(status_code=204)


@router.get("/{event_id}/history", summary="Get Event History", response_model=list[HistoryEntry])
def get_event_history(event_id: uuid.UUID, db: DB, plan: PlanRead):
    return history.event_history(db, events.get(db, plan.scope, event_id))


@router.post("/{event_id}/move", summary="Move Event", response_model=EventResponse)
def move_event(event_id: uuid.UUID, body: MoveEvent, db: DB, plan: PlanWrite):
    event = events.get(db, plan.scope, event_id)
    moved = ordering.move(db, plan.actor, plan.scope, event, body.direction, body.visible_event_ids)
    return event_queries.hydrate_one(db, moved)
