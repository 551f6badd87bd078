"""List Users and Update User Role: paging bounds, owner-only role changes, the last owner stays."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import register


def test_list_users_shape_and_order(owner, viewer):
    r = owner.get("/api/v1/users")
    assert r.status_code == 200
    users = r.json()
    assert [u["email"] for u in users][0] == "owner@example.com"
    assert {u["role"] for u in users} == {"owner", "viewer"}
    assert set(users[0]) == {"id", "email", "name", "role", "created_at"}
    assert "password_hash" not in r.text


def test_list_users_paging(owner, client):
    for i in range(3):
        register(client, f"u{i}@example.com")
    assert len(owner.get("/api/v1/users", params={"limit": 2}).json()) == 2
    assert len(owner.get("/api/v1/users", params={"offset": 3}).json()) == 1
    assert len(owner.get("/api/v1/users", params={"limit": 1000}).json()) == 4


@pytest.mark.parametrize(("params", "field"), [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"),
                                               ({"offset": -1}, "offset"), ({"limit": "x"}, "limit")])
def test_list_users_bounds(owner, params, field):
    r = owner.get("/api/v1/users", params=params)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", field]


def test_viewer_may_list_but_not_change_roles(owner, viewer):
    assert viewer.get("/api/v1/users").status_code == 200
    r = viewer.patch(f"/api/v1/users/{viewer.user['id']}/role", json={"role": "owner"})
    assert r.status_code == 403


def test_editor_may_not_change_roles(owner, editor, viewer):
    assert editor.patch(f"/api/v1/users/{viewer.user['id']}/role", json={"role": "editor"}).status_code == 403


def test_owner_changes_a_role_and_it_takes_effect(owner, viewer):
    r = owner.patch(f"/api/v1/users/{viewer.user['id']}/role", json={"role": "editor"})
    assert r.status_code == 200
    assert r.json()["role"] == "editor"
    assert set(r.json()) == {"id", "email", "name", "role", "created_at"}
    assert viewer.get("/api/v1/auth/me").json()["role"] == "editor"
    # an editor may now create projects
    assert viewer.post("/api/v1/projects", json={"name": "P", "slug": "p"}).status_code == 201


def test_role_change_is_audited(owner, viewer):
    owner.patch(f"/api/v1/users/{viewer.user['id']}/role", json={"role": "editor"})
    items = owner.get("/api/v1/audit", params={"action": "user.update_role"}).json()["items"]
    assert items[0]["before"] == {"role": "viewer"} and items[0]["after"] == {"role": "editor"}
    assert items[0]["target_id"] == viewer.user["id"]


def test_last_owner_cannot_be_demoted(owner):
    r = owner.patch(f"/api/v1/users/{owner.user['id']}/role", json={"role": "editor"})
    assert r.status_code == 409
    assert owner.get("/api/v1/auth/me").json()["role"] == "owner"


def test_an_owner_may_step_down_when_another_owner_exists(owner, viewer):
    owner.patch(f"/api/v1/users/{viewer.user['id']}/role", json={"role": "owner"})
    r = owner.patch(f"/api/v1/users/{owner.user['id']}/role", json={"role": "viewer"})
    assert r.status_code == 200
    # and the remaining owner is now the last one
    r = viewer.patch(f"/api/v1/users/{viewer.user['id']}/role", json={"role": "editor"})
    assert r.status_code == 409


def test_update_role_validation(owner):
    r = owner.patch(f"/api/v1/users/{owner.user['id']}/role", json={"role": "admin"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "role"]
    r = owner.patch("/api/v1/users/not-a-uuid/role", json={"role": "viewer"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "user_id"]
    assert owner.patch(f"/api/v1/users/{uuid.uuid4()}/role", json={"role": "viewer"}).status_code == 404
