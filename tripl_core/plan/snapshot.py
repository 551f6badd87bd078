"""The revision payload: a whole plan as JSON, with stable ids and a stable order.

Format (`FORMAT` = 1)::

    {"format": 1, "entity_types": ["event_type", "field", ...],
     "entities": {"event_type": [{"id": ..., "_name": "checkout", "name": "checkout", "color": ...}, ...],
                  "field": [...], "event": [...], "tag": [...], "field_value": [...], ...}}

- One list per plan table, in FK order (parents first); the tables are discovered from the metadata (every table
  with `branch_id` and `origin_id`), so a new plan table or column is picked up without code changes here.
- `id` is main's id: a branch row reports its `origin_id` (rows created on the branch keep their own id, with
  `_row_id` equal to it), and foreign keys to other plan rows are mapped the same way. So a branch snapshot, a
  snapshot of main and an old revision are directly comparable entity by entity.
- Keys starting with `_` are metadata, never compared: `_name` (a readable qualified name such as
  `screen / page_view`), `_row_id` (the branch row, only when it differs from `id`).
- Bookkeeping columns (ids, branch, project, timestamps, scan-written `last_seen_at`, or any column with
  `info={"plan_diff": False}`) are left out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, Table, func, select, text
from sqlalchemy.orm import Session

from tripl_core.db.base import stored_columns
from tripl_core.jsonable import to_jsonable

FORMAT = 1
META_PREFIX = "_"
IGNORED_COLUMNS = frozenset({"id", "branch_id", "origin_id", "project_id", "created_at", "updated_at",
                             "last_seen_at"})
LABEL_COLUMNS = ("name", "key", "title", "slug")
# Readable entity types for the known tables; any other plan table gets its singular table name.
ENTITY_TYPES = {
    "event_types": "event_type",
    "field_definitions": "field",
    "event_type_owners": "owner",
    "meta_field_definitions": "meta_field",
    "events": "event",
    "event_tags": "tag",
    "event_field_values": "field_value",
    "event_meta_values": "meta_value",
}

Payload = dict[str, Any]
Row = dict[str, Any]


def entity_type_for(table_name: str) -> str:
    if table_name in ENTITY_TYPES:
        return ENTITY_TYPES[table_name]
    if table_name.endswith("ies"):
        return table_name[:-3] + "y"
    return table_name[:-1] if table_name.endswith("s") else table_name


@dataclass(frozen=True)
class EntitySpec:
    """How one plan table appears in payloads."""

    entity_type: str
    table: Table
    refs: dict[str, str]  # FK column -> referenced plan table
    user_refs: tuple[str, ...]  # FK columns to users (labelled by email)
    parent: str | None  # the FK column whose entity qualifies this one's name
    label: str | None  # the column that names this entity
    has_order: bool
    fields: tuple[str, ...]  # compared columns, in table order


def is_plan_table(table: Table) -> bool:
    return "branch_id" in table.c and "origin_id" in table.c


def plan_specs(metadata: MetaData | None = None) -> list[EntitySpec]:
    """Every plan table of the metadata, parents before children."""
    if metadata is None:
        from tripl_core.db.models import metadata as app_metadata

        metadata = app_metadata
    tables = [t for t in metadata.sorted_tables if is_plan_table(t)]
    names = {t.name for t in tables}
    specs = []
    for table in tables:
        refs: dict[str, str] = {}
        user_refs: list[str] = []
        for col in table.columns:
            for fk in col.foreign_keys:
                target = fk.column.table.name
                if target in names:
                    refs[col.name] = target
                elif target == "users":
                    user_refs.append(col.name)
        fields = tuple(c.name for c in stored_columns(table)
                       if c.name not in IGNORED_COLUMNS and c.info.get("plan_diff", True))
        specs.append(EntitySpec(
            entity_type=entity_type_for(table.name), table=table, refs=refs, user_refs=tuple(user_refs),
            parent=next(iter(refs), None), label=next((c for c in LABEL_COLUMNS if c in table.c), None),
            has_order="order" in table.c, fields=fields,
        ))
    return specs


def build_payload(specs: list[EntitySpec], rows: Mapping[str, Iterable[Mapping[str, Any]]],
                  user_labels: Mapping[Any, str] | None = None) -> Payload:
    """A payload from raw rows per table name (column -> DB value) of one branch."""
    user_labels = {str(k): v for k, v in (user_labels or {}).items()}
    raw = {s.table.name: [dict(r) for r in rows.get(s.table.name, [])] for s in specs}
    stable: dict[str, str] = {}  # row id -> stable (main) id
    for table_rows in raw.values():
        for r in table_rows:
            r["id"] = rid = str(r["id"])
            origin = r.get("origin_id")
            stable[rid] = str(origin) if origin else rid
    names: dict[str, str] = {}  # stable id -> qualified name
    labels: dict[str, str] = {}  # stable id -> own label
    entities: dict[str, list[Row]] = {}
    for spec in specs:
        out: list[tuple[tuple[Any, ...], Row]] = []
        sep = " / " if spec.label or not spec.refs else " → "
        for r in raw[spec.table.name]:
            rid = r["id"]
            sid = stable[rid]
            values: Row = {"id": sid}
            for col in spec.fields:
                value = r.get(col)
                if value is not None and col in spec.refs:
                    key = str(value)
                    values[col] = stable.get(key, key)
                else:
                    values[col] = to_jsonable(value)
            own = _own_label(spec, values, labels, user_labels)
            parent_id = values.get(spec.parent) if spec.parent else None
            parent_name = names.get(parent_id, "") if parent_id else ""
            name = f"{parent_name}{sep}{own}" if parent_name else own
            labels[sid], names[sid] = own, name
            row = {"id": sid, "_name": name}
            row.update(values)
            if rid != sid:
                row["_row_id"] = rid
            order = values.get("order") if spec.has_order else 0
            out.append(((parent_name, order if isinstance(order, int) else 0, own, sid), row))
        out.sort(key=lambda item: item[0])
        entities[spec.entity_type] = [row for _, row in out]
    # JSONB does not keep key order, so the FK order of entity types travels as a list.
    return {"format": FORMAT, "entity_types": list(entities), "entities": entities}


def _own_label(spec: EntitySpec, row: Row, labels: Mapping[str, str], users: Mapping[str, str]) -> str:
    if spec.label and row.get(spec.label) not in (None, ""):
        return str(row[spec.label])
    parts = [labels.get(row[c], str(row[c])) for c in list(spec.refs)[1:] if row.get(c)]
    if not parts:  # e.g. an owner: the user (the first user column; later ones are who granted it)
        parts = [users.get(row[c], str(row[c])) for c in spec.user_refs[:1] if row.get(c)]
    return ", ".join(parts) or row["id"][:8]


def entity_counts(payload: Payload) -> dict[str, int]:
    return {etype: len(rows) for etype, rows in payload.get("entities", {}).items()}


def snapshot(db: Session, branch_id: uuid.UUID) -> Payload:
    """The payload of one branch as it is now (main: a revision-to-be; a working branch: `ours`)."""
    specs = plan_specs()
    # PostgreSQL renders each table's rows as one JSON array (ids, enums, timestamps as strings): one decode per
    # table instead of a Python conversion per cell, and exactly the JSON a revision stores.
    rows = {s.table.name: db.scalar(select(func.coalesce(func.json_agg(func.to_json(s.table.table_valued())),
                                                         text("'[]'::json")))
                                    .where(s.table.c.branch_id == branch_id)) or []
            for s in specs}
    user_ids = {r[c] for s in specs for r in rows[s.table.name] for c in s.user_refs if r[c] is not None}
    user_labels: dict[Any, str] = {}
    if user_ids:
        from tripl_core.db.models.auth import User

        user_labels = dict(db.execute(select(User.id, User.email)
                                      .where(User.id.in_([uuid.UUID(str(u)) for u in user_ids]))).tuples().all())
    return build_payload(specs, rows, user_labels)


def comparable(row: Mapping[str, Any]) -> dict[str, Any]:
    """The compared part of a payload row: everything but `id` and metadata."""
    return {k: v for k, v in row.items() if k != "id" and not k.startswith(META_PREFIX)}


def index(payload: Payload) -> dict[str, dict[str, Row]]:
    """entity type (parents first) -> id -> row (in the payload's order)."""
    entities = payload.get("entities", {})
    order = [t for t in payload.get("entity_types", []) if t in entities]
    order += [t for t in entities if t not in order]
    return {etype: {r["id"]: r for r in entities[etype]} for etype in order}
