"""API keys: shown once, hashed at rest, scopes, expiry, revocation, project restriction, last_used_at."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, text

from tests.api.helpers import bearer, mint_key
from tripl_core.db.models.auth import ApiKey

KEYS = "/api/v1/api-keys"


def test_token_returned_once_and_only_hash_stored(owner, db):
    created = mint_key(owner, "ci", scope="write")
    token = created["token"]
    assert token.startswith(created["key_prefix"]) and len(created["key_prefix"]) >= 8
    assert created["scope"] == "write" and created["project_id"] is None
    assert created["expires_at"] is None and created["revoked_at"] is None and created["last_used_at"] is None
    row = db.scalar(select(ApiKey))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(v) for v in row.__dict__.values()}
    listed = owner.get(KEYS).json()
    assert len(listed) == 1 and "token" not in listed[0]
    assert listed[0]["key_prefix"] == created["key_prefix"]


def test_scope_defaults_to_read(owner):
    r = owner.post(KEYS, json={"name": "default"})
    assert r.status_code == 201 and r.json()["scope"] == "read"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({}, "name"),
        ({"name": "k", "scope": "admin"}, "scope"),
        ({"name": "k", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "k", "expires_in_days": 3651}, "expires_in_days"),
        ({"name": "k", "project_slug": "no-such-project"}, "project_slug"),
    ],
)
def test_create_validation_names_the_field(owner, body, field):
    r = owner.post(KEYS, json=body)
    assert r.status_code == 422
    assert ["body", field] in [e["loc"] for e in r.json()["detail"]]


def test_read_key_reads_but_cannot_write(owner, project, anon):
    token = mint_key(owner, scope="read")["token"]
    assert anon.get("/api/v1/projects", headers=bearer(token)).status_code == 200
    r = anon.patch("/api/v1/projects/shop-app", json={"name": "x"}, headers=bearer(token))
    assert r.status_code == 403
    assert anon.post("/api/v1/projects", json={"name": "n", "slug": "n"}, headers=bearer(token)).status_code == 403


def test_write_key_writes_and_audit_names_the_key(owner, project, anon):
    key = mint_key(owner, "deploy-bot", scope="write")
    r = anon.patch("/api/v1/projects/shop-app", json={"name": "Shop"}, headers=bearer(key["token"]))
    assert r.status_code == 200
    entry = owner.get("/api/v1/audit", params={"action": "project.update"}).json()["items"][0]
    assert entry["api_key_id"] == key["id"] and entry["actor_email"] == "owner@example.com"
    assert "deploy-bot" in entry["message"]


def test_key_acts_with_its_users_role(owner, viewer, project, anon):
    assert viewer.post(KEYS, json={"name": "w", "scope": "write"}).status_code == 403
    token = mint_key(viewer, scope="read")["token"]
    assert anon.get("/api/v1/projects/shop-app", headers=bearer(token)).status_code == 200
    assert anon.get("/api/v1/audit", headers=bearer(token)).status_code == 403


def test_revoked_key_is_401(owner, anon):
    key = mint_key(owner)
    assert owner.delete(f"{KEYS}/{key['id']}").status_code == 204
    assert anon.get("/api/v1/projects", headers=bearer(key["token"])).status_code == 401
    assert owner.get(KEYS).json()[0]["revoked_at"] is not None
    assert owner.delete(f"{KEYS}/{key['id']}").status_code == 204  # idempotent


def test_expired_key_is_401(owner, anon, db):
    key = mint_key(owner, expires_in_days=1)
    assert key["expires_at"] is not None
    assert anon.get("/api/v1/projects", headers=bearer(key["token"])).status_code == 200
    db.execute(text("update api_keys set expires_at = now() - interval '1 second'"))
    db.commit()
    r = anon.get("/api/v1/projects", headers=bearer(key["token"]))
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_unknown_or_malformed_bearer_is_401(owner, anon):
    assert anon.get("/api/v1/projects", headers=bearer("tripl_nope")).status_code == 401
    assert anon.get("/api/v1/projects", headers={"Authorization": "Bearer "}).status_code == 401


def test_project_restricted_key(owner, project, anon):
    owner.post("/api/v1/projects", json={"name": "Other", "slug": "other"})
    key = mint_key(owner, scope="write", project_slug="shop-app")
    assert key["project_id"] == project["id"]
    h = bearer(key["token"])
    assert [p["slug"] for p in anon.get("/api/v1/projects", headers=h).json()] == ["shop-app"]
    assert anon.get("/api/v1/projects/shop-app", headers=h).status_code == 200
    assert anon.get("/api/v1/projects/other", headers=h).status_code == 404
    assert anon.patch("/api/v1/projects/other", json={"name": "x"}, headers=h).status_code == 404
    assert anon.get("/api/v1/projects/other/activity", headers=h).status_code == 404
    # plan routes (project and branch resolved together) apply the same rule, reads and writes
    assert anon.get("/api/v1/projects/shop-app/events", headers=h).status_code == 200
    r = anon.get("/api/v1/projects/other/events", headers=h)
    assert r.status_code == 404 and "other" in r.text
    assert anon.post("/api/v1/projects/other/event-types", json={"name": "x", "display_name": "X"},
                     headers=h).status_code == 404
    assert anon.get("/api/v1/projects/nope/events", headers=h).status_code == 404
    # workspace-wide writes are outside its project, and it cannot mint a wider key
    assert anon.post("/api/v1/projects", json={"name": "n", "slug": "n"}, headers=h).status_code == 403
    assert anon.post(KEYS, json={"name": "wide"}, headers=h).status_code == 403
    assert anon.post(KEYS, json={"name": "same", "project_slug": "shop-app"}, headers=h).status_code == 201
    # its view of the audit log and the workspace feed is confined to its project
    items = anon.get("/api/v1/audit", headers=h).json()["items"]
    assert items and {i["project_slug"] for i in items} == {"shop-app"}
    feed = anon.get("/api/v1/activity", headers=h).json()
    assert feed and {i["project_slug"] for i in feed} == {"shop-app"}


def test_last_used_at_is_set(owner, anon):
    key = mint_key(owner)
    anon.get("/api/v1/auth/me", headers=bearer(key["token"]))
    used = owner.get(KEYS).json()[0]["last_used_at"]
    assert used is not None


def test_keys_are_personal(owner, viewer):
    mint_key(owner, "mine")
    viewer_key = mint_key(viewer, "theirs")
    assert [k["name"] for k in viewer.get(KEYS).json()] == ["theirs"]
    assert [k["name"] for k in owner.get(KEYS).json()] == ["mine"]
    owner_key_id = owner.get(KEYS).json()[0]["id"]
    assert viewer.delete(f"{KEYS}/{owner_key_id}").status_code == 404
    # an owner may revoke anyone's key (a leaked key must be stoppable)
    assert owner.delete(f"{KEYS}/{viewer_key['id']}").status_code == 204


def test_revoke_unknown_key(owner):
    import uuid

    assert owner.delete(f"{KEYS}/{uuid.uuid4()}").status_code == 404
    assert owner.delete(f"{KEYS}/nope").status_code == 422


def test_key_creation_and_revocation_are_audited(owner):
    key = mint_key(owner, "ci", scope="write")
    owner.delete(f"{KEYS}/{key['id']}")
    actions = [i["action"] for i in owner.get("/api/v1/audit", params={"action": "api_key"}).json()["items"]]
    assert actions == ["api_key.revoke", "api_key.create"]
    created = owner.get("/api/v1/audit", params={"action": "api_key.create"}).json()["items"][0]
    assert created["after"]["key_prefix"] == key["key_prefix"] and key["token"] not in str(created)
