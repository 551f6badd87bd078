"""Human names for the ids findings carry (events, event types, scan configs), fetched in one query each."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core.db.models.plan import Event, EventType
from tripl_core.db.models.projects import Project
from tripl_core.db.models.sources import ScanConfig


class Names:
    """Lazily resolved names of one project's events, event types and scan configs."""

    def __init__(self, db: Session, project: Project):
        self.db, self.project = db, project
        self.events: dict[uuid.UUID, str] = {}
        self.types: dict[uuid.UUID, str] = {}
        self.configs: dict[uuid.UUID, str] = {}

    def load(self, event_ids: Iterable[uuid.UUID | None] = (), type_ids: Iterable[uuid.UUID | None] = (),
             config_ids: Iterable[uuid.UUID | None] = ()) -> Names:
        ev = {i for i in event_ids if i is not None} - set(self.events)
        if ev:
            self.events.update(self.db.execute(select(Event.id, Event.name).where(
                Event.project_id == self.project.id, Event.id.in_(ev))).all())
        ty = {i for i in type_ids if i is not None} - set(self.types)
        if ty:
            self.types.update(self.db.execute(select(EventType.id, EventType.display_name).where(
                EventType.project_id == self.project.id, EventType.id.in_(ty))).all())
        cf = {i for i in config_ids if i is not None} - set(self.configs)
        if cf:
            self.configs.update(self.db.execute(select(ScanConfig.id, ScanConfig.name).where(
                ScanConfig.project_id == self.project.id, ScanConfig.id.in_(cf))).all())
        return self

    def scope(self, scope_type: str, scope_ref: uuid.UUID | None) -> str:
        if scope_type == "project_total" or scope_ref is None:
            return "Project total"
        if scope_type == "event":
            return self.load(event_ids=[scope_ref]).events.get(scope_ref, f"event {scope_ref}")
        return self.load(type_ids=[scope_ref]).types.get(scope_ref, f"event type {scope_ref}")
