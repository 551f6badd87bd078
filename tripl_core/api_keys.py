"""API keys for programs: the token is shown once, only its hash is kept."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.base import utcnow
from tripl_core.db.models.auth import ApiKey, ApiKeyScope, UserRole
from tripl_core.db.models.projects import Project
from tripl_core.errors import Forbidden, Invalid, NotFound, Unauthorized
from tripl_core.security import new_api_key, token_hash


@dataclass
class MintedKey:
    key: ApiKey
    token: str


def create(db: Session, actor: audit.Actor, name: str, scope: ApiKeyScope, expires_in_days: int | None,
           project_slug: str | None) -> MintedKey:
    project = None
    if project_slug:
        project = db.scalar(select(Project).where(Project.slug == project_slug))
        if project is None:
            raise Invalid("project_slug", f"No project with slug '{project_slug}'.")
    if expires_in_days is not None and expires_in_days < 1:
        raise Invalid("expires_in_days", "Must be at least 1 day.")
    if scope == ApiKeyScope.write and actor.role == UserRole.viewer:
        raise Forbidden("Viewers can only create read keys: a key never does more than its user may.")
    restricted_to = actor.api_key.project_id if actor.api_key else None
    if restricted_to is not None and (project is None or project.id != restricted_to):
        # A key must not mint a key wider than itself.
        raise Forbidden("A project-restricted API key can only create keys for its own project.")
    token, prefix = new_api_key()
    key = ApiKey(
        user_id=actor.user.id, name=name, key_prefix=prefix, token_hash=token_hash(token), scope=scope,
        project_id=project.id if project else None,
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    db.add(key)
    db.flush()
    audit.record(db, actor, "api_key.create", "api_key", key.id, name, project=project,
                 after={"name": name, "scope": scope.value, "key_prefix": prefix})
    db.commit()
    return MintedKey(key=key, token=token)


def ensure_workspace_access(actor: audit.Actor) -> None:
    """Workspace-wide mutations (new projects, roles) are outside any project a key is restricted to."""
    if actor.api_key is not None and actor.api_key.project_id is not None:
        raise Forbidden("This API key is restricted to one project.")


def list_for(db: Session, actor: audit.Actor) -> list[ApiKey]:
    return list(db.scalars(select(ApiKey).where(ApiKey.user_id == actor.user.id).order_by(ApiKey.created_at)))


def revoke(db: Session, actor: audit.Actor, key_id: uuid.UUID) -> None:
    key = db.get(ApiKey, key_id)
    # Owners may revoke anyone's key (a leaked key must be stoppable); others only their own.
    if key is None or (key.user_id != actor.user.id and actor.role.value != "owner"):
        raise NotFound("API key not found.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(db, actor, "api_key.revoke", "api_key", key.id, key.name)
        db.commit()


def authenticate(db: Session, token: str, touch_seconds: int) -> ApiKey:
    key = db.scalar(select(ApiKey).where(ApiKey.token_hash == token_hash(token)))
    now = utcnow()
    if key is None or key.revoked_at is not None:
        raise Unauthorized("Invalid or revoked API key.")
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized("API key expired.")
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() >= touch_seconds:
        db.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        db.commit()
        key.last_used_at = now
    return key
