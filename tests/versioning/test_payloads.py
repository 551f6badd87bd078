"""Pure tests of the payload format, the diff and the three-way merge (no database)."""

from __future__ import annotations

import uuid

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table
from sqlalchemy.dialects.postgresql import UUID

from tripl_core.plan.diff import diff_payloads, same_plan
from tripl_core.plan.merge import ENTITY_FIELD, OURS, THEIRS, three_way
from tripl_core.plan.snapshot import build_payload, entity_counts, plan_specs


def _meta() -> MetaData:
    md = MetaData()
    Table("plan_branches", md, Column("id", UUID, primary_key=True))
    Table("users", md, Column("id", UUID, primary_key=True))
    Table("event_types", md, Column("id", UUID, primary_key=True),
          Column("branch_id", UUID, ForeignKey("plan_branches.id")), Column("origin_id", UUID),
          Column("name", String), Column("order", Integer), Column("created_at", String))
    Table("events", md, Column("id", UUID, primary_key=True),
          Column("branch_id", UUID, ForeignKey("plan_branches.id")), Column("origin_id", UUID),
          Column("event_type_id", UUID, ForeignKey("event_types.id")), Column("name", String),
          Column("description", String))
    Table("event_type_owners", md, Column("id", UUID, primary_key=True),
          Column("branch_id", UUID, ForeignKey("plan_branches.id")), Column("origin_id", UUID),
          Column("event_type_id", UUID, ForeignKey("event_types.id")),
          Column("user_id", UUID, ForeignKey("users.id")))
    return md


def ids(n: int) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(n)]


def test_payload_maps_branch_rows_to_main_ids_and_names_entities():
    specs = plan_specs(_meta())
    assert {s.entity_type for s in specs} == {"event_type", "event", "owner"}
    et_main, et_branch, ev_branch, new_ev, owner, user = ids(6)
    rows = {
        "event_types": [{"id": et_branch, "origin_id": et_main, "branch_id": uuid.uuid4(), "name": "screen",
                         "order": 0, "created_at": "x"}],
        "events": [
            {"id": new_ev, "origin_id": None, "event_type_id": et_branch, "name": "b_view", "description": ""},
            {"id": ev_branch, "origin_id": uuid.uuid4(), "event_type_id": et_branch, "name": "a_view",
             "description": "d"},
        ],
        "event_type_owners": [{"id": owner, "origin_id": None, "event_type_id": et_branch, "user_id": user}],
    }
    payload = build_payload(specs, rows, {user: "ann@example.com"})
    et = payload["entities"]["event_type"][0]
    assert et == {"id": str(et_main), "_name": "screen", "name": "screen", "order": 0, "_row_id": str(et_branch)}
    events = payload["entities"]["event"]
    assert [e["name"] for e in events] == ["a_view", "b_view"]  # stable order: by name within the type
    assert all(e["event_type_id"] == str(et_main) for e in events)  # FKs mapped to main's ids
    assert events[0]["_name"] == "screen / a_view"
    assert "_row_id" not in events[1]  # created on the branch: its own id is its stable id
    assert payload["entities"]["owner"][0]["_name"] == "screen → ann@example.com"
    assert entity_counts(payload) == {"event_type": 1, "owner": 1, "event": 2}


def _p(**entities) -> dict:
    return {"format": 1, "entities": entities}


def _ev(eid: str, name: str, **kw) -> dict:
    return {"id": eid, "_name": f"t / {name}", "name": name, "description": "", **kw}


def test_diff_against_itself_is_empty_and_names_each_change():
    a = _p(event=[_ev("1", "open"), _ev("2", "close")])
    assert diff_payloads(a, a)["entries"] == [] and same_plan(a, a)
    b = _p(event=[_ev("1", "opened", description="x"), _ev("3", "new")])
    d = diff_payloads(a, b)
    got = {(e["change"], e["entity_id"], e["field"], str(e["old_value"]), str(e["new_value"])) for e in d["entries"]}
    assert got == {("changed", "1", "name", "open", "opened"), ("changed", "1", "description", "", "x"),
                   ("added", "3", None, "None", str({"name": "new", "description": ""})),
                   ("removed", "2", None, str({"name": "close", "description": ""}), "None")}
    s = d["summary"]
    assert (s["added"], s["removed"], s["changed"], s["field_changes"], s["total"]) == (1, 1, 1, 2, 4)
    assert s["by_entity_type"] == {"event": {"added": 1, "removed": 1, "changed": 1}}
    assert not same_plan(a, b)


