from __future__ import annotations


def test_demo_project_has_variables_and_relations(owner):
    r = owner.post("/api/v1/projects/demo")
    assert r.status_code == 201, r.text
    slug = r.json()["slug"]
    names = {v["name"] for v in owner.get(f"/api/v1/projects/{slug}/variables").json()}
    assert {"screen_name", "element", "action", "error_domain", "error_code"} <= names
    rels = owner.get(f"/api/v1/projects/{slug}/relations").json()
    pairs = {(x["source_event_type_name"], x["source_field_name"], x["target_event_type_name"],
              x["target_field_name"]) for x in rels}
    assert ("ui_interaction", "screen_name", "screen_view", "screen_name") in pairs
    assert len(rels) >= 3
    # a second demo gets its own copies
    again = owner.post("/api/v1/projects/demo").json()["slug"]
    assert again != slug
    assert len(owner.get(f"/api/v1/projects/{again}/variables").json()) == len(names)
