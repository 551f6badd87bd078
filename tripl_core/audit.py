"""Who did what: every mutation records its actor, target, project and a before/after summary.

The activity feed is the same rows rendered as sentences (`message`), so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tripl_core.db.base import stored_columns
from tripl_core.db.models.audit import AuditEntry
from tripl_core.db.models.auth import ApiKey, User, UserRole
from tripl_core.db.models.projects import Project
from tripl_core.jsonable import to_jsonable

SECRET_MARKERS = ("password", "token", "secret", "api_key", "webhook_url", "target_url", "header_value",
                  "credentials", "private_key")


@dataclass(frozen=True)
class Actor:
    """The caller: a person (cookie session) or a program (API key acting for its user)."""

    user: User
    api_key: ApiKey | None = None

    @property
    def role(self) -> UserRole:
        return self.user.role

    @property
    def label(self) -> str:
        name = self.user.name or self.user.email
        return f"{name} (API key {self.api_key.name})" if self.api_key else name


def scrub(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """JSON-safe copy with every secret-looking key replaced by whether it was set."""
    if data is None:
        return None
    out: dict[str, Any] = {}
    for key, value in data.items():
        if any(marker in key.lower() for marker in SECRET_MARKERS) and not key.endswith("_set"):
            out[key + "_set"] = bool(value)
        elif isinstance(value, dict):
            out[key] = scrub(value)
        else:
            out[key] = to_jsonable(value)
    return out


def snapshot(obj: Any, fields: list[str] | None = None) -> dict[str, Any]:
    """The column values of a model instance, for before/after."""
    cols = fields or [c.key for c in stored_columns(obj.__table__)]
    return scrub({c: getattr(obj, c) for c in cols}) or {}


_IRREGULAR = {"login": "logged in to", "logout": "logged out of", "run": "ran", "set": "set", "reset": "reset"}


def past_tense(verb: str) -> str:
    verb = verb.replace("_", " ")
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    head, _, rest = verb.partition(" ")
    head = head + "d" if head.endswith("e") else head + "ed"
    return f"{head} {rest}".strip()


def record(
    db: Session,
    actor: Actor | None,
    action: str,
    target_type: str,
    target_id: Any = None,
    target_name: str | None = None,
    project: Project | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    message: str | None = None,
) -> AuditEntry:
    """Add an audit entry to the session (committed with the mutation it describes)."""
    who = actor.label if actor else "system"
    text = message or f"{who} {past_tense(action.split('.')[-1])} {target_type.replace('_', ' ')}" + (
        f" '{target_name}'" if target_name else ""
    )
    entry = AuditEntry(
        actor_user_id=actor.user.id if actor else None,
        actor_email=actor.user.email if actor else None,
        actor_name=(actor.user.name or actor.user.email) if actor else "system",
        api_key_id=actor.api_key.id if actor and actor.api_key else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        target_name=target_name,
        project_id=project.id if project else None,
        project_slug=project.slug if project else None,
        message=text,
        before=scrub(before),
        after=scrub(after),
    )
    db.add(entry)
    return entry


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values differ, for compact before/after summaries."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}
