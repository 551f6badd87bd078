"""Create Demo Project: a realistic plan, repeatable with new slugs, consistent with the docs."""

from __future__ import annotations

from tripl_core.demo import plan_data


def test_create_demo_project_twice(owner, viewer):
    r = owner.post("/api/v1/projects/demo")
    assert r.status_code == 201, r.text
    demo = r.json()
    assert demo["slug"] == "demo"
    s = demo["summary"]
    assert s["event_types"] >= 5 and s["events"] >= 40 and len(s["events_by_status"]) >= 5
    assert s["fields"] == sum(len(t["field_definitions"]) for t in plan_data.EVENT_TYPES)
    base = "/api/v1/projects/demo"
    types = {t["name"]: t for t in owner.get(f"{base}/event-types").json()}
    assert {"screen_view", "ui_interaction", "commerce", "lifecycle", "error"} <= set(types)
    contracts = [f for t in types.values() for f in t["field_definitions"]
                 if f["contract_regex"] or f["contract_min_value"] is not None]
    assert len(contracts) >= 5
    assert owner.get(f"{base}/meta-fields").json()
    assert len(owner.get(f"{base}/events/tags").json()) >= 5
    assert len(owner.get(f"{base}/event-types/{types['commerce']['id']}/owners").json()) == 1
    cart = owner.get(f"{base}/events", params={"search": "checkout_payment",
                                               "event_type_id": types["screen_view"]["id"]}).json()["items"][0]
    jira = next(m for m in cart["meta_values"] if m["meta_field_name"] == "jira")
    assert jira["link"] == "https://jira.example.com/browse/SHOP-412"
    # Every event carries the properties its event type's name format is built from.
    for ev in owner.get(f"{base}/events", params={"limit": 1000}).json()["items"]:
        spec = next(t for t in plan_data.EVENT_TYPES if t["name"] == ev["event_type"]["name"])
        values = {v["field_name"]: v["value"] for v in ev["field_values"]}
        assert spec["name_format"].format(**values) == ev["name"]
    again = owner.post("/api/v1/projects/demo")
    assert again.status_code == 201 and again.json()["slug"] == "demo-2"
    assert viewer.post("/api/v1/projects/demo").status_code == 403
