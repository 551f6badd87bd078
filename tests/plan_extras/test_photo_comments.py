from __future__ import annotations

import uuid

import pytest

from tests.plan_extras.conftest import loc, png_bytes


def photos_url(event_id) -> str:
    return f"/api/v1/projects/shop-app/events/{event_id}/photos"


@pytest.fixture
def photo(owner, event) -> dict:
    r = owner.post(photos_url(event.id), files={"file": ("a.png", png_bytes(), "image/png")})
    assert r.status_code == 201, r.text
    return r.json()


def curl(photo: dict, rest: str = "") -> str:
    return f"{photos_url(photo['event_id'])}/{photo['id']}/comments{rest}"


def test_threading(owner, viewer, photo):
    top = owner.post(curl(photo), json={"body": "Is this the new header?"})
    assert top.status_code == 201, top.text
    top = top.json()
    assert top["parent_id"] is None and top["user_id"] == owner.user["id"] and top["photo_id"] == photo["id"]
    assert top["user_name"] == "Olive Owner"
    reply = viewer.post(curl(photo), json={"body": "Yes, since 4.2", "parent_id": top["id"]})
    assert reply.status_code == 201, reply.text  # viewers may comment
    nested = owner.post(curl(photo), json={"body": "Thanks", "parent_id": reply.json()["id"]}).json()
    listed = viewer.get(curl(photo)).json()
    assert [(c["id"], c["parent_id"]) for c in listed] == [
        (top["id"], None), (reply.json()["id"], top["id"]), (nested["id"], reply.json()["id"])]
    assert set(listed[0]) >= {"id", "photo_id", "parent_id", "user_id", "body", "created_at", "updated_at"}


def test_parent_must_be_on_same_photo(owner, event, photo):
    other = owner.post(photos_url(event.id), files={"file": ("b.png", png_bytes(), "image/png")}).json()
    elsewhere = owner.post(curl(other), json={"body": "on the other photo"}).json()
    assert loc(owner.post(curl(photo), json={"body": "x", "parent_id": elsewhere["id"]})) == ["body", "parent_id"]
    assert loc(owner.post(curl(photo), json={"body": "x", "parent_id": str(uuid.uuid4())})) == ["body", "parent_id"]
    assert loc(owner.post(curl(photo), json={"body": "x", "parent_id": "nope"})) == ["body", "parent_id"]


@pytest.mark.parametrize("body", ["", "   ", "x" * 4001])
def test_body_rules(owner, photo, body):
    assert loc(owner.post(curl(photo), json={"body": body})) == ["body", "body"]


def test_body_limit_edge(owner, photo):
    assert owner.post(curl(photo), json={"body": "x" * 4000}).status_code == 201


def test_delete_own_owner_any(owner, editor, viewer, photo):
    mine = viewer.post(curl(photo), json={"body": "viewer's"}).json()
    editors = editor.post(curl(photo), json={"body": "editor's"}).json()
    assert editor.delete(curl(photo, f"/{mine['id']}")).status_code == 403  # not their comment
    assert viewer.delete(curl(photo, f"/{editors['id']}")).status_code == 403
    assert viewer.delete(curl(photo, f"/{mine['id']}")).status_code == 204  # own
    assert owner.delete(curl(photo, f"/{editors['id']}")).status_code == 204  # owners may delete any
    assert owner.delete(curl(photo, f"/{editors['id']}")).status_code == 404
    assert owner.get(curl(photo)).json() == []


def test_deleting_a_comment_deletes_its_replies(owner, viewer, photo):
    top = owner.post(curl(photo), json={"body": "top"}).json()
    viewer.post(curl(photo), json={"body": "reply", "parent_id": top["id"]})
    keep = owner.post(curl(photo), json={"body": "separate"}).json()
    assert owner.delete(curl(photo, f"/{top['id']}")).status_code == 204
    assert [c["id"] for c in owner.get(curl(photo)).json()] == [keep["id"]]


def test_comment_on_wrong_photo_or_event(owner, event, photo):
    c = owner.post(curl(photo), json={"body": "x"}).json()
    assert owner.get(f"{photos_url(event.id)}/{uuid.uuid4()}/comments").status_code == 404
    assert owner.get(f"{photos_url(uuid.uuid4())}/{photo['id']}/comments").status_code == 404
    other = owner.post(photos_url(event.id), files={"file": ("b.png", png_bytes(), "image/png")}).json()
    assert owner.delete(curl(other, f"/{c['id']}")).status_code == 404


def test_deleting_photo_deletes_comments_and_audit(owner, db, photo):
    owner.post(curl(photo), json={"body": "x"})
    owner.delete(f"{photos_url(photo['event_id'])}/{photo['id']}")
    from tripl_core.db.models.plan_extras import PhotoComment

    assert db.query(PhotoComment).count() == 0
    actions = [e["action"] for e in owner.get("/api/v1/audit?action=photo_comment").json()["items"]]
    assert actions == ["photo_comment.create"]


def test_read_only_key_cannot_comment(owner, viewer, photo):
    key = viewer.post("/api/v1/api-keys", json={"name": "ro", "scope": "read"})
    assert key.status_code == 201, key.text
    headers = {"Authorization": f"Bearer {key.json()['token']}"}
    from fastapi.testclient import TestClient

    with TestClient(owner.app) as anon:
        assert anon.get(curl(photo), headers=headers).status_code == 200
        assert anon.post(curl(photo), json={"body": "x"}, headers=headers).status_code == 403