def test_same_field_changed_differently_on_both_sides_is_a_conflict():
    base = _p(event=[_ev("1", "open")])
    ours = _p(event=[_ev("1", "opened")])
    theirs = _p(event=[_ev("1", "was_opened")])
    plan = three_way(base, ours, theirs)
    [c] = plan.unresolved
    assert (c.entity_type, c.entity_name, c.field, c.base, c.ours, c.theirs) == (
        "event", "t / open", "name", "open", "opened", "was_opened")
    assert three_way(base, ours, theirs, {c.key: OURS}).ops[0].fields == ("name",)
    resolved = three_way(base, ours, theirs, {c.key: THEIRS})
    assert resolved.unresolved == [] and resolved.ops == []


def test_change_on_one_side_only_or_same_on_both_is_no_conflict():
    base = _p(event=[_ev("1", "open")])
    ours = _p(event=[_ev("1", "opened")])
    theirs = _p(event=[_ev("1", "open", description="main")])
    plan = three_way(base, ours, theirs)
    assert plan.conflicts == []
    assert [(o.kind, o.main_id, o.fields) for o in plan.ops] == [("update", "1", ("name",))]
    same = three_way(base, ours, _p(event=[_ev("1", "opened")]))
    assert same.conflicts == [] and same.ops == []
    assert three_way(base, base, theirs).ops == []  # only main changed: nothing to apply


def test_delete_versus_edit_is_a_conflict_both_ways():
    base = _p(event=[_ev("1", "open")])
    edited = _p(event=[_ev("1", "open", description="new")])
    gone = _p(event=[])
    ours_deleted = three_way(base, gone, edited)
    [c] = ours_deleted.unresolved
    assert (c.field, c.ours, c.theirs["description"]) == (ENTITY_FIELD, None, "new")
    assert [o.kind for o in three_way(base, gone, edited, {c.key: OURS}).ops] == ["delete"]
    assert three_way(base, gone, edited, {c.key: THEIRS}).ops == []
    theirs_deleted = three_way(base, edited, gone)
    [c2] = theirs_deleted.unresolved
    assert (c2.field, c2.theirs, c2.ours["description"]) == (ENTITY_FIELD, None, "new")
    ops = three_way(base, edited, gone, {c2.key: OURS}).ops
    assert [(o.kind, o.main_id) for o in ops] == [("insert", "1")]  # re-created with main's old id
    # deleted on one side, untouched on the other: no conflict
    assert [o.kind for o in three_way(base, gone, base).ops] == ["delete"]
    assert three_way(base, base, gone).ops == [] and three_way(base, base, gone).conflicts == []


def test_added_on_branch_is_inserted_and_children_follow():
    base = _p(event_type=[{"id": "t", "_name": "t", "name": "t"}], event=[])
    ours = _p(event_type=[{"id": "t", "_name": "t", "name": "t", "_row_id": "bt"}],
              event=[_ev("n", "new", event_type_id="t")])
    plan = three_way(base, ours, base)
    [op] = plan.ops
    assert op.kind == "insert" and op.row_id == "n" and plan.id_map["n"] == op.main_id != "n"
    assert plan.id_map["bt"] == "t"


def test_added_on_both_sides_under_one_name_is_one_entity():
    base = _p(event=[])
    ours = _p(event=[_ev("o", "signup", description="ours")])
    theirs = _p(event=[_ev("m", "signup", description="theirs")])
    plan = three_way(base, ours, theirs)
    [c] = plan.unresolved
    assert (c.entity_id, c.field, c.base, c.ours, c.theirs) == ("m", "description", None, "ours", "theirs")
    assert plan.id_map["o"] == "m"
    ops = three_way(base, ours, theirs, {c.key: OURS}).ops
    assert [(o.kind, o.main_id, o.row_id, o.fields) for o in ops] == [("update", "m", "o", ("description",))]
    identical = three_way(base, _p(event=[_ev("o", "signup")]), _p(event=[_ev("m", "signup")]))
    assert identical.conflicts == [] and identical.ops == []


def test_adding_under_an_entity_main_deleted_is_a_conflict_on_that_entity():
    et = {"id": "t", "_name": "t", "name": "t"}
    base = _p(event_type=[et], event=[])
    ours = _p(event_type=[et], event=[_ev("n", "new", event_type_id="t")])
    theirs = _p(event_type=[], event=[])
    refs = {"event": ["event_type_id"]}
    [c] = three_way(base, ours, theirs, refs=refs).unresolved
    assert (c.entity_type, c.field, c.theirs) == ("event_type", ENTITY_FIELD, None)
    restored = three_way(base, ours, theirs, {c.key: OURS}, refs)
    assert [(o.kind, o.entity_type, o.main_id) for o in restored.ops][0] == ("insert", "event_type", "t")
    assert [o.entity_type for o in restored.ops] == ["event_type", "event"]
    dropped = three_way(base, ours, theirs, {c.key: THEIRS}, refs)
    assert dropped.ops == [] and dropped.unresolved == []

