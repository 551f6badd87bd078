from __future__ import annotations

import pytest

from tests.plan_extras.conftest import add_branch, add_event, loc
from tripl_core.db.models.plan import BranchStatus
from tripl_core.db.models.plan_extras import Variable, VariableValue

URL = "/api/v1/projects/shop-app/variables"


def test_create_defaults_and_list(owner, plan):
    r = owner.post(URL, json={"name": "screen"})
    assert r.status_code == 201, r.text
    v = r.json()
    assert v["name"] == "screen" and v["source_name"] == "screen"
    assert v["variable_type"] == "string" and v["description"] == ""
    assert v["project_id"] == str(plan.project_id) and v["branch_id"] == str(plan.branch.id)
    assert (v["event_count"], v["context_count"], v["low_context_count"], v["high_context_count"]) == (0, 0, 0, 0)
    assert v["sample_values"] == []
    owner.post(URL, json={"name": "amount", "variable_type": "number", "description": "Price"})
    names = [x["name"] for x in owner.get(URL).json()]
    assert names == ["amount", "screen"]


@pytest.mark.parametrize("name", ["Screen", "1screen", "screen-name", "_screen", "", "a" * 101, "scr een"])
def test_name_rules(owner, plan, name):
    assert loc(owner.post(URL, json={"name": name})) == ["body", "name"]


def test_variable_type_enum(owner, plan):
    assert loc(owner.post(URL, json={"name": "x", "variable_type": "text"})) == ["body", "variable_type"]
    for t in ["string", "number", "boolean", "date", "datetime", "json", "string_array", "number_array"]:
        assert owner.post(URL, json={"name": f"v_{t}", "variable_type": t}).status_code == 201


def test_duplicate_name_409(owner, plan):
    assert owner.post(URL, json={"name": "screen"}).status_code == 201
    assert owner.post(URL, json={"name": "screen"}).status_code == 409


