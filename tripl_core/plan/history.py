"""Get Event History: who changed what, field by field, when — derived from the audit log.

Every event write records the event's readable state in the audit entry's before/after (see events.state), so
history needs no table of its own and can never disagree with the audit log.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core.db.models.audit import AuditEntry
from tripl_core.db.models.plan import Event

PAIR_KEYS = ("field_values", "meta_values")


def _flatten(data: dict[str, Any] | None) -> dict[str, Any]:
    """`field_values: [[name, value]…]` becomes `field_values.name: value`, so each field is its own change."""
    out: dict[str, Any] = {}
    for key, value in (data or {}).items():
        if key in PAIR_KEYS and isinstance(value, list):
            for pair in value:
                if isinstance(pair, list) and len(pair) == 2:
                    out[f"{key}.{pair[0]}"] = pair[1]
        else:
            out[key] = value
    return out


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
    b, a = _flatten(before), _flatten(after)
    # A list key present on one side only means "all of these" (create/delete): compare against nothing.
    out = []
    for key in sorted(set(b) | set(a)):
        old, new = b.get(key), a.get(key)
        if old != new and not (old in (None, [], "") and new in (None, [], "")):
            out.append({"field": key, "before": old, "after": new})
    return out


def event_history(db: Session, event: Event, limit: int = 500) -> list[dict[str, Any]]:
    """Newest first."""
    rows = db.scalars(select(AuditEntry).where(AuditEntry.target_type == "event",
                                               AuditEntry.target_id == str(event.id))
                      .order_by(AuditEntry.created_at.desc(), AuditEntry.id).limit(limit))
    return [{
        "id": r.id, "action": r.action, "changed_at": r.created_at, "actor_id": r.actor_user_id,
        "actor_name": r.actor_name, "actor_email": r.actor_email, "message": r.message,
        "changes": changes(r.before, r.after),
    } for r in rows]
