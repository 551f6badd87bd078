"""Event types, fields with contracts, owners: validation, uniqueness, ordering, cascades, roles."""

from __future__ import annotations

from tests.plan.conftest import BASE, add_event, add_type, loc


def test_create_event_type_defaults_and_fields(owner, project):
    et = add_type(owner, "commerce", [{"name": "price", "display_name": "Price", "field_type": "number"}])
    assert et["color"] == "#6366f1" and et["order"] == 0 and et["description"] == ""
    [f] = et["field_definitions"]
    assert f["sensitivity"] == "none" and f["contract_max_bad_rate"] == 0 and f["is_required"] is False
    got = owner.get(f"{BASE}/event-types/{et['id']}").json()
    assert got["field_definitions"][0]["name"] == "price"
    assert [t["name"] for t in owner.get(f"{BASE}/event-types").json()] == ["commerce"]


def test_event_type_validation(owner, project):
    url = f"{BASE}/event-types"
    assert loc(owner.post(url, json={"name": "", "display_name": "X"})) == ["body", "name"]
    assert loc(owner.post(url, json={"name": "x" * 101, "display_name": "X"})) == ["body", "name"]
    assert loc(owner.post(url, json={"name": "x", "display_name": ""})) == ["body", "display_name"]
    assert loc(owner.post(url, json={"name": "x", "display_name": "x" * 256})) == ["body", "display_name"]
    assert loc(owner.post(url, json={"name": "x", "display_name": "X", "color": "red"})) == ["body", "color"]
    assert loc(owner.post(url, json={"name": "   ", "display_name": "X"})) == ["body", "name"]
    bad_field = {"name": "f", "display_name": "F", "field_type": "string", "contract_regex": "("}
    assert loc(owner.post(url, json={"name": "x", "display_name": "X", "field_definitions": [bad_field]})) == [
        "body", "field_definitions", 0, "contract_regex"]
    assert owner.get(url).json() == []  # nothing half-created


def test_event_type_name_unique_and_update(owner, project):
    et = add_type(owner, "lifecycle")
    r = owner.post(f"{BASE}/event-types", json={"name": "lifecycle", "display_name": "Again"})
    assert r.status_code == 409
    r = owner.patch(f"{BASE}/event-types/{et['id']}", json={"display_name": "Life", "color": "#ABCDEF",
                                                             "order": 3})
    assert r.status_code == 200 and r.json()["display_name"] == "Life" and r.json()["order"] == 3
    assert loc(owner.patch(f"{BASE}/event-types/{et['id']}", json={"color": "#12"})) == ["body", "color"]
    assert owner.get(f"{BASE}/event-types/00000000-0000-0000-0000-000000000000").status_code == 404


def test_field_contract_rules(owner, project):
    et = add_type(owner, "commerce")
    url = f"{BASE}/event-types/{et['id']}/fields"
    base = {"name": "price", "display_name": "Price", "field_type": "number"}
    cases = [
        ({"contract_min_value": 10, "contract_max_value": 1}, "contract_min_value"),
        ({"contract_max_bad_rate": 1.5}, "contract_max_bad_rate"),
        ({"contract_max_bad_rate": -0.1}, "contract_max_bad_rate"),
        ({"contract_required_max_null_rate": 2}, "contract_required_max_null_rate"),
        ({"field_type": "string", "contract_regex": "[a-"}, "contract_regex"),
        ({"contract_regex": "^\\d+$"}, "contract_regex"),  # a regex does not apply to numbers
        ({"field_type": "string", "contract_min_value": 1}, "contract_min_value"),
        ({"field_type": "enum"}, "enum_options"),
        ({"field_type": "enum", "enum_options": ["a", "a"]}, "enum_options"),
        ({"enum_options": ["a"]}, "enum_options"),
        ({"field_type": "date"}, "field_type"),
        ({"sensitivity": "top"}, "sensitivity"),
        ({"name": ""}, "name"),
    ]
    for extra, field in cases:
        r = owner.post(url, json={**base, **extra})
        assert r.status_code == 422, (extra, r.text)
        assert field in r.json()["detail"][0]["loc"], (extra, r.json())
    ok = owner.post(url, json={**base, "contract_min_value": 0, "contract_max_value": 0, "sensitivity": "financial",
                               "contract_required_max_null_rate": 0.1, "contract_max_bad_rate": 1})
    assert ok.status_code == 201, ok.text
    assert owner.post(url, json=base).status_code == 409
    r = owner.post(url, json={"name": "sku", "display_name": "SKU", "field_type": "string",
                              "contract_regex": "^SKU-[0-9]+$"})
    assert r.status_code == 201 and r.json()["contract_regex"] == "^SKU-[0-9]+$"


