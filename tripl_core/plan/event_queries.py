"""Reading events: filters, pagination, and hydration of a page in a fixed number of queries (no N+1).

A page of any size is one statement — the page, which brings each event's type, tags and values along, and the
number of matches (a second one only past the end, see `list_events_json`) — whether it holds 10 events or 10,000.

Filter meanings:
- `search`: case-insensitive substring of the name or the description.
- `status`: any of the given statuses.
- `tag`: events carrying exactly this tag.
- `silent_since_days`: never seen in the warehouse, or last seen more than N days ago.
- `field_value` / `meta_value`: `name=value` matches events whose field (meta field) `name` has exactly `value`
  (case-insensitive); a bare `text` matches events with any field (meta) value containing `text`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Select,
    Subquery,
    any_,
    bindparam,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session

from tripl_core.db.base import utcnow
from tripl_core.db.models.plan import (
    Event,
    EventFieldValue,
    EventMetaValue,
    EventStatus,
    EventTag,
    FieldDefinition,
    MetaFieldDefinition,
)
from tripl_core.plan.common import PlanScope

ORDERING = (Event.order, Event.created_at, Event.id)
SEPARATOR = chr(31)  # between name and description in events.search_text


@dataclass
class EventFilters:
    event_type_id: uuid.UUID | None = None
    search: str | None = None
    statuses: list[EventStatus] = field(default_factory=list)
    tag: str | None = None
    silent_since_days: int | None = None
    field_value: str | None = None
    meta_value: str | None = None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class _Shape:
    """Which filters a request uses (their values go in bind parameters): the key of the statement cache.

    Building a statement per request cost more CPU than running it (SQLAlchemy derives the cache key and the
    ORM compile state of every new statement object: ~1.5 ms for the page query); a statement built once per
    shape and executed with parameters skips both."""
    event_type: bool = False
    search: bool = False
    statuses: bool = False
    tag: bool = False
    silent: bool = False
    field_value: str = ""  # "", "exact" (name=value) or "substring"
    meta_value: str = ""


def _bind(scope: PlanScope, f: EventFilters) -> tuple[_Shape, dict[str, Any]]:
    """The shape of `f` and the values of its parameters."""
    params: dict[str, Any] = {"branch_id": scope.branch_id}
    shape: dict[str, Any] = {}
    if f.event_type_id is not None:
        shape["event_type"], params["event_type_id"] = True, f.event_type_id
    if f.search and f.search.strip():
        # The separator cannot be searched for, so a match never spans name and description.
        shape["search"], params["search"] = True, _like(f.search.strip().lower().replace(SEPARATOR, ""))
    if f.statuses:
        shape["statuses"], params["statuses"] = True, list(f.statuses)
    if f.tag:
        shape["tag"], params["tag"] = True, f.tag.strip()
    if f.silent_since_days is not None:
        try:
            cutoff = utcnow() - timedelta(days=f.silent_since_days)
        except OverflowError:  # before year 1: nothing was seen that early, so only never-seen events match
            cutoff = datetime(1, 1, 2, tzinfo=UTC)
        shape["silent"], params["cutoff"] = True, cutoff
    for key, expr in (("field_value", f.field_value), ("meta_value", f.meta_value)):
        if expr and expr.strip():
            name, sep, value = expr.partition("=")
            if sep and name.strip():
                shape[key] = "exact"
                params[f"{key}_name"], params[key] = name.strip(), value.strip().lower()
            else:
                shape[key], params[key] = "substring", _like(expr.strip().lower())
    return _Shape(**shape), params


def _value_condition(kind: str, key: str, value_model: Any, def_model: Any, def_fk: Any) -> ColumnElement[bool]:
    """Events having a (meta) field value matching parameter `key`; `name=value` uses the (definition,
    lower(value)) index.

    `id = ANY(ARRAY(matching ids))`: the ids are found once, then the planner fetches a few events by primary
    key or scans them all with a hashed lookup, whichever fits. With `IN (subquery)` it could not estimate how
    many values match and probed the primary key once per matching value (2x slower when a third of 10k events
    match)."""
    defs = select(def_model.id).where(def_model.branch_id == bindparam("branch_id"))
    if kind == "exact":
        match = func.lower(value_model.value) == bindparam(key)
        defs = defs.where(def_model.name == bindparam(f"{key}_name"))
    else:
        match = func.lower(value_model.value).like(bindparam(key), escape="\\")
    ids = select(value_model.event_id).where(def_fk.in_(defs), match).scalar_subquery()
    return Event.id == any_(func.array(ids, type_=ARRAY(Event.id.type)))


def _conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [Event.branch_id == bindparam("branch_id")]
    if shape.event_type:
        conds.append(Event.event_type_id == bindparam("event_type_id"))
    if shape.search:
        # The stored lower(name ␟ description): a plain LIKE per row, no lower() at query time (pg_trgm is not
        # available).
        conds.append(Event.search_text.like(bindparam("search"), escape="\\"))
    if shape.statuses:
        conds.append(Event.status.in_(bindparam("statuses", expanding=True)))
    if shape.tag:
        conds.append(exists().where(EventTag.event_id == Event.id, EventTag.branch_id == bindparam("branch_id"),
                                    EventTag.name == bindparam("tag")))
    if shape.silent:
        conds.append(or_(Event.last_seen_at.is_(None), Event.last_seen_at < bindparam("cutoff")))
    if shape.field_value:
        conds.append(_value_condition(shape.field_value, "field_value", EventFieldValue, FieldDefinition,
                                      EventFieldValue.field_definition_id))
    if shape.meta_value:
        conds.append(_value_condition(shape.meta_value, "meta_value", EventMetaValue, MetaFieldDefinition,
                                      EventMetaValue.meta_field_definition_id))
    return conds


def conditions(scope: PlanScope, f: EventFilters) -> list[ColumnElement[bool]]:
    """The filters as conditions on `events`, values bound (for statements that embed List Events' filters)."""
    shape, params = _bind(scope, f)
    return [c.params(params) for c in _conditions(shape)]


@lru_cache(maxsize=512)
def _page_statement(shape: _Shape) -> Select[Any]:
    """The page of a shape: each event's response JSON (`_items`) and the number of matches in `total`.

    Cheap filters: the count is an uncorrelated subquery (the order index finds the page without reading every
    match; a window count over full rows made the unfiltered 10k-event list ~4x slower). Costly filters (search,
    field/meta values) must read every candidate anyway, so doing it twice (count, then page) doubled their
    cost: there the page of ids and a window count over those narrow rows come from one pass."""
    conds = _conditions(shape)
    if not (shape.search or shape.field_value or shape.meta_value):
        total = select(func.count()).select_from(Event).where(*conds).scalar_subquery().label("total")
    else:
        total = func.count().over().label("total")
    page = (select(Event.id, Event.order, Event.created_at, total).where(*conds).order_by(*ORDERING)
            .offset(bindparam("offset", type_=Integer)).limit(bindparam("limit", type_=Integer)).subquery("page"))
    return _items(page).add_columns(page.c.total).order_by(page.c.order, page.c.created_at, page.c.id)


@lru_cache(maxsize=512)
def _count_statement(shape: _Shape) -> Select[Any]:
    return select(func.count()).select_from(Event).where(*_conditions(shape))


def list_events_json(db: Session, scope: PlanScope, f: EventFilters, offset: int = 0, limit: int = 200) -> bytes:
    """List Events' response body (`EventList`): one page of events and the number of matches, in one statement
    (see `_page_statement`; a second one counts when the page is past the end)."""
    shape, params = _bind(scope, f)
    rows = db.execute(_page_statement(shape), {**params, "offset": offset, "limit": limit}).all()
    if rows:
        total = rows[0].total
    elif not offset:  # nothing matches
        total = 0
    else:  # past the end: no row carries the total
        total = db.scalar(_count_statement(shape), params) or 0
    return b'{"items":[' + ",".join(r.item for r in rows).encode() + b'],"total":' + str(total).encode() + b"}"


def list_tags(db: Session, scope: PlanScope) -> list[str]:
    return list(db.scalars(select(EventTag.name).where(EventTag.branch_id == scope.branch_id)
                           .distinct().order_by(EventTag.name)))


def _iso(col: str) -> str:
    """A timestamptz as pydantic writes a UTC datetime: `…THH:MM:SSZ`, with `.ffffff` only when not zero."""
    return (f"CASE WHEN date_trunc('second', {col}) = {col} "
            f"""THEN to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
            f"""ELSE to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END""")


# A meta value's link: its field's link_template with `{value}` replaced by the value percent-encoded byte by byte
# as urllib's quote(value, safe="") does (only A-Z a-z 0-9 _ . - ~ stay); no template (or "") → null.
_LINK = """CASE WHEN coalesce(md.link_template, '') = '' THEN NULL ELSE replace(md.link_template, '{value}',
    (SELECT coalesce(string_agg(CASE WHEN b BETWEEN 48 AND 57 OR b BETWEEN 65 AND 90 OR b BETWEEN 97 AND 122
                                          OR b IN (45, 46, 95, 126) THEN chr(b)
                                     ELSE '%' || upper(lpad(to_hex(b), 2, '0')) END, '' ORDER BY i), '')
     FROM (SELECT i, get_byte(convert_to(mv.value, 'UTF8'), i) AS b
           FROM generate_series(0, octet_length(mv.value) - 1) AS i) AS bytes)) END"""

# One event as `EventResponse` JSON, built by PostgreSQL for the event `page.id`: row_to_json writes compact JSON
# with the columns' names and order, so the text is byte for byte what pydantic writes for the response model
# (tests/plan/test_list_events_json.py pins it) and List Events passes it through without decoding anything.
# Open schema drifts count on the event's type; findings name main's event type, so a branch copy counts its
# origin's (an index probe on uq_schema_drifts_key per event).
_ITEM_SQL = f"""
SELECT e.id, e.project_id, e.branch_id, e.event_type_id,
       (SELECT row_to_json(t) FROM (SELECT et.id, et.name, et.display_name, et.description, et.color,
                                           et."order") AS t) AS event_type,
       e.name, e.description, e."order", e.status, {_iso("e.sunset_at")} AS sunset_at,
       {_iso("e.last_seen_at")} AS last_seen_at, e.owner_id, e.reviewed,
       array_to_json(ARRAY(SELECT jsonb_array_elements_text(e.metric_breakdown_columns))) AS metric_breakdown_columns,
       (SELECT count(*) FROM schema_drifts AS d
        WHERE d.event_type_id = coalesce(et.origin_id, et.id) AND d.status = 'open') AS drift_count,
       array_to_json(ARRAY(SELECT t.name FROM event_tags AS t WHERE t.event_id = e.id ORDER BY t.name)) AS tags,
       array_to_json(ARRAY(
           SELECT row_to_json(v) FROM (
               SELECT fv.field_definition_id, fd.name AS field_name, fv.value
               FROM event_field_values AS fv JOIN field_definitions AS fd ON fd.id = fv.field_definition_id
               WHERE fv.event_id = e.id ORDER BY fd."order", fd.name) AS v)) AS field_values,
       array_to_json(ARRAY(
           SELECT row_to_json(v) FROM (
               SELECT mv.meta_field_definition_id, md.name AS meta_field_name, mv.value, {_LINK} AS link
               FROM event_meta_values AS mv JOIN meta_field_definitions AS md ON md.id = mv.meta_field_definition_id
               WHERE mv.event_id = e.id ORDER BY md."order", md.name) AS v)) AS meta_values,
       {_iso("e.created_at")} AS created_at, {_iso("e.updated_at")} AS updated_at
FROM events AS e JOIN event_types AS et ON et.id = e.event_type_id
WHERE e.id = page.id"""


def _items(page: Subquery) -> Select[Any]:
    """`item`: the response JSON (text) of each event of `page` (a subquery named "page" with column `id`)."""
    item = text(_ITEM_SQL).columns(column("id")).lateral("item")
    return select(literal_column("row_to_json(item)::text").label("item")).select_from(page).join(item, true())


def hydrate(db: Session, events: list[Event]) -> list[dict[str, Any]]:
    """Events as response dicts, in the given order (one query; the same JSON List Events serves)."""
    if not events:
        return []
    db.flush()
    page = select(Event.id).where(Event.id.in_([e.id for e in events])).subquery("page")
    rows = db.execute(_items(page).add_columns(page.c.id)).all()
    by_id = {r.id: json.loads(r.item) for r in rows}
    return [by_id[e.id] for e in events]


def hydrate_one(db: Session, event: Event) -> dict[str, Any]:
    return hydrate(db, [event])[0]
