from __future__ import annotations

from tests.plan_extras.conftest import add_branch, png_bytes


def test_project_summary_counts_main_only(owner, db, plan, event):
    owner.post("/api/v1/projects/shop-app/variables", json={"name": "screen"})
    branch = add_branch(db, plan.project_id)
    owner.post(f"/api/v1/projects/shop-app/variables?branch_id={branch.id}", json={"name": "tab"})
    owner.post("/api/v1/projects/shop-app/relations", json={
        "source_event_type_id": str(plan.order.id), "source_field_id": str(plan.fields["order.cart_id"].id),
        "target_event_type_id": str(plan.screen.id), "target_field_id": str(plan.fields["screen.cart_id"].id)})
    owner.post(f"/api/v1/projects/shop-app/events/{event.id}/photos",
               files={"file": ("a.png", png_bytes(), "image/png")})
    summary = owner.get("/api/v1/projects/shop-app").json()["summary"]
    assert (summary["variables"], summary["relations"], summary["photos"]) == (1, 1, 1)
    listed = owner.get("/api/v1/projects").json()[0]["summary"]
    assert listed["variables"] == 1
