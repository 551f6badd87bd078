"""Branch scoping of plan operations: writes on a branch leave main alone; merged/closed branches are read-only."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from tests.plan.conftest import BASE, add_event, add_type


def _branch(db, project: dict, name: str, status: str = "draft") -> str:
    from tripl_core.db.models.plan import BranchKind, BranchStatus, PlanBranch

    b = PlanBranch(project_id=uuid.UUID(project["id"]), name=name, kind=BranchKind.branch,
                   status=BranchStatus(status))
    db.add(b)
    db.commit()
    return str(b.id)


def test_every_project_has_a_main_branch(owner, project, db):
    from tripl_core.db.models.plan import PlanBranch

    rows = db.execute(select(PlanBranch.name, PlanBranch.kind, PlanBranch.status)
                      .where(PlanBranch.project_id == uuid.UUID(project["id"]))).all()
    assert [(n, k.value, s.value) for n, k, s in rows] == [("main", "main", "draft")]


def test_branch_isolation_of_plan_writes(owner, project, db):
    main_type = add_type(owner, "screen_view")
    add_event(owner, main_type, "home")
    branch = _branch(db, project, "feature-checkout")
    q = {"branch_id": branch}
    # The branch starts empty here (copying main is the branches feature); same names are fine per branch.
    r = owner.post(f"{BASE}/event-types", params=q, json={"name": "screen_view", "display_name": "SV"})
    assert r.status_code == 201, r.text
    bt = r.json()
    assert bt["branch_id"] == branch
    r = owner.post(f"{BASE}/events", params=q, json={"event_type_id": bt["id"], "name": "checkout"})
    assert r.status_code == 201 and r.json()["branch_id"] == branch
    assert owner.post(f"{BASE}/meta-fields", params=q, json={"name": "team", "display_name": "T",
                                                             "field_type": "string"}).status_code == 201
    # Main is unchanged.
    assert [e["name"] for e in owner.get(f"{BASE}/events").json()["items"]] == ["home"]
    assert owner.get(f"{BASE}/meta-fields").json() == []
    assert owner.get(f"{BASE}/event-types").json()[0]["id"] == main_type["id"]
    assert [e["name"] for e in owner.get(f"{BASE}/events", params=q).json()["items"]] == ["checkout"]
    # A main event type cannot be used on the branch, nor a branch row read through main.
    r = owner.post(f"{BASE}/events", params=q, json={"event_type_id": main_type["id"], "name": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "event_type_id"]
    assert owner.get(f"{BASE}/event-types/{bt['id']}").status_code == 404
    assert owner.get(f"{BASE}/event-types/{bt['id']}", params=q).status_code == 200
    assert owner.get(BASE).json()["summary"]["events"] == 1  # the summary counts main only


def test_branch_resolution_errors(owner, project, db):
    add_type(owner, "screen_view")
    merged = _branch(db, project, "done", status="merged")
    closed = _branch(db, project, "dropped", status="closed")
    for b in (merged, closed):
        r = owner.post(f"{BASE}/event-types", params={"branch_id": b}, json={"name": "x", "display_name": "X"})
        assert r.status_code == 409, r.text
        assert owner.get(f"{BASE}/event-types", params={"branch_id": b}).status_code == 200  # reads are fine
    assert owner.get(f"{BASE}/events", params={"branch_id": str(uuid.uuid4())}).status_code == 404
    other = owner.post("/api/v1/projects", json={"name": "Other", "slug": "other"}).json()
    foreign = _branch(db, other, "theirs")
    assert owner.get(f"{BASE}/events", params={"branch_id": foreign}).status_code == 404
    assert owner.get(f"{BASE}/events", params={"branch_id": "nope"}).status_code == 422


def test_project_delete_cascades_the_plan(owner, project, db):
    from tripl_core.db.models.plan import Event, EventType, PlanBranch

    et = add_type(owner, "screen_view", [{"name": "s", "display_name": "S", "field_type": "string"}])
    add_event(owner, et, "home", field_values=[{"field_name": "s", "value": "x"}], tags=["t"])
    assert owner.delete(BASE).status_code == 204
    for model in (PlanBranch, EventType, Event):
        assert db.scalar(select(func.count()).select_from(model)) == 0


def test_branch_writes_are_audited_with_the_branch_name(owner, viewer, project, db):
    branch = _branch(db, project, "feature-x")
    owner.post(f"{BASE}/event-types", params={"branch_id": branch}, json={"name": "a", "display_name": "A"})
    items = owner.get("/api/v1/audit", params={"project_slug": "shop-app", "action": "event_type"}).json()["items"]
    assert items[0]["message"].endswith("on branch 'feature-x'")
    assert viewer.get(f"{BASE}/events", params={"branch_id": branch}).status_code == 200
    assert viewer.get(f"{BASE}/events/tags").status_code == 200
