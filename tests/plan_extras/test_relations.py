from __future__ import annotations

import uuid

from tests.plan_extras.conftest import add_branch, add_event_type, add_field, loc
from tripl_core.db.models.plan import FieldDefinition

URL = "/api/v1/projects/shop-app/relations"


def body(plan, **overrides) -> dict:
    b = {"source_event_type_id": str(plan.order.id), "source_field_id": str(plan.fields["order.cart_id"].id),
         "target_event_type_id": str(plan.screen.id), "target_field_id": str(plan.fields["screen.cart_id"].id)}
    b.update(overrides)
    return b


def test_create_defaults_and_list_with_names(owner, plan):
    r = owner.post(URL, json=body(plan))
    assert r.status_code == 201, r.text
    rel = r.json()
    assert rel["relation_type"] == "belongs_to" and rel["description"] == ""
    assert rel["project_id"] == str(plan.project_id)
    assert (rel["source_event_type_name"], rel["source_field_name"]) == ("order", "cart_id")
    assert (rel["target_event_type_name"], rel["target_field_name"]) == ("screen", "cart_id")
    listed = owner.get(URL).json()
    assert [x["id"] for x in listed] == [rel["id"]]
    assert owner.get(f"{URL}?event_type_id={plan.screen.id}").json()[0]["id"] == rel["id"]
    other = owner.get(f"{URL}?event_type_id={uuid.uuid4()}").json()
    assert other == []


def test_field_must_belong_to_its_event_type(owner, plan):
    wrong_source = body(plan, source_field_id=str(plan.fields["screen.screen_name"].id))
    r = owner.post(URL, json=wrong_source)
    assert loc(r) == ["body", "source_field_id"]
    assert "does not belong" in r.json()["detail"][0]["msg"]
    wrong_target = body(plan, target_field_id=str(plan.fields["order.order_id"].id))
    assert loc(owner.post(URL, json=wrong_target)) == ["body", "target_field_id"]


def test_unknown_ids_name_the_field(owner, plan):
    assert loc(owner.post(URL, json=body(plan, source_event_type_id=str(uuid.uuid4())))) == \
        ["body", "source_event_type_id"]
    assert loc(owner.post(URL, json=body(plan, target_event_type_id=str(uuid.uuid4())))) == \
        ["body", "target_event_type_id"]
    assert loc(owner.post(URL, json=body(plan, source_field_id=str(uuid.uuid4())))) == ["body", "source_field_id"]
    assert loc(owner.post(URL, json=body(plan, target_field_id="nope"))) == ["body", "target_field_id"]
    b = body(plan)
    del b["source_field_id"]
    assert loc(owner.post(URL, json=b)) == ["body", "source_field_id"]


def test_self_relation_and_relation_type(owner, plan):
    same = body(plan, target_event_type_id=str(plan.order.id), target_field_id=str(plan.fields["order.cart_id"].id))
    assert loc(owner.post(URL, json=same)) == ["body", "target_field_id"]
    assert loc(owner.post(URL, json=body(plan, relation_type="x" * 51))) == ["body", "relation_type"]
    r = owner.post(URL, json=body(plan, relation_type="has_many", description="carts have orders"))
    assert r.status_code == 201 and r.json()["relation_type"] == "has_many"


def test_relation_type_is_free_text_as_in_the_reference(owner, plan):
    """The reference's relation_type is a plain string (no pattern): "Has Many" was a 422 before."""
    r = owner.post(URL, json=body(plan, relation_type="Has Many <b>"))
    assert r.status_code == 201, r.text
    assert r.json()["relation_type"] == "Has Many <b>"


def test_duplicate_409(owner, plan):
    assert owner.post(URL, json=body(plan)).status_code == 201
    assert owner.post(URL, json=body(plan, relation_type="references")).status_code == 409
    # the reverse direction is a different relation
    reverse = {"source_event_type_id": str(plan.screen.id), "source_field_id": str(plan.fields["screen.cart_id"].id),
               "target_event_type_id": str(plan.order.id), "target_field_id": str(plan.fields["order.cart_id"].id)}
    assert owner.post(URL, json=reverse).status_code == 201


def test_delete_roles_and_cascade(owner, editor, viewer, db, plan):
    assert viewer.post(URL, json=body(plan)).status_code == 403
    rel = editor.post(URL, json=body(plan)).json()
    assert viewer.get(URL).status_code == 200
    assert viewer.delete(f"{URL}/{rel['id']}").status_code == 403
    assert editor.delete(f"{URL}/{rel['id']}").status_code == 204
    assert editor.delete(f"{URL}/{rel['id']}").status_code == 404
    owner.post(URL, json=body(plan))
    db.delete(db.get(FieldDefinition, plan.fields["order.cart_id"].id))  # deleting a field drops its relations
    db.commit()
    assert owner.get(URL).json() == []


def test_branch_scoped(owner, db, plan):
    branch = add_branch(db, plan.project_id)
    # main's fields are not part of the branch
    assert loc(owner.post(f"{URL}?branch_id={branch.id}", json=body(plan))) == ["body", "source_event_type_id"]
    a, b = add_event_type(db, branch, "cart"), add_event_type(db, branch, "checkout")
    fa, fb = add_field(db, a, "cart_id"), add_field(db, b, "cart_id")
    db.commit()
    r = owner.post(f"{URL}?branch_id={branch.id}", json={
        "source_event_type_id": str(b.id), "source_field_id": str(fb.id),
        "target_event_type_id": str(a.id), "target_field_id": str(fa.id)})
    assert r.status_code == 201, r.text
    assert owner.get(URL).json() == []
    assert len(owner.get(f"{URL}?branch_id={branch.id}").json()) == 1
    assert owner.delete(f"{URL}/{r.json()['id']}").status_code == 404  # not on main
    assert owner.delete(f"{URL}/{r.json()['id']}?branch_id={branch.id}").status_code == 204
