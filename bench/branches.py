"""Branch copy, snapshot, diff and merge on a large plan, against a per-row ORM baseline measured in the same run.

Seeds a plan (event types with fields, events with tags and field values) on an embedded PostgreSQL, then times:
- Create Branch's INSERT … SELECT copy versus copying the same rows one ORM object at a time (the baseline);
- snapshot of a branch, diff (base → branch), three-way conflicts, and a merge of many edits.

    .venv/bin/python bench/branches.py [--types 50] [--events 4000]
"""

from __future__ import annotations

import argparse
import time
import uuid

from _common import bench_database


def _timed(label: str, fn, rows: int | None = None):
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    rate = f"  ({rows / dt:,.0f} rows/s)" if rows else ""
    print(f"{label:<48} {dt * 1000:9.1f} ms{rate}")
    return out, dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--types", type=int, default=50)
    ap.add_argument("--events", type=int, default=4000)
    args = ap.parse_args()
    with bench_database("tripl-bench-branches-"):
        run(args.types, args.events)


def run(n_types: int, n_events: int) -> None:
    from sqlalchemy import func, insert, select, update

    from tripl_core import audit, projects
    from tripl_core.db.models.auth import User, UserRole
    from tripl_core.db.models.plan import (
        BranchKind,
        BranchStatus,
        Event,
        EventFieldValue,
        EventTag,
        EventType,
        FieldDefinition,
        PlanBranch,
    )
    from tripl_core.db.session import new_session
    from tripl_core.plan import branch_ops, snapshot
    from tripl_core.plan.diff import diff_payloads
    from tripl_core.plan.merge import three_way
    from tripl_core.plan.snapshot import plan_specs

    db = new_session()
    user = User(email="bench@example.com", password_hash="x", role=UserRole.owner)
    db.add(user)
    db.flush()
    actor = audit.Actor(user)
    project = projects.create(db, actor, "Bench", "bench")
    main = db.scalar(select(PlanBranch).where(PlanBranch.project_id == project.id))
    types = [{"id": uuid.uuid4(), "project_id": project.id, "branch_id": main.id, "name": f"type_{i}",
              "display_name": f"Type {i}", "order": i} for i in range(n_types)]
    fields = [{"id": uuid.uuid4(), "event_type_id": t["id"], "branch_id": main.id, "name": f"f{j}",
               "display_name": f"F{j}", "field_type": "string", "order": j} for t in types for j in range(8)]
    events = [{"id": uuid.uuid4(), "project_id": project.id, "branch_id": main.id,
               "event_type_id": types[i % n_types]["id"], "name": f"event_{i}", "order": i} for i in range(n_events)]
    by_type: dict[uuid.UUID, list[dict]] = {}
    for f in fields:
        by_type.setdefault(f["event_type_id"], []).append(f)
    tags = [{"id": uuid.uuid4(), "event_id": e["id"], "branch_id": main.id, "name": t} for e in events
            for t in ("core", "web")]
    values = [{"id": uuid.uuid4(), "event_id": e["id"], "branch_id": main.id, "field_definition_id": f["id"],
               "value": "x"} for e in events for f in by_type[e["event_type_id"]][:3]]
    for model, rows in ((EventType, types), (FieldDefinition, fields), (Event, events), (EventTag, tags),
                        (EventFieldValue, values)):
        db.execute(insert(model), rows)
    db.commit()
    total = len(types) + len(fields) + len(events) + len(tags) + len(values)
    print(f"plan: {len(types)} event types, {len(fields)} fields, {len(events)} events, {len(tags)} tags, "
          f"{len(values)} field values = {total} rows\n")

    def orm_copy() -> None:
        """Baseline: read every row as an object, add a copy with remapped foreign keys, flush."""
        scratch = PlanBranch(project_id=project.id, name="orm-copy", kind=BranchKind.branch,
                             status=BranchStatus.draft)
        db.add(scratch)
        db.flush()
        ids: dict[uuid.UUID, uuid.UUID] = {}
        for spec in plan_specs():
            model = next(m for m in (EventType, FieldDefinition, Event, EventTag, EventFieldValue)
                         if m.__table__ is spec.table) if spec.table.name in {
                "event_types", "field_definitions", "events", "event_tags", "event_field_values"} else None
            if model is None:
                continue
            for row in db.scalars(select(model).where(model.branch_id == main.id)):
                values = {c.key: getattr(row, c.key) for c in spec.table.columns}
                new_id = uuid.uuid4()
                ids[row.id] = new_id
                values.update(id=new_id, branch_id=scratch.id, origin_id=row.id,
                              **{c: ids[values[c]] for c in spec.refs if values[c] is not None})
                db.add(model(**values))
            db.flush()
        db.rollback()

    _, base_dt = _timed("baseline: ORM copy, one object per row", orm_copy, total)
    branch, copy_dt = _timed("Create Branch (base revision + INSERT … SELECT)",
                             lambda: branch_ops.create(db, actor, project, "bench"), total)
    print(f"{'':<48} {base_dt / copy_dt:9.1f} x faster than the baseline")
    ours, _ = _timed("snapshot of the branch", lambda: snapshot.snapshot(db, branch.id), total)
    from tripl_core.db.models.versioning import PlanRevision

    base = db.get(PlanRevision, branch.base_revision_id).payload
    _timed("diff base → branch (no changes)", lambda: diff_payloads(base, ours))
    n_edit = n_events // 4
    edited = list(db.scalars(select(Event.id).where(Event.branch_id == branch.id).limit(n_edit)))
    db.execute(update(Event).where(Event.id.in_(edited)).values(description="edited on branch"))
    main_edit = list(db.scalars(select(Event.id).where(Event.branch_id == main.id).limit(n_edit // 5)))
    db.execute(update(Event).where(Event.id.in_(main_edit)).values(description="edited on main"))
    db.commit()
    ours = snapshot.snapshot(db, branch.id)
    theirs = snapshot.snapshot(db, main.id)
    d, _ = _timed(f"diff base → branch ({n_edit} edited events)", lambda: diff_payloads(base, ours))
    plan, _ = _timed("three-way conflicts", lambda: three_way(base, ours, theirs))
    print(f"{'':<48} {len(d['entries'])} entries, {len(plan.conflicts)} conflicts")
    from tripl_core.db.models.versioning import BranchApproval
    from tripl_core.plan.diff import fingerprint

    branch.status = BranchStatus.approved
    db.add(BranchApproval(branch_id=branch.id, user_id=user.id, content_hash=fingerprint(ours)))
    db.commit()
    resolve = {c.key: "ours" for c in plan.conflicts}
    from tripl_core.db.models.versioning import BranchResolution

    db.add_all([BranchResolution(branch_id=branch.id, entity_type=k[0], entity_name=k[1], field_name=k[2],
                                 choice=v) for k, v in resolve.items()])
    db.commit()
    _timed("Merge Branch (incl. snapshots and 2 revisions)", lambda: branch_ops.merge(db, actor, project, branch))
    done = db.scalar(select(func.count()).select_from(Event).where(Event.branch_id == main.id,
                                                                   Event.description == "edited on branch"))
    print(f"{'':<48} {done} main events now carry the branch's edit")
    db.close()


if __name__ == "__main__":
    main()
