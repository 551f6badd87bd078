"""Audit log (every mutation, filters, owner only) and the activity feed (readable entries)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.helpers import bearer, mint_key

AUDIT = "/api/v1/audit"


def _audit(client, **params) -> dict:
    r = client.get(AUDIT, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_every_foundation_mutation_is_audited(owner, viewer, anon):
    owner.post("/api/v1/projects", json={"name": "Shop", "slug": "shop"})
    owner.patch("/api/v1/projects/shop", json={"name": "Shop 2"})
    owner.patch(f"/api/v1/users/{viewer.user['id']}/role", json={"role": "editor"})
    key = mint_key(owner, "bot", scope="write")
    anon.patch("/api/v1/projects/shop", json={"description": "by key"}, headers=bearer(key["token"]))
    owner.delete(f"/api/v1/api-keys/{key['id']}")
    owner.delete("/api/v1/projects/shop")
    page = _audit(owner, limit=200)
    actions = [i["action"] for i in page["items"]]
    for action in ("user.register", "user.login", "user.update_role", "project.create", "project.update",
                   "api_key.create", "api_key.revoke", "project.delete"):
        assert action in actions, action
    assert page["total"] == len(page["items"])
    by_action = {i["action"]: i for i in reversed(page["items"])}  # the newest of each
    create = by_action["project.create"]
    assert create["actor_email"] == "owner@example.com" and create["actor_user_id"] == owner.user["id"]
    assert create["api_key_id"] is None and create["target_type"] == "project"
    assert create["after"] == {"name": "Shop", "slug": "shop", "description": ""} and create["before"] is None
    by_key = by_action["project.update"]
    assert by_key["api_key_id"] == key["id"] and by_key["after"] == {"description": "by key"}
    assert by_key["before"] == {"description": ""}
    assert by_action["project.delete"]["before"]["name"] == "Shop 2"
    assert all(i["message"] for i in page["items"])
    assert set(create) == {"id", "created_at", "actor_user_id", "actor_email", "actor_name", "api_key_id",
                           "action", "target_type", "target_id", "target_name", "project_id", "project_slug",
                           "message", "before", "after"}


def test_a_patch_that_changes_nothing_is_not_audited(owner, project):
    owner.patch("/api/v1/projects/shop-app", json={"name": "Shop App"})
    owner.patch("/api/v1/projects/shop-app", json={})
    assert _audit(owner, action="project.update")["total"] == 0


def test_audit_is_newest_first(owner, project):
    items = _audit(owner)["items"]
    stamps = [i["created_at"] for i in items]
    assert stamps == sorted(stamps, reverse=True)


def test_filters(owner, editor, project):
    editor.post("/api/v1/projects", json={"name": "Other", "slug": "other"})
    assert {i["project_slug"] for i in _audit(owner, project_slug="other")["items"]} == {"other"}
    assert _audit(owner, project_slug="nope") == {"items": [], "total": 0}
    assert {i["action"] for i in _audit(owner, action="project")["items"]} == {"project.create"}
    assert _audit(owner, action="project.create")["total"] == 2
    assert _audit(owner, action="project.cre")["total"] == 0  # an exact action or a whole family
    mine = _audit(owner, user_id=editor.user["id"])["items"]
    assert mine and {i["actor_user_id"] for i in mine} == {editor.user["id"]}
    assert _audit(owner, user_email=editor.user["email"].upper())["total"] == len(mine)
    assert _audit(owner, user_email="ghost@example.com")["total"] == 0


def test_time_window(owner, project):
    now = datetime.now(UTC)
    assert _audit(owner, since=(now + timedelta(minutes=5)).isoformat())["total"] == 0
    assert _audit(owner, until=(now - timedelta(days=1)).isoformat())["total"] == 0
    everything = _audit(owner)["total"]
    window = _audit(owner, since=(now - timedelta(hours=1)).isoformat(), until=(now + timedelta(hours=1)).isoformat())
    assert window["total"] == everything > 0


def test_paging(owner):
    for i in range(4):
        owner.post("/api/v1/projects", json={"name": f"P{i}", "slug": f"p{i}"})
        time.sleep(0.002)
    total = _audit(owner)["total"]
    first = _audit(owner, limit=2)
    second = _audit(owner, limit=2, offset=2)
    assert len(first["items"]) == 2 and first["total"] == total
    assert {i["id"] for i in first["items"]}.isdisjoint({i["id"] for i in second["items"]})
    assert _audit(owner, offset=total)["items"] == []


@pytest.mark.parametrize(("params", "field"), [({"limit": 0}, "limit"), ({"limit": 201}, "limit"),
                                               ({"offset": -1}, "offset"), ({"user_id": "x"}, "user_id"),
                                               ({"since": "yesterday"}, "since"), ({"until": "x"}, "until")])
def test_bounds(owner, params, field):
    r = owner.get(AUDIT, params=params)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", field]


def test_owner_only(owner, editor, viewer):
    assert editor.get(AUDIT).status_code == 403
    assert viewer.get(AUDIT).status_code == 403
    # a read key of an owner is enough: listing is not a mutation
    token = mint_key(owner, scope="read")["token"]
    assert editor.get(AUDIT, headers=bearer(token)).status_code == 200


def test_secrets_are_not_written_to_the_audit_log(owner):
    from tripl_core.audit import scrub

    assert scrub({"password": "hunter22", "api_token": "t", "name": "n", "nested": {"secret": "s"}}) == {
        "password_set": True, "api_token_set": True, "name": "n", "nested": {"secret_set": True}}
    key = mint_key(owner, scope="write")
    assert key["token"] not in str(_audit(owner, limit=200))


def test_workspace_activity(owner, viewer, project):
    r = viewer.get("/api/v1/activity")
    assert r.status_code == 200
    feed = r.json()
    assert feed and all(e["message"] for e in feed)
    assert "user.login" not in {e["action"] for e in feed}  # the feed is about the plan, not sign-ins
    created = next(e for e in feed if e["action"] == "project.create")
    assert created["message"] == "Olive Owner created project 'Shop App'"
    assert created["project_slug"] == "shop-app"
    assert set(created) == {"id", "created_at", "actor_name", "actor_email", "action", "target_type",
                            "target_id", "target_name", "project_slug", "message"}


def test_project_activity_is_confined_to_the_project(owner, project):
    owner.post("/api/v1/projects", json={"name": "Other", "slug": "other"})
    feed = owner.get("/api/v1/projects/shop-app/activity").json()
    assert feed and {e["project_slug"] for e in feed} == {"shop-app"}
    assert owner.get("/api/v1/projects/nope/activity").status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/activity", "/api/v1/projects/shop-app/activity"])
def test_activity_limit(owner, project, path):
    for i in range(21):
        owner.patch("/api/v1/projects/shop-app", json={"description": str(i)})
    assert len(owner.get(path, params={"limit": 2}).json()) == 2
    assert len(owner.get(path).json()) == 20  # the default
    assert len(owner.get(path, params={"limit": 100}).json()) > 20
    for bad in (0, 101, "x"):
        r = owner.get(path, params={"limit": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"]


def test_activity_needs_credentials(client):
    assert client.get("/api/v1/activity").status_code == 401
