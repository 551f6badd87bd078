"""Branches against the real database: copy, isolation, diff, conflicts, resolutions, merge, atomicity."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from tests.conftest import user_client
from tests.versioning.conftest import branch_row, get_branch
from tripl_core.db.models.plan import Event, EventFieldValue, EventTag, EventType, FieldDefinition
from tripl_core.db.models.versioning import PlanRevision
from tripl_core.plan import revisions, snapshot
from tripl_core.plan.diff import diff_payloads

P = "/api/v1/projects/shop-app"


def make_branch(client, name="rename-events") -> dict:
    r = client.post(f"{P}/branches", json={"name": name, "description": "Rename things"})
    assert r.status_code == 201, r.text
    return r.json()


def approve(owner, reviewer, branch_id: str) -> None:
    assert owner.post(f"{P}/branches/{branch_id}/reviewers", json={"user_id": reviewer.user["id"]}).status_code == 201
    assert owner.post(f"{P}/branches/{branch_id}/transition", json={"action": "submit"}).status_code == 200
    r = reviewer.post(f"{P}/branches/{branch_id}/transition", json={"action": "approve"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"


@pytest.fixture
def reviewer(app, owner):
    return user_client(app, owner, "editor")


def test_create_branch_copies_main_and_commits_a_base_revision(owner, db, plan):
    b = make_branch(owner)
    assert (b["kind"], b["status"], b["created_by"]) == ("branch", "draft", owner.user["id"])
    base = db.get(PlanRevision, uuid.UUID(b["base_revision_id"]))
    assert base.entity_counts == {**base.entity_counts, "event_type": 1, "field": 1, "event": 2, "tag": 1,
                                  "field_value": 1}
    bid = uuid.UUID(b["id"])
    copy = branch_row(db, Event, bid, plan.event)
    assert copy.id != plan.event and copy.name == "page_view"
    # foreign keys point at the branch's own copies
    assert copy.event_type_id == branch_row(db, EventType, bid, plan.event_type).id
    value = db.scalar(select(EventFieldValue).where(EventFieldValue.branch_id == bid))
    assert value.event_id == copy.id and value.field_definition_id == branch_row(db, FieldDefinition, bid,
                                                                                 plan.field).id
    # a second branch with main unchanged reuses the same base revision
    b2 = make_branch(owner, "second")
    assert b2["base_revision_id"] == b["base_revision_id"]
    assert make_branch.__name__ and owner.post(f"{P}/branches", json={"name": "Second"}).status_code == 409


def test_branch_edits_are_invisible_on_main_and_show_in_the_diff(owner, db, plan):
    b = make_branch(owner)
    bid = uuid.UUID(b["id"])
    branch_row(db, Event, bid, plan.event).name = "screen_view"
    db.delete(branch_row(db, EventTag, bid, db.scalar(select(EventTag.id).where(EventTag.branch_id == plan.main_id))))
    db.add(Event(project_id=plan.project_id, branch_id=bid, event_type_id=branch_row(db, EventType, bid,
                                                                                     plan.event_type).id,
                 name="checkout"))
    db.commit()
    db.expire_all()
    assert db.get(Event, plan.event).name == "page_view"
    assert db.scalar(select(func.count()).select_from(EventTag).where(EventTag.branch_id == plan.main_id)) == 1
    d = owner.get(f"{P}/branches/{b['id']}/diff").json()
    got = {(e["change"], e["entity_type"], e["entity_name"], e["field"], str(e["old_value"])[:16])
           for e in d["entries"]}
    assert got == {("changed", "event", "screen / page_view", "name", "page_view"),
                   ("removed", "tag", "screen / page_view / core", None, "{'name': 'core',"),
                   ("added", "event", "screen / checkout", None, "None")}
    changed = next(e for e in d["entries"] if e["change"] == "changed")
    assert (changed["entity_id"], changed["new_value"]) == (str(plan.event), "screen_view")
    assert d["summary"]["added"] == d["summary"]["removed"] == d["summary"]["changed"] == 1
    assert d["behind_base"] is False
    db.get(Event, plan.other_event).description = "moved on main"
    db.commit()
    assert owner.get(f"{P}/branches/{b['id']}/diff").json()["behind_base"] is True


def test_conflicts_three_way_and_resolutions_applied_by_merge(owner, reviewer, db, plan):
    b = make_branch(owner)
    bid = uuid.UUID(b["id"])
    branch_row(db, Event, bid, plan.event).description = "ours"  # both sides: conflict
    branch_row(db, Event, bid, plan.event).name = "screen_view"  # branch only: no conflict
    branch_row(db, Event, bid, plan.other_event).description = "edited on branch"  # vs delete on main
    db.commit()
    main_ev = db.get(Event, plan.event)
    main_ev.description, main_ev.reviewed = "theirs", True  # reviewed: main only
    db.delete(db.get(Event, plan.other_event))
    db.commit()
    c = owner.get(f"{P}/branches/{b['id']}/conflicts").json()
    got = {(e["entity_name"], e["field_name"]): (e["base"], e["ours"], e["theirs"]) for e in c["entities"]}
    assert got[("screen / page_view", "description")] == ("A page is shown", "ours", "theirs")
    assert got[("screen / add_to_cart", "*")][1]["description"] == "edited on branch"
    assert got[("screen / add_to_cart", "*")][2] is None
    assert len(got) == 2 and c["unresolved_count"] == 2

    approve(owner, reviewer, b["id"])
    r = owner.post(f"{P}/branches/{b['id']}/merge")
    assert r.status_code == 409 and "2 unresolved" in r.json()["detail"]

    body = {"entity_type": "event", "entity_name": "screen / page_view", "field_name": "description"}
    r = owner.post(f"{P}/branches/{b['id']}/resolutions", json={**body, "choice": "ours"})
    assert r.status_code == 201, r.text
    res_id = r.json()["id"]
    r = owner.post(f"{P}/branches/{b['id']}/resolutions", json={**body, "choice": "theirs"})  # replaces
    assert r.json()["id"] == res_id and r.json()["choice"] == "theirs"
    r = owner.post(f"{P}/branches/{b['id']}/resolutions", json={**body, "field_name": "color", "choice": "ours"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "field_name"]
    r = owner.post(f"{P}/branches/{b['id']}/resolutions", json={**body, "choice": "mine"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "choice"]
    r = owner.post(f"{P}/branches/{b['id']}/resolutions", json={
        "entity_type": "event", "entity_name": "screen / add_to_cart", "field_name": "*", "choice": "ours"})
    assert r.status_code == 201
    # undo and redo one resolution
    assert owner.delete(f"{P}/branches/{b['id']}/resolutions/{res_id}").status_code == 204
    assert owner.get(f"{P}/branches/{b['id']}/conflicts").json()["unresolved_count"] == 1
    owner.post(f"{P}/branches/{b['id']}/resolutions", json={**body, "choice": "theirs"})
    assert owner.get(f"{P}/branches/{b['id']}/conflicts").json()["unresolved_count"] == 0

    r = owner.post(f"{P}/branches/{b['id']}/merge")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "merged" and out["merged_by"] == owner.user["id"] and out["merged_at"]
    db.expire_all()
    ev = db.get(Event, plan.event)
    assert (ev.name, ev.description, ev.reviewed) == ("screen_view", "theirs", True)
    back = db.get(Event, plan.other_event)  # re-created (ours) with main's id and the branch's edit
    assert back is not None and back.description == "edited on branch" and back.branch_id == plan.main_id
    # the merge committed a revision whose diff against the base shows exactly the branch's changes
    revs = owner.get(f"{P}/revisions").json()
    assert revs["items"][0]["summary"].startswith("Merge branch 'rename-events'")
    d = owner.get(f"{P}/revisions/{revs['items'][0]['id']}/diff",
                  params={"compare_to": b["base_revision_id"]}).json()
    assert {(e["entity_name"], e["field"], e["new_value"]) for e in d["entries"]} == {
        ("screen / page_view", "name", "screen_view"), ("screen / page_view", "description", "theirs"),
        ("screen / page_view", "reviewed", True), ("screen / add_to_cart", "description", "edited on branch")}
    # a merged branch is frozen
    assert owner.post(f"{P}/branches/{b['id']}/transition", json={"action": "reopen"}).status_code == 409
    assert owner.post(f"{P}/branches/{b['id']}/resolutions", json={**body, "choice": "ours"}).status_code == 409


def test_new_rows_with_children_are_inserted_on_merge(owner, reviewer, db, plan):
    b = make_branch(owner)
    bid = uuid.UUID(b["id"])
    et = branch_row(db, EventType, bid, plan.event_type)
    new = Event(project_id=plan.project_id, branch_id=bid, event_type_id=et.id, name="checkout")
    db.add(new)
    db.flush()
    db.add(EventTag(event_id=new.id, branch_id=bid, name="revenue"))
    db.add(EventFieldValue(event_id=new.id, branch_id=bid, value="cart",
                           field_definition_id=branch_row(db, FieldDefinition, bid, plan.field).id))
    db.commit()
    approve(owner, reviewer, b["id"])
    assert owner.post(f"{P}/branches/{b['id']}/merge").status_code == 200
    db.expire_all()
    ev = db.scalar(select(Event).where(Event.branch_id == plan.main_id, Event.name == "checkout"))
    assert ev.event_type_id == plan.event_type and ev.origin_id is None
    tag = db.scalar(select(EventTag).where(EventTag.event_id == ev.id))
    assert tag.name == "revenue" and tag.branch_id == plan.main_id
    val = db.scalar(select(EventFieldValue).where(EventFieldValue.event_id == ev.id))
    assert val.field_definition_id == plan.field


def test_merge_is_atomic(owner, reviewer, db, plan, monkeypatch):
    b = make_branch(owner)
    bid = uuid.UUID(b["id"])
    branch_row(db, Event, bid, plan.event).name = "screen_view"
    db.add(Event(project_id=plan.project_id, branch_id=bid, name="checkout",
                 event_type_id=branch_row(db, EventType, bid, plan.event_type).id))
    db.commit()
    approve(owner, reviewer, b["id"])
    before = snapshot.snapshot(db, plan.main_id)
    revs_before = db.scalar(select(func.count()).select_from(PlanRevision))

    def boom(*args, **kwargs):  # after main's rows were written, before the revision and the commit
        raise RuntimeError("injected failure")

    monkeypatch.setattr(revisions, "add", boom)
    with pytest.raises(RuntimeError):
        owner.post(f"{P}/branches/{b['id']}/merge")
    db.expire_all()
    assert diff_payloads(before, snapshot.snapshot(db, plan.main_id))["entries"] == []
    assert db.scalar(select(func.count()).select_from(PlanRevision)) == revs_before
    assert get_branch(db, b["id"]).status.value == "approved"
    monkeypatch.undo()
    assert owner.post(f"{P}/branches/{b['id']}/merge").status_code == 200
    db.expire_all()
    assert db.get(Event, plan.event).name == "screen_view"


def test_delete_branch_discards_its_rows_and_main_cannot_be_deleted(owner, db, plan):
    b = make_branch(owner)
    bid = uuid.UUID(b["id"])
    assert db.scalar(select(func.count()).select_from(Event).where(Event.branch_id == bid)) == 2
    assert owner.delete(f"{P}/branches/{b['id']}").status_code == 204
    assert db.scalar(select(func.count()).select_from(Event).where(Event.branch_id == bid)) == 0
    assert owner.get(f"{P}/branches/{b['id']}").status_code == 404
    main = owner.get(f"{P}/branches").json()["items"][0]
    assert main["kind"] == "main"
    r = owner.delete(f"{P}/branches/{main['id']}")
    assert r.status_code == 409 and "main" in r.json()["detail"]


def test_revision_round_trip(owner, db, plan):
    r = owner.post(f"{P}/revisions", json={"summary": "first cut"})
    assert r.status_code == 201, r.text
    rev = r.json()
    assert rev["entity_counts"]["event"] == 2 and rev["created_by"] == owner.user["id"]
    assert [e["name"] for e in rev["payload"]["entities"]["event"]] == ["page_view", "add_to_cart"]  # by order
    # snapshot → JSONB → back: identical to a fresh snapshot, and a diff against itself is empty
    assert rev["payload"] == snapshot.snapshot(db, plan.main_id)
    d = owner.get(f"{P}/revisions/{rev['id']}/diff", params={"compare_to": rev["id"]}).json()
    assert d["entries"] == [] and d["summary"]["total"] == 0
    assert owner.get(f"{P}/revisions/{rev['id']}").json() == rev
    db.get(Event, plan.event).status = "live"
    db.commit()
    rev2 = owner.post(f"{P}/revisions", json={}).json()
    d = owner.get(f"{P}/revisions/{rev2['id']}/diff", params={"compare_to": rev["id"]}).json()
    assert [(e["field"], e["old_value"], e["new_value"]) for e in d["entries"]] == [("status", "draft", "live")]
    page = owner.get(f"{P}/revisions", params={"limit": 1}).json()
    assert page["total"] == 2 and [i["id"] for i in page["items"]] == [rev2["id"]] and "payload" not in page["items"][0]
    assert owner.get(f"{P}/revisions", params={"offset": 1}).json()["items"][0]["id"] == rev["id"]


def test_revision_validation(owner, project):
    r = owner.post(f"{P}/revisions", json={"summary": "x" * 2001})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "summary"]
    assert owner.post(f"{P}/revisions", json={"summary": "x" * 2000}).status_code == 201
    for params, field in (({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"offset": -1}, "offset")):
        r = owner.get(f"{P}/revisions", params=params)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", field]
    rid = owner.get(f"{P}/revisions").json()["items"][0]["id"]
    r = owner.get(f"{P}/revisions/{rid}/diff")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "compare_to"]
    r = owner.get(f"{P}/revisions/{rid}/diff", params={"compare_to": str(uuid.uuid4())})
    assert r.status_code == 404 and "compare_to" in r.json()["detail"]
    assert owner.get(f"{P}/revisions/{uuid.uuid4()}").status_code == 404
    assert owner.get(f"{P}/revisions/not-a-uuid").status_code == 422


def test_variables_and_relations_are_versioned_like_the_rest(owner, reviewer, db, plan):
    from tripl_core.db.models.plan_extras import Relation, Variable

    other = EventType(project_id=plan.project_id, branch_id=plan.main_id, name="cart", display_name="Cart")
    db.add(other)
    db.flush()
    cart_id = FieldDefinition(event_type_id=other.id, branch_id=plan.main_id, name="cart_id", display_name="Cart",
                              field_type="string")
    db.add_all([cart_id, Variable(project_id=plan.project_id, branch_id=plan.main_id, name="screen",
                                  source_name="screen")])
    db.flush()
    db.add(Relation(project_id=plan.project_id, branch_id=plan.main_id, source_event_type_id=plan.event_type,
                    target_event_type_id=other.id, source_field_id=plan.field, target_field_id=cart_id.id))
    db.commit()
    b = make_branch(owner)
    bid = uuid.UUID(b["id"])
    rel = db.scalar(select(Relation).where(Relation.branch_id == bid))
    assert rel.origin_id is not None
    assert rel.target_field_id == branch_row(db, FieldDefinition, bid, cart_id.id).id  # all four FKs remapped
    assert rel.source_event_type_id == branch_row(db, EventType, bid, plan.event_type).id
    rel.description = "cart of the screen"
    db.add(Variable(project_id=plan.project_id, branch_id=bid, name="button", source_name="button"))
    # added on both sides under one name, identically: one entity, no conflict
    db.add(Variable(project_id=plan.project_id, branch_id=bid, name="locale", source_name="locale"))
    db.add(Variable(project_id=plan.project_id, branch_id=plan.main_id, name="locale", source_name="locale"))
    db.commit()
    entries = owner.get(f"{P}/branches/{b['id']}/diff").json()["entries"]
    assert {(e["entity_type"], e["change"], e["field"]) for e in entries} == {
        ("relation", "changed", "description"), ("variable", "added", None)}
    assert owner.get(f"{P}/branches/{b['id']}/conflicts").json()["unresolved_count"] == 0
    approve(owner, reviewer, b["id"])
    assert owner.post(f"{P}/branches/{b['id']}/merge").status_code == 200
    db.expire_all()
    names = set(db.scalars(select(Variable.name).where(Variable.branch_id == plan.main_id)))
    assert names == {"screen", "button", "locale"}
    main_rel = db.scalar(select(Relation).where(Relation.branch_id == plan.main_id))
    assert main_rel.description == "cart of the screen" and main_rel.target_field_id == cart_id.id


def test_changes_after_approval_need_a_new_approval(owner, reviewer, db, plan):
    b = make_branch(owner)
    bid = uuid.UUID(b["id"])
    approve(owner, reviewer, b["id"])
    branch_row(db, Event, bid, plan.event).name = "sneaky_rename"
    db.commit()
    r = owner.post(f"{P}/branches/{b['id']}/merge")
    assert r.status_code == 409 and "changed after it was approved" in r.json()["detail"]
    assert owner.post(f"{P}/branches/{b['id']}/transition", json={"action": "reopen"}).json()["status"] == "draft"
    approve(owner, reviewer, b["id"])
    assert owner.post(f"{P}/branches/{b['id']}/merge").status_code == 200
    db.expire_all()
    assert db.get(Event, plan.event).name == "sneaky_rename"


def test_deleting_the_project_removes_branches_and_revisions(owner, db, plan):
    make_branch(owner)
    owner.post(f"{P}/revisions", json={"summary": "x"})
    assert owner.delete(P).status_code == 204
    assert db.scalar(select(func.count()).select_from(PlanRevision)) == 0
    assert db.scalar(select(func.count()).select_from(Event)) == 0


def test_concurrent_merges_of_one_branch_apply_once(owner, reviewer, db, plan):
    from concurrent.futures import ThreadPoolExecutor

    from tripl_core.audit import Actor
    from tripl_core.db.models.auth import User
    from tripl_core.db.models.projects import Project
    from tripl_core.db.session import new_session
    from tripl_core.errors import Conflict
    from tripl_core.plan import branch_ops

    b = make_branch(owner)
    bid = uuid.UUID(b["id"])
    branch_row(db, Event, bid, plan.event).name = "screen_view"
    db.commit()
    approve(owner, reviewer, b["id"])

    def merge() -> str:
        s = new_session()
        try:
            actor = Actor(s.get(User, uuid.UUID(owner.user["id"])))
            project = s.get(Project, plan.project_id)
            branch_ops.merge(s, actor, project, branch_ops.get(s, project, bid))
            return "merged"
        except Conflict as exc:
            return exc.message
        finally:
            s.close()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: merge(), range(2)))
    assert results.count("merged") == 1
    assert any("is merged" in r for r in results)  # the second saw the first's result, under the lock
    merges = db.scalar(select(func.count()).select_from(PlanRevision).where(PlanRevision.summary.like("Merge%")))
    assert merges == 1
