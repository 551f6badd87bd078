"""Revisions: committed snapshots of main's plan, listed newest first, diffable against each other."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.projects import Project
from tripl_core.db.models.versioning import PlanRevision
from tripl_core.errors import Invalid, NotFound
from tripl_core.plan import snapshot
from tripl_core.plan.branching import main_branch
from tripl_core.plan.diff import diff_payloads, same_plan

SUMMARY_MAX = 2000


def latest(db: Session, project_id: uuid.UUID) -> PlanRevision | None:
    return db.scalar(select(PlanRevision).where(PlanRevision.project_id == project_id)
                     .order_by(PlanRevision.created_at.desc(), PlanRevision.id.desc()).limit(1))


def add(db: Session, actor: audit.Actor | None, project: Project, summary: str,
        payload: dict[str, Any] | None = None) -> PlanRevision:
    """A revision of main as it is in this transaction (flushed and audited, not committed)."""
    if len(summary) > SUMMARY_MAX:
        raise Invalid("summary", f"At most {SUMMARY_MAX} characters.")
    if payload is None:
        payload = snapshot.snapshot(db, main_branch(db, project).id)
    rev = PlanRevision(project_id=project.id, summary=summary, payload=payload,
                       entity_counts=snapshot.entity_counts(payload),
                       created_by=actor.user.id if actor else None)
    db.add(rev)
    db.flush()
    audit.record(db, actor, "revision.create", "revision", rev.id, summary[:200] or None, project=project,
                 after={"entity_counts": rev.entity_counts},
                 message=f"{actor.label if actor else 'system'} committed a revision of the plan"
                 + (f": {summary[:200]}" if summary else ""))
    return rev


def create(db: Session, actor: audit.Actor, project: Project, summary: str = "") -> PlanRevision:
    rev = add(db, actor, project, summary)
    db.commit()
    return rev


def current(db: Session, actor: audit.Actor | None, project: Project, summary: str,
            payload: dict[str, Any] | None = None) -> PlanRevision:
    """The latest revision if it still matches main (`payload`: main's snapshot, if the caller has it), else a new
    one (flushed): what a new branch is based on, and what a merge starts from."""
    if payload is None:
        payload = snapshot.snapshot(db, main_branch(db, project).id)
    rev = latest(db, project.id)
    if rev is not None and same_plan(rev.payload, payload):
        return rev
    return add(db, actor, project, summary, payload)


def list_page(db: Session, project: Project, offset: int, limit: int) -> tuple[list[PlanRevision], int]:
    cond = PlanRevision.project_id == project.id
    total = db.scalar(select(func.count()).select_from(PlanRevision).where(cond)) or 0
    rows = db.scalars(select(PlanRevision).where(cond)
                      .order_by(PlanRevision.created_at.desc(), PlanRevision.id.desc()).offset(offset).limit(limit))
    return list(rows), total


def get(db: Session, project: Project, revision_id: uuid.UUID) -> PlanRevision:
    rev = db.get(PlanRevision, revision_id)
    if rev is None or rev.project_id != project.id:
        raise NotFound(f"Revision '{revision_id}' not found in project '{project.slug}'.")
    return rev


def diff(db: Session, project: Project, revision_id: uuid.UUID, compare_to: uuid.UUID) -> dict[str, Any]:
    """What changed from `compare_to` (old) to `revision_id` (new)."""
    new = get(db, project, revision_id)
    old = db.get(PlanRevision, compare_to)
    if old is None or old.project_id != project.id:
        raise NotFound(f"compare_to: revision '{compare_to}' not found in project '{project.slug}'.")
    return {"revision_id": new.id, "compare_to": old.id, **diff_payloads(old.payload, new.payload)}
