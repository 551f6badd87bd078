"""Projects (one tracking plan each): create, rename, re-slug, delete with everything attached, summary."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.projects import Project
from tripl_core.errors import Conflict, Invalid, NotFound
from tripl_core.findings.summary import findings_summary
from tripl_core.plan import branching
from tripl_core.plan.summary import plan_summary
from tripl_core.plan_extras.summary import plan_extras_summary

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# Each domain adds counts to a project's summary; a provider maps project ids to partial summaries.
SummaryProvider = Callable[[Session, list[uuid.UUID]], dict[uuid.UUID, dict[str, Any]]]
SUMMARY_PROVIDERS: list[SummaryProvider] = [plan_summary, plan_extras_summary, findings_summary]  # other domains append theirs


def empty_summary() -> dict[str, Any]:
    return {
        "event_types": 0,
        "events": 0,
        "events_by_status": {},
        "fields": 0,
        "open_drifts": 0,
    }


def summaries(db: Session, project_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """One query per provider for any number of projects (no N+1 in List Projects)."""
    out = {pid: empty_summary() for pid in project_ids}
    if not project_ids:
        return out
    for provider in SUMMARY_PROVIDERS:
        for pid, part in provider(db, project_ids).items():
            out.setdefault(pid, empty_summary()).update(part)
    return out


def get_by_slug(db: Session, slug: str) -> Project:
    project = db.scalar(select(Project).where(Project.slug == slug))
    if project is None:
        raise NotFound(f"Project '{slug}' not found.")
    return project


def list_all(db: Session, only_id: uuid.UUID | None = None) -> list[Project]:
    stmt = select(Project).order_by(Project.name, Project.slug)
    if only_id is not None:
        stmt = stmt.where(Project.id == only_id)
    return list(db.scalars(stmt))


def _check_slug(db: Session, slug: str, exclude: uuid.UUID | None = None) -> None:
    if not SLUG_RE.match(slug):
        raise Invalid("slug", "Use lowercase letters, digits and single hyphens, e.g. 'mobile-app'.")
    existing = db.scalar(select(Project.id).where(Project.slug == slug))
    if existing is not None and existing != exclude:
        raise Conflict(f"A project with slug '{slug}' already exists.")


def unique_slug(db: Session, base: str) -> str:
    """`base`, or `base-2`, `base-3`, … whichever is free."""
    taken = set(db.scalars(select(Project.slug).where(Project.slug.like(f"{base}%"))))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def create(db: Session, actor: audit.Actor, name: str, slug: str, description: str = "",
           commit: bool = True) -> Project:
    _check_slug(db, slug)
    project = Project(name=name, slug=slug, description=description)
    db.add(project)
    db.flush()
    branching.create_main(db, project, created_by=actor.user.id if actor else None)
    audit.record(db, actor, "project.create", "project", project.id, name, project=project,
                 after=audit.snapshot(project, ["name", "slug", "description"]))
    if commit:
        db.commit()
    return project


def update(db: Session, actor: audit.Actor, project: Project, changes: dict[str, Any]) -> Project:
    fields = ["name", "slug", "description"]
    before = audit.snapshot(project, fields)
    if "slug" in changes and changes["slug"] != project.slug:
        _check_slug(db, changes["slug"], exclude=project.id)
    for key in fields:
        if key in changes and changes[key] is not None:
            setattr(project, key, changes[key])
    db.flush()
    b, a = audit.changed(before, audit.snapshot(project, fields))
    if a:  # a PATCH that changes nothing is not a mutation: no audit entry
        audit.record(db, actor, "project.update", "project", project.id, project.name, project=project,
                     before=b, after=a)
    db.commit()
    return project


def delete(db: Session, actor: audit.Actor, project: Project) -> None:
    """Everything a project owns references it with ON DELETE CASCADE, so one DELETE removes it all."""
    # The entry names the project (slug kept; project_id becomes NULL by ON DELETE SET NULL), so that
    # List Audit filtered by this slug still shows the deletion. Flushed first: the row must exist before the
    # DELETE runs its SET NULL.
    audit.record(db, actor, "project.delete", "project", project.id, project.name, project=project,
                 before=audit.snapshot(project, ["name", "slug", "description"]),
                 message=f"{actor.label} deleted project '{project.name}' ({project.slug})")
    db.flush()
    db.delete(project)
    db.commit()