def test_bulk_fields_atomic_and_reorder(owner, project):
    et = add_type(owner, "commerce")
    url = f"{BASE}/event-types/{et['id']}/fields"
    good = [{"name": n, "display_name": n, "field_type": "string"} for n in ("a", "b", "c")]
    bad = good + [{"name": "d", "display_name": "d", "field_type": "number", "contract_min_value": 5,
                   "contract_max_value": 1}]
    assert loc(owner.post(f"{url}/bulk", json={"fields": bad})) == ["body", "fields", 3, "contract_min_value"]
    assert owner.get(url).json() == []
    dup = good + [{"name": "a", "display_name": "again", "field_type": "string"}]
    assert owner.post(f"{url}/bulk", json={"fields": dup}).status_code == 409
    assert loc(owner.post(f"{url}/bulk", json={"fields": []})) == ["body", "fields"]
    created = owner.post(f"{url}/bulk", json={"fields": good})
    assert created.status_code == 201 and len(created.json()) == 3
    ids = {f["name"]: f["id"] for f in created.json()}
    r = owner.post(f"{url}/reorder", json={"field_ids": [ids["c"], ids["a"]]})
    assert r.status_code == 200
    assert [f["name"] for f in r.json()] == ["c", "a", "b"]
    assert [f["name"] for f in owner.get(url).json()] == ["c", "a", "b"]
    assert loc(owner.post(f"{url}/reorder", json={"field_ids": [ids["a"], ids["a"]]})) == ["body", "field_ids", 1]
    other = add_type(owner, "other", [{"name": "x", "display_name": "x", "field_type": "string"}])
    foreign = other["field_definitions"][0]["id"]
    assert loc(owner.post(f"{url}/reorder", json={"field_ids": [foreign]})) == ["body", "field_ids", 0]


def test_update_field_refuses_to_invalidate_values(owner, screen_view):
    et = screen_view
    fields = {f["name"]: f for f in et["field_definitions"]}
    add_event(owner, et, "home", field_values=[{"field_name": "screen_name", "value": "home"},
                                               {"field_name": "platform", "value": "ios"}])
    furl = f"{BASE}/event-types/{et['id']}/fields"
    # Removing an option in use is refused and names the event.
    r = owner.patch(f"{furl}/{fields['platform']['id']}", json={"enum_options": ["android", "web"]})
    assert r.status_code == 409 and "'home'" in r.json()["detail"]
    # string -> number would break "home".
    r = owner.patch(f"{furl}/{fields['screen_name']['id']}", json={"field_type": "number"})
    assert r.status_code == 409
    # Adding an option is fine; leaving enum for string keeps values valid and drops the options.
    r = owner.patch(f"{furl}/{fields['platform']['id']}", json={"enum_options": ["ios", "android", "web", "tv"]})
    assert r.status_code == 200 and r.json()["enum_options"][-1] == "tv"
    r = owner.patch(f"{furl}/{fields['platform']['id']}", json={"field_type": "string"})
    assert r.status_code == 200 and r.json()["enum_options"] is None
    # Contracts: merged state validated; null clears.
    lid = fields["load_ms"]["id"]
    assert loc(owner.patch(f"{furl}/{lid}", json={"contract_min_value": 70000})) == ["body", "contract_min_value"]
    r = owner.patch(f"{furl}/{lid}", json={"contract_max_value": None, "contract_min_value": 70000})
    assert r.status_code == 200 and r.json()["contract_max_value"] is None
    assert loc(owner.patch(f"{furl}/{lid}", json={"contract_max_bad_rate": 3})) == ["body", "contract_max_bad_rate"]
    assert owner.patch(f"{furl}/00000000-0000-0000-0000-000000000000", json={}).status_code == 404


