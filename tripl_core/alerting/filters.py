"""Rule filters: narrow a rule to some event types, events, tags, plan statuses or scan configs.

A filter is `{"field": F, "operator": "in" | "not_in", "values": [...]}`; all filters of a rule must hold.
`event_type` and `event` values are ids or names, `scan_config` values ids, `status` values plan event statuses
(draft … archived), `tag` values event tags. A finding without the attribute (a project-total anomaly has no
event) fails an `in` filter and passes a `not_in` one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core.db.models.plan import Event, EventStatus, EventType
from tripl_core.db.models.sources import ScanConfig
from tripl_core.errors import Invalid

FIELDS = ("event_type", "event", "tag", "status", "scan_config")
OPERATORS = ("in", "not_in")
MAX_FILTERS = 20
MAX_VALUES = 500


@dataclass(frozen=True)
class Subject:
    """What filters look at in one finding: ids and names of its event type / event, tags, status, scan."""

    event_type_id: str | None = None
    event_type_name: str | None = None
    event_id: str | None = None
    event_name: str | None = None
    tags: frozenset[str] = frozenset()
    status: str | None = None
    scan_config_id: str | None = None

    def values(self, field: str) -> set[str]:
        if field == "event_type":
            return {v for v in (self.event_type_id, self.event_type_name) if v}
        if field == "event":
            return {v for v in (self.event_id, self.event_name) if v}
        if field == "tag":
            return set(self.tags)
        if field == "status":
            return {self.status} if self.status else set()
        return {self.scan_config_id} if self.scan_config_id else set()


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _check_ids(db: Session, project_id: uuid.UUID, field: str, ids: list[uuid.UUID], loc: list[str | int]) -> None:
    model = {"event_type": EventType, "event": Event, "scan_config": ScanConfig}[field]
    found = set(db.scalars(select(model.id).where(model.id.in_(ids), model.project_id == project_id)))
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise Invalid(loc, f"no {field.replace('_', ' ')} {missing[0]} in this project")


def normalize(db: Session, project_id: uuid.UUID, filters: Sequence[Mapping[str, Any]] | None
              ) -> list[dict[str, Any]]:
    """Validate and canonicalise a rule's filters; raises `Invalid(["filters", i, key], reason)`."""
    out: list[dict[str, Any]] = []
    if filters is None:
        return out
    if len(filters) > MAX_FILTERS:
        raise Invalid("filters", f"at most {MAX_FILTERS} filters")
    for i, raw in enumerate(filters):
        if not isinstance(raw, Mapping):
            raise Invalid(["filters", i], "must be an object with field, operator and values")
        unknown = set(raw) - {"field", "operator", "values"}
        if unknown:
            raise Invalid(["filters", i, sorted(unknown)[0]], "unknown key; use field, operator and values")
        field = raw.get("field")
        if field not in FIELDS:
            raise Invalid(["filters", i, "field"], f"one of {', '.join(FIELDS)}")
        operator = raw.get("operator", "in")
        if operator not in OPERATORS:
            raise Invalid(["filters", i, "operator"], "one of in, not_in")
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise Invalid(["filters", i, "values"], "a non-empty list")
        if len(values) > MAX_VALUES:
            raise Invalid(["filters", i, "values"], f"at most {MAX_VALUES} values")
        clean: list[str] = []
        for j, v in enumerate(values):
            if not isinstance(v, str) or not v.strip():
                raise Invalid(["filters", i, "values", j], "a non-empty string")
            clean.append(v.strip())
        loc: list[str | int] = ["filters", i, "values"]
        if field == "status":
            bad = [v for v in clean if v not in EventStatus.__members__]
            if bad:
                raise Invalid(loc, f"{bad[0]!r} is not a plan status; one of {', '.join(EventStatus)}")
        elif field == "scan_config":
            ids = [_as_uuid(v) for v in clean]
            if None in ids:
                raise Invalid(loc, "scan config ids (UUIDs)")
            _check_ids(db, project_id, field, [i for i in ids if i], loc)
            clean = [str(i) for i in ids]
        elif field in ("event_type", "event"):
            ids = [u for u in (_as_uuid(v) for v in clean) if u]
            _check_ids(db, project_id, field, ids, loc)
            clean = [str(_as_uuid(v)) if _as_uuid(v) else v for v in clean]
        out.append({"field": field, "operator": operator, "values": list(dict.fromkeys(clean))})
    return out


def passes(filters: Iterable[Mapping[str, Any]], subject: Subject) -> bool:
    """Whether a finding's subject satisfies every filter."""
    for f in filters:
        hit = bool(subject.values(f["field"]) & set(f["values"]))
        if hit != (f.get("operator", "in") == "in"):
            return False
    return True
