"""Differences between two plan payloads (tripl_core.plan.snapshot), entity by entity and field by field.

Entities are matched by their stable id, so a rename shows as a `changed` entry of `name`, not as a removal plus an
addition. Used by Diff Branch (base revision → branch), Diff Revision (compare_to → revision) and to tell whether
main moved since a revision.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tripl_core.plan.snapshot import Payload, comparable, index

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"


def entry(change: str, entity_type: str, row: dict[str, Any], field: str | None, old: Any, new: Any) -> dict:
    return {"change": change, "entity_type": entity_type, "entity_id": row["id"],
            "entity_name": row.get("_name", row["id"]), "field": field, "old_value": old, "new_value": new}


def diff_payloads(old: Payload, new: Payload) -> dict[str, Any]:
    """`entries` (added / removed entities with their whole value; one `changed` entry per field) and `summary`."""
    old_ix, new_ix = index(old), index(new)
    entries: list[dict[str, Any]] = []
    for etype in list(new_ix) + [t for t in old_ix if t not in new_ix]:
        before, after = old_ix.get(etype, {}), new_ix.get(etype, {})
        for eid, row in after.items():
            prev = before.get(eid)
            if prev is None:
                entries.append(entry(ADDED, etype, row, None, None, comparable(row)))
                continue
            a, b = comparable(prev), comparable(row)
            for field in list(b) + [k for k in a if k not in b]:
                if a.get(field) != b.get(field):
                    # named as before the change: a rename reads "page_view: name page_view → screen_view"
                    entries.append(entry(CHANGED, etype, prev, field, a.get(field), b.get(field)))
        for eid, row in before.items():
            if eid not in after:
                entries.append(entry(REMOVED, etype, row, None, comparable(row), None))
    return {"entries": entries, "summary": summarize(entries)}


def summarize(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts: entities added / removed / changed (a changed entity counts once), field changes, per type."""
    by_type: dict[str, dict[str, int]] = {}
    changed_entities: set[tuple[str, str]] = set()
    for e in entries:
        counts = by_type.setdefault(e["entity_type"], {ADDED: 0, REMOVED: 0, CHANGED: 0})
        if e["change"] == CHANGED:
            key = (e["entity_type"], e["entity_id"])
            if key in changed_entities:
                continue
            changed_entities.add(key)
        counts[e["change"]] += 1
    total = {k: sum(c[k] for c in by_type.values()) for k in (ADDED, REMOVED, CHANGED)}
    return {**total, "field_changes": sum(1 for e in entries if e["change"] == CHANGED),
            "total": len(entries), "by_entity_type": by_type}


def same_plan(a: Payload, b: Payload) -> bool:
    """Whether two payloads describe the same plan (names and order of listing aside)."""
    ia, ib = index(a), index(b)
    types = set(ia) | set(ib)
    return all({k: comparable(v) for k, v in ia.get(t, {}).items()}
               == {k: comparable(v) for k, v in ib.get(t, {}).items()} for t in types)


def fingerprint(payload: Payload) -> str:
    """A hash of what a payload says (ids and compared fields, not names or listing order)."""
    ix = index(payload)
    canon = {t: sorted([eid, comparable(r)] for eid, r in rows.items()) for t, rows in ix.items() if rows}
    return hashlib.sha256(json.dumps(canon, sort_keys=True, default=str).encode()).hexdigest()

