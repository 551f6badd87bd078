"""Event photos: screenshots (bytes on local disk, see photo_files) and Figma specs (links) on main's events.

Photos hang off main's event ids, like metrics and findings: a branch copy of an event is resolved to its origin,
and an event that exists only on a branch gets its photos once merged.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.plan import BranchKind, Event, PlanBranch
from tripl_core.db.models.plan_extras import EventPhoto, PhotoKind, PhotoStorageBackend
from tripl_core.db.models.projects import Project
from tripl_core.errors import Conflict, Invalid, NotFound
from tripl_core.plan_extras import photo_files

AUDIT_FIELDS = ["kind", "original_filename", "title", "content_type", "size_bytes", "external_url"]
FILENAME_MAX = 255
FIGMA_HOSTS = ("figma.com", "www.figma.com", "embed.figma.com")
FIGMA_PATH_RE = re.compile(r"^/(file|design|proto|board|slides|deck|make|community/file)/[A-Za-z0-9]+")


def main_event(db: Session, project: Project, event_id: uuid.UUID) -> Event:
    """The main-branch event with this id (a branch copy's id maps to its origin)."""
    row = db.execute(
        select(Event, PlanBranch.kind).join(PlanBranch, PlanBranch.id == Event.branch_id)
        .where(Event.id == event_id, Event.project_id == project.id)
    ).first()
    if row is None:
        raise NotFound(f"Event '{event_id}' not found.")
    event, kind = row
    if kind == BranchKind.main:
        return event
    if event.origin_id is None:
        raise Conflict("This event exists only on a branch; attach photos after the branch is merged.")
    return main_event(db, project, event.origin_id)


def list_photos(db: Session, project: Project, event_id: uuid.UUID) -> list[EventPhoto]:
    event = main_event(db, project, event_id)
    return list(db.scalars(select(EventPhoto).where(EventPhoto.event_id == event.id)
                           .order_by(EventPhoto.sort_order, EventPhoto.created_at, EventPhoto.id)))


def get_photo(db: Session, project: Project, event_id: uuid.UUID, photo_id: uuid.UUID) -> EventPhoto:
    event = main_event(db, project, event_id)
    photo = db.get(EventPhoto, photo_id)
    if photo is None or photo.event_id != event.id:
        raise NotFound(f"Photo '{photo_id}' not found on this event.")
    return photo


def _next_order(db: Session, event_id: uuid.UUID) -> int:
    current = db.scalar(select(func.max(EventPhoto.sort_order)).where(EventPhoto.event_id == event_id))
    return 0 if current is None else current + 1


def _clean_filename(name: str | None) -> str:
    """The client's file name, for display only: no directories, no control characters, bounded."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:FILENAME_MAX] or "photo"


def upload(db: Session, actor: audit.Actor, project: Project, event_id: uuid.UUID, filename: str | None,
           src: BinaryIO, uploads_dir: Path, max_bytes: int) -> EventPhoto:
    """Store the bytes (checked by content, bounded by max_bytes), then the row; no row without its file."""
    event = main_event(db, project, event_id)
    photo_id = uuid.uuid4()
    stored = photo_files.store(src, uploads_dir, project.id, photo_id, max_bytes)
    try:
        photo = EventPhoto(id=photo_id, project_id=project.id, event_id=event.id, kind=PhotoKind.photo,
                           original_filename=_clean_filename(filename), content_type=stored.format.content_type,
                           size_bytes=stored.size_bytes, sha256=stored.sha256,
                           storage_backend=PhotoStorageBackend.local, storage_key=stored.storage_key,
                           sort_order=_next_order(db, event.id), uploaded_by_user_id=actor.user.id)
        db.add(photo)
        db.flush()
        audit.record(db, actor, "event_photo.upload", "event_photo", photo.id, photo.original_filename,
                     project=project, after={**audit.snapshot(photo, AUDIT_FIELDS), "event": event.name},
                     message=f"{actor.label} uploaded photo '{photo.original_filename}' to event '{event.name}'")
        db.commit()
    except BaseException:
        db.rollback()
        photo_files.remove(uploads_dir, stored.storage_key)
        raise
    return photo


def validate_figma_url(url: str) -> str:
    """An https link to a Figma file, design, prototype or board; anything else is refused (422 on `url`)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        raise Invalid("url", "Not a valid URL.") from None
    if parts.scheme != "https":
        raise Invalid("url", "Use an https:// Figma link.")
    if host not in FIGMA_HOSTS or parts.username or parts.password or port not in (None, 443):
        raise Invalid("url", "Only figma.com links can be attached (e.g. https://www.figma.com/design/…).")
    if not FIGMA_PATH_RE.match(parts.path):
        raise Invalid("url", "Link a Figma file, design, prototype or board (…/design/<key>/…).")
    return url


def attach_figma(db: Session, actor: audit.Actor, project: Project, event_id: uuid.UUID, url: str,
                 title: str = "") -> EventPhoto:
    event = main_event(db, project, event_id)
    url = validate_figma_url(url)
    title = (title or "").strip()
    photo = EventPhoto(project_id=project.id, event_id=event.id, kind=PhotoKind.figma,
                       original_filename=title or "Figma spec", title=title, content_type=None, size_bytes=0,
                       storage_backend=PhotoStorageBackend.external, external_url=url,
                       sort_order=_next_order(db, event.id), uploaded_by_user_id=actor.user.id)
    db.add(photo)
    db.flush()
    audit.record(db, actor, "event_photo.attach_figma", "event_photo", photo.id, title or url, project=project,
                 after={**audit.snapshot(photo, AUDIT_FIELDS), "event": event.name},
                 message=f"{actor.label} attached a Figma spec to event '{event.name}'")
    db.commit()
    return photo


def reorder(db: Session, actor: audit.Actor, project: Project, event_id: uuid.UUID,
            photo_ids: list[uuid.UUID]) -> list[EventPhoto]:
    """The listed photos first, in that order; unlisted ones keep their relative order after them."""
    photos = list_photos(db, project, event_id)
    by_id = {p.id: p for p in photos}
    seen: set[uuid.UUID] = set()
    for i, pid in enumerate(photo_ids):
        if pid in seen:
            raise Invalid(["photo_ids", i], f"Photo '{pid}' is listed twice.")
        if pid not in by_id:
            raise Invalid(["photo_ids", i], f"Photo '{pid}' is not attached to this event.")
        seen.add(pid)
    ordered = [by_id[pid] for pid in photo_ids] + [p for p in photos if p.id not in seen]
    before = [str(p.id) for p in photos]
    for i, photo in enumerate(ordered):
        photo.sort_order = i
    audit.record(db, actor, "event_photo.reorder", "event", event_id, None, project=project,
                 before={"photo_ids": before}, after={"photo_ids": [str(p.id) for p in ordered]},
                 message=f"{actor.label} reordered the photos of an event")
    db.commit()
    return ordered


def delete(db: Session, actor: audit.Actor, project: Project, event_id: uuid.UUID, photo_id: uuid.UUID) -> None:
    """The row goes now; its file goes right after commit (tombstone trigger + photo_files session hook)."""
    photo = get_photo(db, project, event_id, photo_id)
    audit.record(db, actor, "event_photo.delete", "event_photo", photo.id, photo.title or photo.original_filename,
                 project=project, before=audit.snapshot(photo, AUDIT_FIELDS))
    db.delete(photo)
    db.commit()


def local_file(db: Session, project: Project, event_id: uuid.UUID, photo_id: uuid.UUID,
               uploads_dir: Path) -> tuple[EventPhoto, Path | None]:
    """The photo and the path of its bytes (None for an external link such as a Figma spec)."""
    photo = get_photo(db, project, event_id, photo_id)
    if photo.storage_backend != PhotoStorageBackend.local or not photo.storage_key:
        return photo, None
    path = photo_files.path_of(uploads_dir, photo.storage_key)
    if not path.is_file():
        raise NotFound("The photo's file is missing from storage.")
    return photo, path
