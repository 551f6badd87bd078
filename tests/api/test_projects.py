"""Projects: validation, slug rules, roles, slug changes keeping everything attached, cascading delete."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests.api.helpers import bearer, mint_key

P = "/api/v1/projects"


def test_create_and_get(owner):
    r = owner.post(P, json={"name": "Shop App", "slug": "shop-app"})
    assert r.status_code == 201
    body = r.json()
    assert body["description"] == ""  # the reference default
    assert set(body) == {"id", "name", "slug", "description", "created_at", "updated_at", "summary"}
    summary = body["summary"]
    assert {"event_types", "events", "events_by_status", "fields", "open_drifts"} <= set(summary)
    assert summary["event_types"] == 0 and summary["open_drifts"] == 0
    got = owner.get(f"{P}/shop-app").json()
    assert got["id"] == body["id"] and got["summary"] == summary
    listed = owner.get(P).json()
    assert [p["slug"] for p in listed] == ["shop-app"] and "summary" in listed[0]


@pytest.mark.parametrize("slug", ["Shop", "shop_app", "-shop", "shop-", "shop--app", "sh op", "", "s" * 256, "é"])
def test_slug_rules(owner, slug):
    r = owner.post(P, json={"name": "X", "slug": slug})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "slug"]


@pytest.mark.parametrize("slug", ["a", "shop-app", "app2", "1-2-3", "s" * 255])
def test_valid_slugs(owner, slug):
    assert owner.post(P, json={"name": "X", "slug": slug}).status_code == 201


@pytest.mark.parametrize(("body", "field"), [({"name": "", "slug": "a"}, "name"),
                                             ({"name": "n" * 256, "slug": "a"}, "name"),
                                             ({"slug": "a"}, "name"), ({"name": "a"}, "slug"),
                                             ({"name": "a", "slug": "a", "description": 5}, "description")])
def test_create_validation(owner, body, field):
    r = owner.post(P, json=body)
    assert r.status_code == 422
    assert ["body", field] in [e["loc"] for e in r.json()["detail"]]


def test_duplicate_slug_is_409(owner, project):
    assert owner.post(P, json={"name": "Again", "slug": "shop-app"}).status_code == 409
    owner.post(P, json={"name": "Other", "slug": "other"})
    assert owner.patch(f"{P}/other", json={"slug": "shop-app"}).status_code == 409


def test_update_validation(owner, project):
    r = owner.patch(f"{P}/shop-app", json={"slug": "Bad Slug"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "slug"]
    r = owner.patch(f"{P}/shop-app", json={"name": ""})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]
    assert owner.patch(f"{P}/nope", json={"name": "x"}).status_code == 404


def test_partial_update(owner, project):
    r = owner.patch(f"{P}/shop-app", json={"description": "New"})
    assert r.status_code == 200
    assert r.json()["name"] == "Shop App" and r.json()["description"] == "New"
    # explicit nulls leave a field as it was
    r = owner.patch(f"{P}/shop-app", json={"name": None})
    assert r.json()["name"] == "Shop App"


def test_roles(owner, editor, viewer, project):
    assert viewer.get(f"{P}/shop-app").status_code == 200
    assert viewer.post(P, json={"name": "V", "slug": "v"}).status_code == 403
    assert viewer.patch(f"{P}/shop-app", json={"name": "V"}).status_code == 403
    assert editor.post(P, json={"name": "E", "slug": "e"}).status_code == 201
    assert editor.patch(f"{P}/shop-app", json={"name": "Edited"}).status_code == 200
    assert editor.delete(f"{P}/shop-app").status_code == 403
    assert owner.delete(f"{P}/shop-app").status_code == 204


def test_slug_change_keeps_keys_and_audit_attached(owner, project, anon):
    key = mint_key(owner, scope="write", project_slug="shop-app")
    owner.patch(f"{P}/shop-app", json={"description": "before the move"})
    r = owner.patch(f"{P}/shop-app", json={"slug": "shop"})
    assert r.status_code == 200 and r.json()["id"] == project["id"]
    assert owner.get(f"{P}/shop-app").status_code == 404
    # the restricted key follows the project to its new slug
    assert anon.get(f"{P}/shop", headers=bearer(key["token"])).status_code == 200
    assert owner.get("/api/v1/api-keys").json()[0]["project_id"] == project["id"]
    # its whole history is found under the new slug, activity included
    actions = {i["action"] for i in owner.get("/api/v1/audit", params={"project_slug": "shop"}).json()["items"]}
    assert {"project.create", "project.update", "api_key.create"} <= actions
    feed = owner.get(f"{P}/shop/activity").json()
    assert any(e["action"] == "project.create" for e in feed)
    update = owner.get("/api/v1/audit", params={"action": "project.update"}).json()["items"][0]
    assert update["before"] == {"slug": "shop-app"} and update["after"] == {"slug": "shop"}


def _project_id_tables(db) -> list[str]:
    return list(db.scalars(text(
        "select table_name from information_schema.columns where table_schema = current_schema() "
        "and column_name = 'project_id' and table_name <> 'alembic_version' order by table_name")))


def test_every_project_id_column_cascades(db):
    """Every table with project_id references projects ON DELETE CASCADE (the audit log: SET NULL)."""
    rows = db.execute(text("""
        select c.table_name, con.confdeltype, ref.relname
        from information_schema.columns c
        left join pg_constraint con on con.contype = 'f'
             and con.conrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass
             and con.conkey = array[(select attnum from pg_attribute
                                     where attrelid = con.conrelid and attname = 'project_id')]
        left join pg_class ref on ref.oid = con.confrelid
        where c.table_schema = current_schema() and c.column_name = 'project_id'
    """)).all()
    assert rows, "no table has a project_id column?"
    bad = [f"{t}: delete rule {rule!r} to {ref!r}" for t, rule, ref in rows
           if ref != "projects" or rule != ("n" if t == "audit_log" else "c")]
    assert not bad, "project_id columns that would orphan rows or block Delete Project: " + "; ".join(bad)


def test_delete_cascades_and_leaves_no_orphans(owner, project, db, anon):
    key = mint_key(owner, scope="write", project_slug="shop-app")
    owner.patch(f"{P}/shop-app", json={"description": "x"})
    pid = project["id"]
    tables = _project_id_tables(db)
    assert {"api_keys", "audit_log"} <= set(tables)
    assert owner.delete(f"{P}/shop-app").status_code == 204
    assert owner.get(f"{P}/shop-app").status_code == 404
    leftovers = {t: db.scalar(text(f'select count(*) from "{t}" where project_id = :p'), {"p": pid})
                 for t in tables}
    assert {t: n for t, n in leftovers.items() if n} == {}, f"orphans after delete: {leftovers}"
    # the key went with its project; the deletion itself stays auditable under the old slug
    assert anon.get(P, headers=bearer(key["token"])).status_code == 401
    items = owner.get("/api/v1/audit", params={"project_slug": "shop-app"}).json()["items"]
    assert items[0]["action"] == "project.delete" and items[0]["project_id"] is None
    assert items[0]["before"]["slug"] == "shop-app"
    assert owner.delete(f"{P}/shop-app").status_code == 404


def test_get_unknown_project(owner):
    assert owner.get(f"{P}/nope").status_code == 404
    assert owner.get(f"{P}/{uuid.uuid4()}").status_code == 404
