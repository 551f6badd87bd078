from __future__ import annotations

import uuid

import pytest

from tests.plan_extras.conftest import add_branch, add_event, add_event_type, loc

URL = "/api/v1/projects/shop-app/annotations"


def test_create_defaults(owner, project):
    r = owner.post(URL, json={"bucket": "2026-11-01T10:00:00Z", "label": "Release 4.2"})
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["scope_type"] == "project_total" and a["scope_ref"] is None
    assert a["color"] == "#ef4444" and a["description"] is None
    assert a["created_by_user_id"] == owner.user["id"] and a["project_id"] == project["id"]
    assert a["bucket"].startswith("2026-11-01T10:00:00")


@pytest.mark.parametrize("payload,field", [
    ({"label": "x"}, "bucket"),
    ({"bucket": "yesterday", "label": "x"}, "bucket"),
    ({"bucket": "2026-11-01T00:00:00Z"}, "label"),
    ({"bucket": "2026-11-01T00:00:00Z", "label": ""}, "label"),
    ({"bucket": "2026-11-01T00:00:00Z", "label": "   "}, "label"),
    ({"bucket": "2026-11-01T00:00:00Z", "label": "x" * 201}, "label"),
    ({"bucket": "2026-11-01T00:00:00Z", "label": "x", "color": "#" + "a" * 20}, "color"),
    ({"bucket": "2026-11-01T00:00:00Z", "label": "x", "color": "red;}"}, "color"),
    ({"bucket": "2026-11-01T00:00:00Z", "label": "x", "scope_type": "galaxy"}, "scope_type"),
    ({"bucket": "2026-11-01T00:00:00Z", "label": "x", "scope_type": "event"}, "scope_ref"),
    ({"bucket": "2026-11-01T00:00:00Z", "label": "x", "scope_type": "event_type", "scope_ref": "abc"}, "scope_ref"),
    ({"bucket": "2026-11-01T00:00:00Z", "label": "x", "scope_type": "event", "scope_ref": str(uuid.uuid4())},
     "scope_ref"),
    ({"bucket": "2026-11-01T00:00:00Z", "label": "x", "scope_ref": str(uuid.uuid4())}, "scope_ref"),
])
def test_validation(owner, project, payload, field):
    assert loc(owner.post(URL, json=payload)) == ["body", field]


def test_scope_refs_must_be_main_rows(owner, db, plan):
    ev = add_event(db, plan.screen, "home_viewed")
    ok = owner.post(URL, json={"bucket": "2026-11-01T00:00:00Z", "label": "a", "scope_type": "event",
                               "scope_ref": str(ev.id)})
    assert ok.status_code == 201 and ok.json()["scope_ref"] == str(ev.id)
    ok = owner.post(URL, json={"bucket": "2026-11-01T00:00:00Z", "label": "b", "scope_type": "event_type",
                               "scope_ref": str(plan.screen.id), "color": "teal"})
    assert ok.status_code == 201 and ok.json()["color"] == "teal"
    # an event id given as event_type, and a branch-only event type, are refused
    assert loc(owner.post(URL, json={"bucket": "2026-11-01T00:00:00Z", "label": "c", "scope_type": "event_type",
                                     "scope_ref": str(ev.id)})) == ["body", "scope_ref"]
    branch_et = add_event_type(db, add_branch(db, plan.project_id), "draft_type")
    db.commit()
    assert loc(owner.post(URL, json={"bucket": "2026-11-01T00:00:00Z", "label": "d", "scope_type": "event_type",
                                     "scope_ref": str(branch_et.id)})) == ["body", "scope_ref"]


def test_filters(owner, db, plan):
    ev = add_event(db, plan.screen, "home_viewed")

    def mk(bucket, label, **kw):
        r = owner.post(URL, json={"bucket": bucket, "label": label, **kw})
        assert r.status_code == 201, r.text

    mk("2026-11-01T00:00:00Z", "p1")
    mk("2026-11-02T00:00:00Z", "p2")
    mk("2026-11-03T00:00:00Z", "e1", scope_type="event", scope_ref=str(ev.id))
    mk("2026-11-04T00:00:00Z", "t1", scope_type="event_type", scope_ref=str(plan.screen.id))

    def labels(query=""):
        r = owner.get(URL + query)
        assert r.status_code == 200, r.text
        return [a["label"] for a in r.json()]

    assert labels() == ["p1", "p2", "e1", "t1"]  # by bucket
    assert labels("?scope_type=project_total") == ["p1", "p2"]
    assert labels("?scope_type=event") == ["e1"]
    assert labels(f"?scope_type=event&scope_ref={ev.id}") == ["e1"]
    assert labels(f"?scope_ref={plan.screen.id}") == ["t1"]
    assert labels(f"?scope_type=event&scope_ref={uuid.uuid4()}") == []
    assert labels("?time_from=2026-11-02T00:00:00Z") == ["p2", "e1", "t1"]  # inclusive
    assert labels("?time_to=2026-11-02T00:00:00Z") == ["p1", "p2"]  # inclusive
    assert labels("?time_from=2026-11-02T00:00:00Z&time_to=2026-11-03T12:00:00Z") == ["p2", "e1"]
    assert labels("?time_from=2026-11-02T01:00:00%2B01:00&time_to=2026-11-02T00:00:00Z") == ["p2"]  # zones
    assert labels("?scope_type=project_total&time_from=2026-11-02T00:00:00Z") == ["p2"]
    assert loc(owner.get(URL + "?scope_type=planet")) == ["query", "scope_type"]
    assert loc(owner.get(URL + "?time_from=soon")) == ["query", "time_from"]
    assert loc(owner.get(URL + "?time_from=2026-11-03T00:00:00Z&time_to=2026-11-01T00:00:00Z")) == \
        ["query", "time_to"]


def test_delete_roles_and_audit(owner, editor, viewer, project):
    assert viewer.post(URL, json={"bucket": "2026-11-01T00:00:00Z", "label": "x"}).status_code == 403
    a = editor.post(URL, json={"bucket": "2026-11-01T00:00:00Z", "label": "x"}).json()
    assert viewer.get(URL).status_code == 200
    assert viewer.delete(f"{URL}/{a['id']}").status_code == 403
    assert editor.delete(f"{URL}/{a['id']}").status_code == 204
    assert editor.delete(f"{URL}/{a['id']}").status_code == 404
    actions = [e["action"] for e in owner.get("/api/v1/audit?action=chart_annotation").json()["items"]]
    assert sorted(actions) == ["chart_annotation.create", "chart_annotation.delete"]
    feed = owner.get("/api/v1/projects/shop-app/activity").json()
    assert any("chart annotation 'x'" in e["message"] for e in feed)


def test_other_projects_annotations_invisible(owner, project):
    owner.post("/api/v1/projects", json={"name": "Other", "slug": "other"})
    a = owner.post("/api/v1/projects/other/annotations", json={"bucket": "2026-11-01T00:00:00Z", "label": "o"})
    assert owner.get(URL).json() == []
    assert owner.delete(f"{URL}/{a.json()['id']}").status_code == 404
