"""Variables and relations travel with branches (copied on Create Branch, FKs mapped to the copies)."""

from __future__ import annotations

P = "/api/v1/projects/shop-app"


def test_create_branch_copies_variables_and_relations(owner, plan):
    var = owner.post(f"{P}/variables", json={"name": "screen", "variable_type": "string"}).json()
    rel = owner.post(f"{P}/relations", json={
        "source_event_type_id": str(plan.order.id), "source_field_id": str(plan.fields["order.cart_id"].id),
        "target_event_type_id": str(plan.screen.id), "target_field_id": str(plan.fields["screen.cart_id"].id),
    }).json()
    r = owner.post(f"{P}/branches", json={"name": "rename-things"})
    assert r.status_code == 201, r.text
    bid = r.json()["id"]
    copies = owner.get(f"{P}/variables?branch_id={bid}").json()
    assert [v["name"] for v in copies] == ["screen"] and copies[0]["id"] != var["id"]
    rel_copy = owner.get(f"{P}/relations?branch_id={bid}").json()
    assert len(rel_copy) == 1 and rel_copy[0]["id"] != rel["id"]
    assert rel_copy[0]["source_field_id"] != rel["source_field_id"]  # points at the branch's own field copy
    assert (rel_copy[0]["source_event_type_name"], rel_copy[0]["target_field_name"]) == ("order", "cart_id")
    # editing the copy leaves main alone
    owner.patch(f"{P}/variables/{copies[0]['id']}?branch_id={bid}", json={"name": "screen_name"})
    assert [v["name"] for v in owner.get(f"{P}/variables").json()] == ["screen"]
