"""Audit queries and the activity feed (the same rows, as readable entries)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core.db.models.audit import AuditEntry
from tripl_core.db.models.projects import Project


def list_audit(db: Session, *, project_slug: str | None = None, action: str | None = None,
               user_id: uuid.UUID | None = None, user_email: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               limit: int = 50, offset: int = 0,
               only_project_id: uuid.UUID | None = None) -> tuple[list[AuditEntry], int]:
    """Filtered audit page and total. `only_project_id` confines a project-restricted API key."""
    conds = []
    if project_slug:
        # A live project is matched by id, so its history follows it through slug changes (entries keep the
        # slug of their time); a deleted project's entries (project_id now NULL) are found by their slug.
        pid = db.scalar(select(Project.id).where(Project.slug == project_slug))
        conds.append(AuditEntry.project_id == pid if pid else AuditEntry.project_slug == project_slug)
    if only_project_id is not None:
        conds.append(AuditEntry.project_id == only_project_id)
    if action:
        # "event" matches every event.* action; "event.create" matches exactly.
        conds.append(AuditEntry.action == action if "." in action else AuditEntry.action.like(f"{action}.%"))
    if user_id:
        conds.append(AuditEntry.actor_user_id == user_id)
    if user_email:
        conds.append(func.lower(AuditEntry.actor_email) == user_email.strip().lower())
    if since:
        conds.append(AuditEntry.created_at >= since)
    if until:
        conds.append(AuditEntry.created_at <= until)
    total = db.scalar(select(func.count()).select_from(AuditEntry).where(*conds)) or 0
    rows = db.scalars(
        select(AuditEntry).where(*conds).order_by(AuditEntry.created_at.desc(), AuditEntry.id)
        .limit(limit).offset(offset)
    )
    return list(rows), total


# The feed is about the workspace and its plans; sign-ins and sign-outs stay in the audit log only.
SIGN_INS = ["user.login", "user.logout"]


def list_activity(db: Session, project_id: uuid.UUID | None, limit: int,
                  visible_project_id: uuid.UUID | None = None) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.action.not_in(SIGN_INS))
    if project_id is not None:
        stmt = stmt.where(AuditEntry.project_id == project_id)
    elif visible_project_id is not None:
        stmt = stmt.where(AuditEntry.project_id == visible_project_id)
    return list(db.scalars(stmt.order_by(AuditEntry.created_at.desc()).limit(limit)))
