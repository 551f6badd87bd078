"""Database side of branching: copy main into a new branch, and apply a merge plan to main's rows.

Both work on every plan table of the metadata (tripl_core.plan.snapshot.plan_specs), so new plan tables and
columns need no code here.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import Text, bindparam, cast, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from tripl_core.db.base import stored_columns
from tripl_core.plan.merge import MergePlan, Op
from tripl_core.plan.snapshot import EntitySpec, plan_specs

NOT_COPIED_ON_INSERT = frozenset({"id", "branch_id", "origin_id", "created_at", "updated_at"})


def _copy_id(salt: str, column: Any) -> ColumnElement[Any]:
    """The copy's id for a source id: md5(new branch id || source id) as a uuid.

    Deterministic, so a foreign key is remapped with the same expression as the row it points to: no joins, no
    ordering problems with self references, one INSERT … SELECT per table.
    """
    return cast(func.md5(literal(salt) + cast(column, Text)), UUID(as_uuid=True))


def copy_branch(db: Session, source_branch_id: uuid.UUID, new_branch_id: uuid.UUID) -> dict[str, int]:
    """Copy every plan row of the source branch into the new one (origin_id = source row id). Rows per table."""
    salt = str(new_branch_id)
    counts: dict[str, int] = {}
    for spec in plan_specs():
        t = spec.table
        exprs = []
        columns = stored_columns(t)
        for col in columns:
            if col.name == "id" or col.name in spec.refs:
                exprs.append(_copy_id(salt, col))
            elif col.name == "branch_id":
                exprs.append(literal(new_branch_id, UUID(as_uuid=True)))
            elif col.name == "origin_id":
                exprs.append(t.c.id)
            else:
                exprs.append(col)
        stmt = insert(t).from_select([c.name for c in columns],
                                     select(*exprs).where(t.c.branch_id == source_branch_id))
        counts[spec.entity_type] = db.execute(stmt).rowcount
    return counts


def _branch_rows(db: Session, spec: EntitySpec, ids: set[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rows = db.execute(select(*stored_columns(spec.table)).where(spec.table.c.id.in_([uuid.UUID(i) for i in ids]))).mappings()
    return {str(r["id"]): dict(r) for r in rows}


def apply_merge(db: Session, plan: MergePlan, main_branch_id: uuid.UUID) -> dict[str, int]:
    """Execute a merge plan on main's rows (inside the caller's transaction). Counts per operation kind.

    Order: deletes children first; then, table by table in FK order, updates before inserts (a rename on main
    frees a name that a new row may take). Updates and inserts are batched (executemany) per table.
    """
    specs = plan_specs()
    ops: dict[str, list[Op]] = defaultdict(list)
    for op in plan.ops:
        ops[op.entity_type].append(op)
    counts = {"insert": 0, "update": 0, "delete": 0}

    def remap(spec: EntitySpec, col: str, value: Any) -> Any:
        if col in spec.refs and value is not None:
            return uuid.UUID(plan.id_map.get(str(value), str(value)))
        return value

    for spec in reversed(specs):
        gone = [uuid.UUID(o.main_id) for o in ops[spec.entity_type] if o.kind == "delete"]
        if gone:
            db.execute(delete(spec.table).where(spec.table.c.id.in_(gone),
                                                spec.table.c.branch_id == main_branch_id))
            counts["delete"] += len(gone)
    for spec in specs:
        mine = ops[spec.entity_type]
        rows = _branch_rows(db, spec, {o.row_id for o in mine if o.row_id})
        t = spec.table
        by_fields: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for op in (o for o in mine if o.kind == "update"):
            row = rows[op.row_id or ""]
            by_fields[op.fields].append({"_key": uuid.UUID(op.main_id),
                                         **{f"_v_{f}": remap(spec, f, row[f]) for f in op.fields}})
        for fields, params in by_fields.items():  # one executemany per set of changed fields
            stmt = update(t).where(t.c.id == bindparam("_key"), t.c.branch_id == main_branch_id)
            db.execute(stmt.values({f: bindparam(f"_v_{f}") for f in fields}), params)
            counts["update"] += len(params)
        new_rows = []
        for op in (o for o in mine if o.kind == "insert"):
            row = rows[op.row_id or ""]
            values = {c: remap(spec, c, v) for c, v in row.items() if c not in NOT_COPIED_ON_INSERT}
            values.update(id=uuid.UUID(op.main_id), branch_id=main_branch_id, origin_id=None)
            new_rows.append(values)
        if new_rows:
            db.execute(insert(t), new_rows)
            counts["insert"] += len(new_rows)
    return counts
