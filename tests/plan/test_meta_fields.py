"""Meta fields: types, options, defaults, link templates, uniqueness, and values on events."""

from __future__ import annotations

from tests.plan.conftest import BASE, add_event, add_type, loc

URL = f"{BASE}/meta-fields"


def test_meta_field_validation(owner, project):
    base = {"name": "jira", "display_name": "Jira", "field_type": "string"}
    cases = [
        ({"field_type": "number"}, "field_type"),
        ({"name": ""}, "name"),
        ({"display_name": "x" * 256}, "display_name"),
        ({"field_type": "enum"}, "enum_options"),
        ({"enum_options": ["a"]}, "enum_options"),
        ({"field_type": "date", "default_value": "yesterday"}, "default_value"),
        ({"field_type": "boolean", "default_value": "maybe"}, "default_value"),
        ({"field_type": "enum", "enum_options": ["a"], "default_value": "b"}, "default_value"),
        ({"field_type": "url", "default_value": "not a url"}, "default_value"),
        ({"link_template": "https://jira.example.com/browse/"}, "link_template"),
        ({"link_template": "https://x/{value}/{other}"}, "link_template"),
        ({"link_template": "ftp://x/{value}"}, "link_template"),
        ({"sensitivity": "nope"}, "sensitivity"),
    ]
    for extra, field in cases:
        r = owner.post(URL, json={**base, **extra})
        assert r.status_code == 422, (extra, r.text)
        assert field in r.json()["detail"][0]["loc"], (extra, r.json())
    r = owner.post(URL, json={**base, "link_template": "https://jira.example.com/browse/{value}"})
    assert r.status_code == 201, r.text
    assert r.json()["is_required"] is False and r.json()["sensitivity"] == "none" and r.json()["order"] == 0
    assert owner.post(URL, json=base).status_code == 409


def test_meta_values_on_events(owner, project):
    et = add_type(owner, "lifecycle")
    jira = owner.post(URL, json={"name": "jira", "display_name": "Jira", "field_type": "string",
                                 "link_template": "https://jira.example.com/browse/{value}"}).json()
    owner.post(URL, json={"name": "team", "display_name": "Team", "field_type": "enum",
                          "enum_options": ["growth", "core"], "default_value": "core", "order": 1})
    owner.post(URL, json={"name": "launch", "display_name": "Launch", "field_type": "date", "order": 2})
    owner.post(URL, json={"name": "web_only", "display_name": "Web only", "field_type": "boolean", "order": 3})
    ev = add_event(owner, et, "app_open", meta_values=[
        {"meta_field_definition_id": jira["id"], "value": "APP-12 3"},
        {"meta_field_name": "launch", "value": "2026-01-31"},
        {"meta_field_name": "web_only", "value": True},
    ])
    vals = {m["meta_field_name"]: m for m in ev["meta_values"]}
    assert vals["jira"]["link"] == "https://jira.example.com/browse/APP-12%203"
    assert vals["team"]["value"] == "core"  # default applied
    assert vals["web_only"]["value"] == "true" and vals["launch"]["link"] is None
    ev_url = f"{BASE}/events"
    bad = [
        ([{"meta_field_name": "team", "value": "sales"}], ["body", "meta_values", 0, "value"]),
        ([{"meta_field_name": "launch", "value": "31/01/2026"}], ["body", "meta_values", 0, "value"]),
        ([{"meta_field_name": "web_only", "value": "perhaps"}], ["body", "meta_values", 0, "value"]),
        ([{"meta_field_name": "nope", "value": "x"}], ["body", "meta_values", 0, "meta_field_name"]),
        ([{"value": "x"}], ["body", "meta_values", 0, "meta_field_definition_id"]),
        ([{"meta_field_name": "jira", "value": "a"}, {"meta_field_name": "jira", "value": "b"}],
         ["body", "meta_values", 1]),
    ]
    for values, expected in bad:
        r = owner.post(ev_url, json={"event_type_id": et["id"], "name": "x", "meta_values": values})
        assert loc(r) == expected, (values, r.text)
    # A required meta field without default must be given.
    owner.post(URL, json={"name": "owner_team", "display_name": "Owner", "field_type": "string",
                          "is_required": True})
    r = owner.post(ev_url, json={"event_type_id": et["id"], "name": "y"})
    assert loc(r) == ["body", "meta_values"] and "owner_team" in r.json()["detail"][0]["msg"]


def test_meta_field_update_and_delete(owner, project):
    et = add_type(owner, "lifecycle")
    team = owner.post(URL, json={"name": "team", "display_name": "Team", "field_type": "enum",
                                 "enum_options": ["growth", "core"]}).json()
    add_event(owner, et, "a", meta_values=[{"meta_field_name": "team", "value": "growth"}])
    r = owner.patch(f"{URL}/{team['id']}", json={"enum_options": ["core"]})
    assert r.status_code == 409 and "'a'" in r.json()["detail"]
    r = owner.patch(f"{URL}/{team['id']}", json={"field_type": "string", "display_name": "Squad"})
    assert r.status_code == 200 and r.json()["enum_options"] is None and r.json()["display_name"] == "Squad"
    assert loc(owner.patch(f"{URL}/{team['id']}", json={"link_template": "x"})) == ["body", "link_template"]
    assert owner.delete(f"{URL}/{team['id']}").status_code == 204
    assert owner.get(URL).json() == []
    assert owner.get(f"{BASE}/events").json()["items"][0]["meta_values"] == []