def test_delete_field_and_type_cascade(owner, screen_view):
    et = screen_view
    ev = add_event(owner, et, "home", field_values=[{"field_name": "screen_name", "value": "home"},
                                                    {"field_name": "platform", "value": "web"}])
    platform = next(f for f in et["field_definitions"] if f["name"] == "platform")
    r = owner.delete(f"{BASE}/event-types/{et['id']}/fields/{platform['id']}")
    assert r.status_code == 204
    vals = owner.get(f"{BASE}/events/{ev['id']}").json()["field_values"]
    assert [v["field_name"] for v in vals] == ["screen_name"]
    assert owner.delete(f"{BASE}/event-types/{et['id']}").status_code == 204
    assert owner.get(f"{BASE}/events/{ev['id']}").status_code == 404
    assert owner.get(f"{BASE}/events").json()["total"] == 0


def test_owners(owner, editor, project):
    et = add_type(owner, "commerce")
    url = f"{BASE}/event-types/{et['id']}/owners"
    r = owner.post(url, json={"user_id": editor.user["id"]})
    assert r.status_code == 201, r.text
    row = r.json()
    assert row["user_email"] == editor.user["email"] and row["granted_by"] == owner.user["id"]
    assert owner.post(url, json={"user_id": editor.user["id"]}).status_code == 409
    assert loc(owner.post(url, json={"user_id": "00000000-0000-0000-0000-000000000000"})) == ["body", "user_id"]
    assert loc(owner.post(url, json={"user_id": "nope"})) == ["body", "user_id"]
    assert [o["user_id"] for o in owner.get(url).json()] == [editor.user["id"]]
    assert owner.delete(f"{url}/{row['id']}").status_code == 204
    assert owner.delete(f"{url}/{row['id']}").status_code == 404
    owner.post(url, json={"user_id": editor.user["id"]})
    assert owner.delete(f"{url}/{editor.user['id']}").status_code == 204  # by user id too
    assert owner.get(url).json() == []


def test_viewer_reads_editor_writes(owner, editor, viewer, project):
    et = add_type(owner, "commerce")
    assert viewer.get(f"{BASE}/event-types").status_code == 200
    assert viewer.post(f"{BASE}/event-types", json={"name": "x", "display_name": "X"}).status_code == 403
    assert viewer.patch(f"{BASE}/event-types/{et['id']}", json={"order": 1}).status_code == 403
    assert viewer.post(f"{BASE}/meta-fields", json={"name": "m", "display_name": "M",
                                                    "field_type": "string"}).status_code == 403
    assert viewer.post(f"{BASE}/events", json={"event_type_id": et["id"], "name": "x"}).status_code == 403
    assert editor.post(f"{BASE}/event-types", json={"name": "x", "display_name": "X"}).status_code == 201
    assert editor.post(f"{BASE}/events", json={"event_type_id": et["id"], "name": "x"}).status_code == 201


def test_summary_counts(owner, screen_view):
    add_event(owner, screen_view, "a", status="live", field_values=[{"field_name": "screen_name", "value": "a"}])
    add_event(owner, screen_view, "b", field_values=[{"field_name": "screen_name", "value": "b"}])
    s = owner.get(BASE).json()["summary"]
    assert s["event_types"] == 1 and s["fields"] == 4 and s["events"] == 2
    assert s["events_by_status"] == {"live": 1, "draft": 1} and s["open_drifts"] == 0
    listed = owner.get("/api/v1/projects").json()
    assert listed[0]["summary"]["events"] == 2


def test_audit_entries_for_plan_mutations(owner, screen_view):
    add_event(owner, screen_view, "a", field_values=[{"field_name": "screen_name", "value": "a"}])
    actions = {e["action"] for e in owner.get("/api/v1/audit", params={"project_slug": "shop-app"}).json()["items"]}
    assert {"event_type.create", "field.create", "event.create"} <= actions


def test_hostile_contracts_are_422(owner, project):
    et = add_type(owner, "commerce")
    url = f"{BASE}/event-types/{et['id']}/fields"
    for regex in ("a{99999999999}", "(" * 2000 + ")" * 2000):
        r = owner.post(url, json={"name": "s", "display_name": "S", "field_type": "string", "contract_regex": regex})
        assert loc(r) == ["body", "contract_regex"]
    r = owner.post(url, content='{"name": "n", "display_name": "N", "field_type": "number", '
                                '"contract_min_value": NaN}', headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = owner.post(url, json={"name": "n", "display_name": "N", "field_type": "number", "order": 2**31})
    assert loc(r) == ["body", "order"]
