"""Three-way merge of plan payloads: base (the branch's base revision), ours (the branch), theirs (main now).

Per entity and field:
- changed on one side only, or the same way on both: no conflict (the branch's change is applied, main's kept);
- changed on both sides to different values: a conflict on that field;
- deleted on one side and edited on the other: a conflict on the whole entity (field `*`);
- added on both sides under the same name: the two are one entity; differing fields are conflicts (base: null).
A resolution (`ours` / `theirs`) per (entity type, entity name, field) settles a conflict. The result is a list
of operations on main's rows that the database layer (tripl_core.plan.store) executes.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tripl_core.plan.snapshot import Payload, Row, comparable, index

ENTITY_FIELD = "*"  # a conflict about the entity itself (deleted on one side, edited on the other)
OURS = "ours"
THEIRS = "theirs"

ResolutionKey = tuple[str, str, str]  # entity type, entity name, field


@dataclass(frozen=True)
class FieldConflict:
    entity_type: str
    entity_id: str
    entity_name: str
    field: str
    base: Any
    ours: Any
    theirs: Any

    @property
    def key(self) -> ResolutionKey:
        return (self.entity_type, self.entity_name, self.field)


@dataclass(frozen=True)
class Op:
    """`insert` a branch row into main as `main_id`, `update` main's `main_id` with the branch row's `fields`, or
    `delete` main's `main_id`."""

    kind: str
    entity_type: str
    main_id: str
    row_id: str | None = None
    fields: tuple[str, ...] = ()


@dataclass
class MergePlan:
    ops: list[Op] = field(default_factory=list)
    id_map: dict[str, str] = field(default_factory=dict)  # branch row id -> main id
    conflicts: list[FieldConflict] = field(default_factory=list)
    unresolved: list[FieldConflict] = field(default_factory=list)


def _pair_added(base: dict[str, dict[str, Row]], ours: Payload,
                theirs: dict[str, dict[str, Row]]) -> tuple[Payload, set[str]]:
    """Rows added on both sides under the same name become one entity (ours takes theirs' id)."""
    mapping: dict[str, str] = {}
    for etype, rows in ours.get("entities", {}).items():
        added_theirs = {r["_name"]: eid for eid, r in theirs.get(etype, {}).items()
                        if eid not in base.get(etype, {}) and "_name" in r}
        for r in rows:
            if r["id"] not in base.get(etype, {}) and r["id"] not in theirs.get(etype, {}):
                match = added_theirs.get(r.get("_name"))
                if match is not None:
                    mapping[r["id"]] = match
    if not mapping:
        return ours, set()
    out = copy.deepcopy(ours)
    for rows in out.get("entities", {}).values():
        for r in rows:
            for k, v in list(r.items()):
                if k != "_row_id" and isinstance(v, str) and v in mapping:
                    if k == "id":
                        r["_row_id"] = r.get("_row_id", v)
                    r[k] = mapping[v]
    return out, set(mapping.values())


def three_way(base: Payload, ours: Payload, theirs: Payload,
              resolutions: Mapping[ResolutionKey, str] | None = None,
              refs: Mapping[str, Iterable[str]] | None = None) -> MergePlan:
    """Conflicts, and the operations that bring the branch's changes to main under `resolutions`.

    `refs` (entity type -> its foreign-key fields to other plan entities) lets a row added on the branch count as
    an edit of its parent: a parent deleted on main then conflicts (`*`) instead of failing the merge, and with
    `theirs` the new rows under it are dropped.
    """
    resolutions = resolutions or {}
    refs = refs or {}
    b_ix, t_ix = index(base), index(theirs)
    ours, paired = _pair_added(b_ix, ours, t_ix)
    o_ix = index(ours)
    plan = MergePlan()
    # parents (main ids) of rows added on the branch; and main ids that will not exist after the merge
    added_under = {o[c] for etype, rows in o_ix.items() for eid, o in rows.items()
                   if eid not in b_ix.get(etype, {}) and eid not in t_ix.get(etype, {})
                   for c in refs.get(etype, ()) if o.get(c)}
    gone: set[str] = set()

    def conflict(c: FieldConflict) -> str | None:
        plan.conflicts.append(c)
        choice = resolutions.get(c.key)
        if choice not in (OURS, THEIRS):
            plan.unresolved.append(c)
        return choice

    for etype in list(o_ix) + [t for t in b_ix if t not in o_ix]:
        b_rows, o_rows, t_rows = b_ix.get(etype, {}), o_ix.get(etype, {}), t_ix.get(etype, {})
        for eid, o in o_rows.items():
            row_id = o.get("_row_id", eid)
            b, t = b_rows.get(eid), t_rows.get(eid)
            if b is None and t is None:  # new on the branch
                if any(o.get(c) in gone for c in refs.get(etype, ())):  # its parent stays deleted (theirs)
                    gone.add(eid)
                    continue
                new_id = str(uuid.uuid4())
                plan.id_map[row_id] = new_id
                plan.ops.append(Op("insert", etype, new_id, row_id))
                continue
            plan.id_map[row_id] = eid
            name = (b or o).get("_name", eid)
            oc = comparable(o)
            if t is None:  # deleted on main
                assert b is not None
                edited = oc != comparable(b) or eid in added_under
                if edited and conflict(FieldConflict(etype, eid, name, ENTITY_FIELD, comparable(b), oc,
                                                     None)) == OURS:
                    plan.ops.append(Op("insert", etype, eid, row_id))
                else:
                    gone.add(eid)
                continue
            # No base: added on both sides (paired: every field starts as null), or a row main had before the
            # base (compare with main's value, so only differences to main count).
            bc = comparable(b) if b is not None else {k: None for k in oc} if eid in paired else comparable(t)
            tc = comparable(t)
            fields = []
            for f in oc:
                if oc[f] == bc.get(f) or oc[f] == tc.get(f):
                    continue
                if tc.get(f) == bc.get(f) or conflict(FieldConflict(etype, eid, name, f, bc.get(f), oc[f],
                                                                    tc.get(f))) == OURS:
                    fields.append(f)
            if fields:
                plan.ops.append(Op("update", etype, eid, row_id, tuple(fields)))
        for eid, b in b_rows.items():
            if eid in o_rows or eid not in t_rows:  # kept on the branch, or deleted on both sides
                continue
            t = t_rows[eid]
            if comparable(t) == comparable(b) or conflict(FieldConflict(
                    etype, eid, b.get("_name", eid), ENTITY_FIELD, comparable(b), None, comparable(t))) == OURS:
                plan.ops.append(Op("delete", etype, eid))
    return plan
