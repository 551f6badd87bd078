"""The review of branches: status machine, reviewers, approvals, comments, permissions, audit."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import user_client
from tripl_core.plan.review import TRANSITIONS

P = "/api/v1/projects/shop-app"
STATUSES = ["draft", "in_review", "changes_requested", "approved", "merged", "closed"]


@pytest.fixture
def reviewer(app, owner):
    return user_client(app, owner, "editor")


@pytest.fixture
def branch(owner, project) -> dict:
    r = owner.post(f"{P}/branches", json={"name": "review-me"})
    assert r.status_code == 201, r.text
    return r.json()


def act(client, branch_id: str, action: str):
    return client.post(f"{P}/branches/{branch_id}/transition", json={"action": action})


def force_status(db, branch_id: str, status: str) -> None:
    from tripl_core.db.models.plan import PlanBranch

    db.get(PlanBranch, uuid.UUID(branch_id)).status = status
    db.commit()


def test_happy_path_and_approvals(app, owner, reviewer, branch):
    bid = branch["id"]
    r = owner.post(f"{P}/branches/{bid}/reviewers", json={"user_id": reviewer.user["id"]})
    assert r.status_code == 201 and r.json()["user_id"] == reviewer.user["id"]
    again = owner.post(f"{P}/branches/{bid}/reviewers", json={"user_id": reviewer.user["id"]})
    assert again.json()["id"] == r.json()["id"]  # idempotent
    assert act(owner, bid, "submit").json()["status"] == "in_review"
    assert act(reviewer, bid, "request_changes").json()["status"] == "changes_requested"
    assert act(owner, bid, "submit").json()["status"] == "in_review"
    out = act(reviewer, bid, "approve").json()
    assert out["status"] == "approved"
    assert [a["user_id"] for a in out["approvals"]] == [reviewer.user["id"]]
    assert [x["user_id"] for x in out["reviewers"]] == [reviewer.user["id"]]
    got = owner.get(f"{P}/branches/{bid}").json()
    assert got["approvals"] == out["approvals"] and got["status"] == "approved"
    # a second reviewer adds an approval; approving twice does not duplicate it
    second = user_client(app, owner, "editor")
    owner.post(f"{P}/branches/{bid}/reviewers", json={"user_id": second.user["id"]})
    act(second, bid, "approve")
    out = act(second, bid, "approve").json()
    assert sorted(a["user_id"] for a in out["approvals"]) == sorted([reviewer.user["id"], second.user["id"]])
    out = act(owner, bid, "reopen").json()
    assert out["status"] == "draft" and out["approvals"] == []  # approvals do not survive a reopen
    assert act(owner, bid, "close").json()["status"] == "closed"
    assert act(owner, bid, "reopen").json()["status"] == "draft"
    actions = [e["action"] for e in owner.get("/api/v1/audit", params={"action": "branch"}).json()["items"]]
    for a in ("branch.create", "branch.add_reviewer", "branch.submit", "branch.request_changes", "branch.approve",
              "branch.reopen", "branch.close"):
        assert a in actions
    feed = owner.get(f"{P}/activity").json()
    feed = feed["items"] if isinstance(feed, dict) else feed
    assert any("approved branch 'review-me'" in e["message"] for e in feed)


@pytest.mark.parametrize("status", STATUSES)
def test_every_illegal_move_is_409_naming_the_current_status(owner, reviewer, branch, db, status):
    bid = branch["id"]
    owner.post(f"{P}/branches/{bid}/reviewers", json={"user_id": reviewer.user["id"]})
    force_status(db, bid, status)
    for action, (sources, _) in TRANSITIONS.items():
        if status in sources:
            continue
        r = act(reviewer if action in ("approve", "request_changes") else owner, bid, action)
        assert r.status_code == 409, (status, action, r.text)
        assert f"it is {status}" in r.json()["detail"]


def test_who_may_approve(owner, reviewer, editor, branch):
    bid = branch["id"]
    act(owner, bid, "submit")
    r = act(owner, bid, "approve")  # the author, even as owner
    assert r.status_code == 403 and "author" in r.json()["detail"]
    r = act(reviewer, bid, "approve")  # not a reviewer yet
    assert r.status_code == 403 and "reviewer" in r.json()["detail"]
    owner.post(f"{P}/branches/{bid}/reviewers", json={"user_id": owner.user["id"]})
    assert act(owner, bid, "approve").status_code == 403
    assert act(editor, bid, "request_changes").status_code == 403


def test_main_branch_is_not_reviewed(owner, project):
    main = owner.get(f"{P}/branches").json()["items"][0]
    assert main["kind"] == "main"
    r = act(owner, main["id"], "submit")
    assert r.status_code == 409 and "main" in r.json()["detail"]
    r = owner.post(f"{P}/branches/{main['id']}/merge")
    assert r.status_code == 409


def test_merge_needs_approval(owner, branch):
    r = owner.post(f"{P}/branches/{branch['id']}/merge")
    assert r.status_code == 409 and "draft" in r.json()["detail"]


def test_reviewers_must_be_users(owner, viewer, reviewer, branch):
    bid = branch["id"]
    r = owner.post(f"{P}/branches/{bid}/reviewers", json={"user_id": str(uuid.uuid4())})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "user_id"]
    r = owner.post(f"{P}/branches/{bid}/reviewers", json={"user_id": viewer.user["id"]})
    assert r.status_code == 422 and "viewer" in r.json()["detail"][0]["msg"]
    r = owner.post(f"{P}/branches/{bid}/reviewers", json={"user_id": "nope"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "user_id"]
    owner.post(f"{P}/branches/{bid}/reviewers", json={"user_id": reviewer.user["id"]})
    assert owner.delete(f"{P}/branches/{bid}/reviewers/{reviewer.user['id']}").status_code == 204
    assert owner.get(f"{P}/branches/{bid}").json()["reviewers"] == []
    assert owner.delete(f"{P}/branches/{bid}/reviewers/{reviewer.user['id']}").status_code == 404


def test_bad_bodies_name_the_field(owner, branch):
    bid = branch["id"]
    r = act(owner, bid, "merge")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "action"]
    for body, field in (({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 256}, "name"),
                        ({"name": "ok", "description": 5}, "description")):
        r = owner.post(f"{P}/branches", json=body)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", field], body
    r = owner.post(f"{P}/branches", json={"name": "   "})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]
    assert owner.get(f"{P}/branches/{uuid.uuid4()}").status_code == 404
    assert owner.get(f"{P}/branches/xyz").status_code == 422
    assert owner.get("/api/v1/projects/nope/branches").status_code == 404


def test_threaded_comments_and_deletion_rights(owner, editor, viewer, branch, monkeypatch):
    bid = branch["id"]
    r = editor.post(f"{P}/branches/{bid}/comments", json={"body": "Why rename?"})
    assert r.status_code == 201, r.text
    top = r.json()
    assert (top["parent_id"], top["user_id"], top["branch_id"]) == (None, editor.user["id"], bid)
    reply = owner.post(f"{P}/branches/{bid}/comments", json={"body": "Consistency", "parent_id": top["id"]}).json()
    assert reply["parent_id"] == top["id"]
    r = owner.post(f"{P}/branches/{bid}/comments", json={"body": "x", "parent_id": str(uuid.uuid4())})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "parent_id"]
    for body in ({"body": ""}, {}):
        r = owner.post(f"{P}/branches/{bid}/comments", json=body)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "body"]
    assert [c["id"] for c in viewer.get(f"{P}/branches/{bid}/comments").json()] == [top["id"], reply["id"]]
    # viewers read, and comment only when the instance allows it
    r = viewer.post(f"{P}/branches/{bid}/comments", json={"body": "me too"})
    assert r.status_code == 403 and "viewer_comments_enabled" in r.json()["detail"]
    monkeypatch.setenv("TRIPL_VIEWER_COMMENTS_ENABLED", "true")
    from tripl_core import service_settings
    from tripl_core.settings import reset_settings_cache

    reset_settings_cache()
    service_settings.invalidate()
    r = viewer.post(f"{P}/branches/{bid}/comments", json={"body": "me too"})
    assert r.status_code == 201, r.text
    mine = r.json()
    # own comment: yes; someone else's: only owners
    assert viewer.delete(f"{P}/branches/{bid}/comments/{top['id']}").status_code == 403
    assert viewer.delete(f"{P}/branches/{bid}/comments/{mine['id']}").status_code == 204
    assert owner.delete(f"{P}/branches/{bid}/comments/{top['id']}").status_code == 204  # with its reply
    assert owner.get(f"{P}/branches/{bid}/comments").json() == []
    assert owner.delete(f"{P}/branches/{bid}/comments/{top['id']}").status_code == 404


def test_viewers_read_but_do_not_change(owner, viewer, branch):
    bid = branch["id"]
    assert viewer.get(f"{P}/branches").json()["total"] == 2
    assert viewer.get(f"{P}/branches/{bid}").status_code == 200
    assert viewer.get(f"{P}/branches/{bid}/diff").status_code == 200
    assert viewer.get(f"{P}/branches/{bid}/conflicts").json() == {"entities": [], "unresolved_count": 0}
    assert viewer.get(f"{P}/revisions").status_code == 200
    for method, path, body in (("post", "", {"name": "v"}), ("delete", f"/{bid}", None),
                               ("post", f"/{bid}/transition", {"action": "submit"}),
                               ("post", f"/{bid}/merge", None),
                               ("post", f"/{bid}/reviewers", {"user_id": viewer.user["id"]})):
        r = viewer.request(method, f"{P}/branches{path}", json=body)
        assert r.status_code == 403, (method, path)
    assert viewer.post(f"{P}/revisions", json={}).status_code == 403