def test_update_rename_type_and_conflicts(owner, plan):
    a = owner.post(URL, json={"name": "screen"}).json()
    owner.post(URL, json={"name": "page"})
    r = owner.patch(f"{URL}/{a['id']}", json={"name": "screen_name", "variable_type": "json"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "screen_name" and r.json()["source_name"] == "screen_name"
    assert r.json()["variable_type"] == "json"
    assert owner.patch(f"{URL}/{a['id']}", json={"name": "page"}).status_code == 409
    assert loc(owner.patch(f"{URL}/{a['id']}", json={"name": "Bad"})) == ["body", "name"]
    assert loc(owner.patch(f"{URL}/{a['id']}", json={"variable_type": "nope"})) == ["body", "variable_type"]
    # null means "leave as is"
    r = owner.patch(f"{URL}/{a['id']}", json={"name": None, "description": "Screen shown"})
    assert r.json()["name"] == "screen_name" and r.json()["description"] == "Screen shown"


def test_delete_and_404(owner, plan):
    a = owner.post(URL, json={"name": "screen"}).json()
    assert owner.delete(f"{URL}/{a['id']}").status_code == 204
    assert owner.delete(f"{URL}/{a['id']}").status_code == 404
    assert owner.patch(f"{URL}/{a['id']}", json={"description": "x"}).status_code == 404
    assert owner.get(f"{URL}/{a['id']}/values").status_code == 404
    assert owner.get(f"{URL}/not-a-uuid/values").status_code == 422


def test_roles(owner, viewer, editor, plan):
    assert viewer.post(URL, json={"name": "screen"}).status_code == 403
    assert editor.post(URL, json={"name": "screen"}).status_code == 201
    assert viewer.get(URL).status_code == 200


def test_event_count_from_plan(owner, db, plan):
    screen_name = plan.fields["screen.screen_name"]
    add_event(db, plan.screen, "{screen}_viewed")
    add_event(db, plan.screen, "button_tapped", {screen_name: "{screen}"})
    add_event(db, plan.screen, "{screen}_closed", {screen_name: "on {screen} / {tab}"})  # counted once
    add_event(db, plan.screen, "unrelated", {screen_name: "{screens}"})
    add_event(db, plan.order, "order_{tab}")
    owner.post(URL, json={"name": "screen"})
    owner.post(URL, json={"name": "tab"})
    owner.post(URL, json={"name": "unused"})
    counts = {v["name"]: v["event_count"] for v in owner.get(URL).json()}
    assert counts == {"screen": 3, "tab": 2, "unused": 0}


def test_scan_counts_and_values(owner, db, plan):
    v = owner.post(URL, json={"name": "screen"}).json()
    occurrences = {"home": 5000, "cart": 1200, "search": 300, "typo_hme": 3, "debug": 1}
    for value, n in occurrences.items():
        db.add(VariableValue(variable_id=v["id"], project_id=plan.project_id, value=value, occurrences=n,
                             event_count=2))
    db.commit()
    got = owner.get(URL).json()[0]
    assert got["context_count"] == 5
    assert got["low_context_count"] == 2  # < 10 occurrences
    assert got["high_context_count"] == 2  # >= 1000 occurrences
    assert got["sample_values"] == ["home", "cart", "search", "typo_hme", "debug"]
    values = owner.get(f"{URL}/{v['id']}/values").json()
    assert [x["value"] for x in values] == ["home", "cart", "search", "typo_hme", "debug"]
    assert values[0]["occurrences"] == 5000 and values[0]["event_count"] == 2
    assert [x["value"] for x in owner.get(f"{URL}/{v['id']}/values?limit=2&offset=1").json()] == ["cart", "search"]
    assert loc(owner.get(f"{URL}/{v['id']}/values?limit=0")) == ["query", "limit"]


def test_values_are_not_cut_at_100(owner, db, plan):
    """The reference's List Variable Values has no page size: all observed values come back by default."""
    v = owner.post(URL, json={"name": "screen"}).json()
    db.add_all([VariableValue(variable_id=v["id"], project_id=plan.project_id, value=f"s{i:03d}", occurrences=1,
                              event_count=1) for i in range(150)])
    db.commit()
    assert len(owner.get(f"{URL}/{v['id']}/values").json()) == 150


def test_branch_isolation(owner, db, plan):
    branch = add_branch(db, plan.project_id)
    on_branch = owner.post(f"{URL}?branch_id={branch.id}", json={"name": "screen"})
    assert on_branch.status_code == 201, on_branch.text
    assert on_branch.json()["branch_id"] == str(branch.id)
    assert owner.get(URL).json() == []  # main untouched
    assert [v["name"] for v in owner.get(f"{URL}?branch_id={branch.id}").json()] == ["screen"]
    # same name on main is fine: uniqueness is per branch
    main_var = owner.post(URL, json={"name": "screen"}).json()
    # a branch's id is invisible from main and vice versa
    assert owner.patch(f"{URL}/{on_branch.json()['id']}", json={"description": "x"}).status_code == 404
    assert owner.delete(f"{URL}/{main_var['id']}?branch_id={branch.id}").status_code == 404
    assert db.query(Variable).count() == 2


def test_branch_copy_reports_origin_scan_values(owner, db, plan):
    main_var = owner.post(URL, json={"name": "screen"}).json()
    db.add(VariableValue(variable_id=main_var["id"], project_id=plan.project_id, value="home", occurrences=50))
    branch = add_branch(db, plan.project_id)
    db.add(Variable(project_id=plan.project_id, branch_id=branch.id, origin_id=main_var["id"], name="screen",
                    source_name="screen"))
    db.commit()
    copy = owner.get(f"{URL}?branch_id={branch.id}").json()[0]
    assert copy["id"] != main_var["id"] and copy["sample_values"] == ["home"]
    assert [x["value"] for x in owner.get(f"{URL}/{copy['id']}/values?branch_id={branch.id}").json()] == ["home"]


def test_closed_and_unknown_branches(owner, db, plan):
    merged = add_branch(db, plan.project_id, "done", BranchStatus.merged)
    assert owner.post(f"{URL}?branch_id={merged.id}", json={"name": "screen"}).status_code == 409
    assert owner.get(f"{URL}?branch_id={merged.id}").status_code == 200  # reads still work
    assert owner.get(f"{URL}?branch_id=00000000-0000-0000-0000-000000000000").status_code == 404


def test_audit_entries(owner, plan):
    v = owner.post(URL, json={"name": "screen"}).json()
    owner.patch(f"{URL}/{v['id']}", json={"description": "d"})
    owner.delete(f"{URL}/{v['id']}")
    actions = [e["action"] for e in owner.get("/api/v1/audit?action=variable").json()["items"]]
    assert sorted(actions) == ["variable.create", "variable.delete", "variable.update"]
