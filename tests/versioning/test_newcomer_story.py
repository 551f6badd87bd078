"""The issue's story, only through the HTTP API: branch the plan, rename an event and change a field, see the
diff, get it approved by another user, hit and resolve a conflict with a change made on main, merge, and find a
new revision whose diff shows exactly those changes."""

from __future__ import annotations

from tests.conftest import user_client

P = "/api/v1/projects/shop-app"


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def test_newcomer_story(app, owner, project):
    author = user_client(app, owner, "editor")
    # the plan on main
    et = ok(owner.post(f"{P}/event-types", json={
        "name": "screen", "display_name": "Screen",
        "field_definitions": [{"name": "screen_name", "display_name": "Screen name", "field_type": "string"}]}), 201)
    field_id = et["field_definitions"][0]["id"]
    event = ok(owner.post(f"{P}/events", json={"event_type_id": et["id"], "name": "page_view",
                                                "description": "A page is shown"}), 201)

    # 1. branch it, and edit on the branch
    branch = ok(author.post(f"{P}/branches", json={"name": "naming-cleanup", "description": "Use *_viewed"}), 201)
    q = {"branch_id": branch["id"]}
    [b_event] = ok(author.get(f"{P}/events", params=q))["items"]
    assert b_event["id"] != event["id"] and b_event["name"] == "page_view"
    ok(author.patch(f"{P}/events/{b_event['id']}", params=q, json={"name": "page_viewed"}))
    b_field = ok(author.get(f"{P}/event-types/{b_event['event_type_id']}/fields", params=q))[0]
    ok(author.patch(f"{P}/event-types/{b_event['event_type_id']}/fields/{b_field['id']}", params=q,
                    json={"description": "Route name of the screen", "is_required": True}))
    # main does not see it
    assert ok(owner.get(f"{P}/events/{event['id']}"))["name"] == "page_view"

    # 2. the diff
    diff = ok(author.get(f"{P}/branches/{branch['id']}/diff"))
    changes = {(e["entity_type"], e["entity_name"], e["field"], e["old_value"], e["new_value"])
               for e in diff["entries"]}
    expected = {("event", "screen / page_view", "name", "page_view", "page_viewed"),
                ("field", "screen / screen_name", "description", "", "Route name of the screen"),
                ("field", "screen / screen_name", "is_required", False, True)}
    assert changes == expected
    assert diff["summary"]["changed"] == 2 and diff["behind_base"] is False

    # 3. review: another user approves
    ok(author.post(f"{P}/branches/{branch['id']}/reviewers", json={"user_id": owner.user["id"]}), 201)
    ok(author.post(f"{P}/branches/{branch['id']}/transition", json={"action": "submit"}))
    ok(owner.post(f"{P}/branches/{branch['id']}/comments", json={"body": "Looks good"}), 201)
    assert ok(owner.post(f"{P}/branches/{branch['id']}/transition", json={"action": "approve"}))["status"] == \
        "approved"

    # 4. meanwhile main changes the same field differently: a conflict
    ok(owner.patch(f"{P}/event-types/{et['id']}/fields/{field_id}", json={"description": "Screen title"}))
    assert ok(author.get(f"{P}/branches/{branch['id']}/diff"))["behind_base"] is True
    conflicts = ok(author.get(f"{P}/branches/{branch['id']}/conflicts"))
    assert conflicts["unresolved_count"] == 1
    [c] = conflicts["entities"]
    assert (c["entity_type"], c["entity_name"], c["field_name"], c["base"], c["ours"], c["theirs"]) == (
        "field", "screen / screen_name", "description", "", "Route name of the screen", "Screen title")
    assert author.post(f"{P}/branches/{branch['id']}/merge").status_code == 409
    ok(author.post(f"{P}/branches/{branch['id']}/resolutions", json={
        "entity_type": "field", "entity_name": "screen / screen_name", "field_name": "description",
        "choice": "ours"}), 201)
    assert ok(author.get(f"{P}/branches/{branch['id']}/conflicts"))["unresolved_count"] == 0

    # 5. merge
    merged = ok(author.post(f"{P}/branches/{branch['id']}/merge"))
    assert merged["status"] == "merged" and merged["merged_by"] == author.user["id"]
    assert ok(owner.get(f"{P}/events/{event['id']}"))["name"] == "page_viewed"  # main's id kept
    main_field = ok(owner.get(f"{P}/event-types/{et['id']}/fields"))[0]
    assert (main_field["id"], main_field["description"], main_field["is_required"]) == (
        field_id, "Route name of the screen", True)

    # 6. the new revision's diff against the revision before it shows exactly those changes
    revs = ok(owner.get(f"{P}/revisions"))["items"]
    assert revs[0]["summary"].startswith("Merge branch 'naming-cleanup'")
    assert revs[1]["summary"] == "Plan before merging branch 'naming-cleanup'"  # main's own edit
    assert revs[2]["id"] == branch["base_revision_id"]
    rdiff = ok(owner.get(f"{P}/revisions/{revs[0]['id']}/diff", params={"compare_to": revs[1]["id"]}))
    got = {(e["entity_type"], e["entity_name"], e["field"], e["old_value"], e["new_value"])
           for e in rdiff["entries"]}
    assert got == {("event", "screen / page_view", "name", "page_view", "page_viewed"),
                   ("field", "screen / screen_name", "description", "Screen title", "Route name of the screen"),
                   ("field", "screen / screen_name", "is_required", False, True)}
    # and against the branch's base: exactly the branch's diff
    base_diff = ok(owner.get(f"{P}/revisions/{revs[0]['id']}/diff",
                             params={"compare_to": branch["base_revision_id"]}))
    assert {(e["entity_type"], e["entity_name"], e["field"], e["old_value"], e["new_value"])
            for e in base_diff["entries"]} == expected


def test_branching_the_demo_plan_copies_it_exactly(app, owner):
    demo = ok(owner.post("/api/v1/projects/demo"), 201)
    D = f"/api/v1/projects/{demo['slug']}"
    branch = ok(owner.post(f"{D}/branches", json={"name": "try-things"}), 201)
    base = ok(owner.get(f"{D}/revisions/{branch['base_revision_id']}"))
    assert base["entity_counts"].get("event", 0) > 0
    # every entity of every plan table is copied: the branch's diff against its base is empty
    diff = ok(owner.get(f"{D}/branches/{branch['id']}/diff"))
    assert diff["entries"] == [] and diff["behind_base"] is False
    assert ok(owner.get(f"{D}/branches/{branch['id']}/conflicts")) == {"entities": [], "unresolved_count": 0}
    main_events = ok(owner.get(f"{D}/events", params={"limit": 10000}))
    branch_events = ok(owner.get(f"{D}/events", params={"limit": 10000, "branch_id": branch["id"]}))
    assert main_events["total"] == branch_events["total"] == base["entity_counts"]["event"]
    assert {e["name"] for e in main_events["items"]} == {e["name"] for e in branch_events["items"]}
    assert not {e["id"] for e in main_events["items"]} & {e["id"] for e in branch_events["items"]}
