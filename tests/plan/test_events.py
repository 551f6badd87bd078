"""Events: validation of every rule, filters, bulk atomicity, ordering and moves, history, no N+1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event as sa_event
from sqlalchemy import update

from tests.plan.conftest import BASE, add_event, add_type, loc

EV = f"{BASE}/events"


def sv(screen: str, **more) -> list[dict]:
    return [{"field_name": "screen_name", "value": screen}, *({"field_name": k, "value": v} for k, v in
                                                             more.items())]


def test_create_event_shape_and_defaults(owner, screen_view):
    ev = add_event(owner, screen_view, "Home", field_values=sv("home", platform="ios", load_ms=120,
                                                                is_logged_in=True),
                   tags=[" onboarding ", "core", "core"])
    assert ev["status"] == "draft" and ev["reviewed"] is False and ev["description"] == ""
    assert ev["event_type"]["name"] == "screen_view" and ev["drift_count"] == 0 and ev["last_seen_at"] is None
    assert ev["tags"] == ["core", "onboarding"] and ev["metric_breakdown_columns"] == []
    assert {v["field_name"]: v["value"] for v in ev["field_values"]} == {
        "screen_name": "home", "platform": "ios", "load_ms": "120", "is_logged_in": "true"}
    assert owner.get(f"{EV}/{ev['id']}").json() == ev


def test_event_validation_rules(owner, screen_view, editor):
    et = screen_view
    base = {"event_type_id": et["id"], "name": "x", "field_values": sv("x")}
    cases = [
        ({"name": ""}, ["body", "name"]),
        ({"name": "x" * 501}, ["body", "name"]),
        ({"name": "   "}, ["body", "name"]),
        ({"status": "shipped"}, ["body", "status"]),
        ({"event_type_id": "00000000-0000-0000-0000-000000000000"}, ["body", "event_type_id"]),
        ({"owner_id": "00000000-0000-0000-0000-000000000000"}, ["body", "owner_id"]),
        ({"sunset_at": "soon"}, ["body", "sunset_at"]),
        ({"tags": [""]}, ["body", "tags", 0]),
        ({"tags": ["x" * 101]}, ["body", "tags", 0]),
        ({"metric_breakdown_columns": [" "]}, ["body", "metric_breakdown_columns", 0]),
        ({"field_values": []}, ["body", "field_values"]),  # screen_name is required
        ({"field_values": sv("x", platform="tv")}, ["body", "field_values", 1, "value"]),
        ({"field_values": sv("x", load_ms="fast")}, ["body", "field_values", 1, "value"]),
        ({"field_values": sv("x", load_ms=True)}, ["body", "field_values", 1, "value"]),
        ({"field_values": sv("x", is_logged_in="yes")}, ["body", "field_values", 1, "value"]),
        ({"field_values": [{"field_name": "screen_name", "value": 5}]}, ["body", "field_values", 0, "value"]),
        ({"field_values": sv("x", nope="1")}, ["body", "field_values", 1, "field_name"]),
        ({"field_values": [*sv("x"), {"field_definition_id": "00000000-0000-0000-0000-000000000000",
                                      "value": "1"}]}, ["body", "field_values", 1, "field_definition_id"]),
        ({"field_values": [*sv("x"), *sv("y")]}, ["body", "field_values", 1]),
        ({"field_values": [{"field_name": "screen_name", "value": None}]}, ["body", "field_values", 0, "value"]),
    ]
    for extra, expected in cases:
        r = owner.post(EV, json={**base, **extra})
        assert loc(r) == expected, (extra, r.text)
    # {variable} placeholders are fine for string and number fields, not for enums.
    ok = owner.post(EV, json={**base, "field_values": sv("{screen}", load_ms="{load}"),
                              "owner_id": editor.user["id"]})
    assert ok.status_code == 201, ok.text
    r = owner.post(EV, json={**base, "name": "y", "field_values": sv("y", platform="{platform}")})
    assert loc(r) == ["body", "field_values", 1, "value"]
    assert owner.post(EV, json={**base, "name": "x"}).status_code == 409  # unique per event type
    other = add_type(owner, "ui_interaction")
    assert owner.post(EV, json={"event_type_id": other["id"], "name": "x"}).status_code == 201


def test_update_event(owner, screen_view, editor):
    ev = add_event(owner, screen_view, "home", field_values=sv("home", platform="ios"), tags=["a"])
    url = f"{EV}/{ev['id']}"
    r = owner.patch(url, json={"status": "live", "owner_id": editor.user["id"], "tags": ["b"],
                               "sunset_at": "2027-01-01T00:00:00Z", "metric_breakdown_columns": ["country"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "live" and body["tags"] == ["b"] and body["owner_id"] == editor.user["id"]
    assert len(body["field_values"]) == 2  # untouched when not sent
    r = owner.patch(url, json={"field_values": sv("main"), "owner_id": None, "sunset_at": None})
    assert r.status_code == 200 and r.json()["owner_id"] is None and r.json()["sunset_at"] is None
    assert [v["value"] for v in r.json()["field_values"]] == ["main"]
    assert loc(owner.patch(url, json={"field_values": []})) == ["body", "field_values"]
    assert loc(owner.patch(url, json={"name": ""})) == ["body", "name"]
    add_event(owner, screen_view, "other", field_values=sv("other"))
    assert owner.patch(url, json={"name": "other"}).status_code == 409
    assert owner.patch(url, json={"name": "home"}).status_code == 200  # same name is no conflict
    assert owner.delete(url).status_code == 204
    assert owner.get(url).status_code == 404
    assert owner.patch(url, json={"name": "x"}).status_code == 404


def _seed(owner, screen_view):
    ui = add_type(owner, "ui_interaction", [{"name": "element", "display_name": "Element",
                                             "field_type": "string"}])
    owner.post(f"{BASE}/meta-fields", json={"name": "team", "display_name": "Team", "field_type": "enum",
                                            "enum_options": ["growth", "core"]})
    a = add_event(owner, screen_view, "Home", description="The landing SCREEN", status="live",
                  field_values=sv("home", platform="ios"), tags=["core"],
                  meta_values=[{"meta_field_name": "team", "value": "core"}])
    b = add_event(owner, screen_view, "Cart", status="draft", field_values=sv("cart", platform="android"),
                  tags=["commerce", "core"], meta_values=[{"meta_field_name": "team", "value": "growth"}])
    c = add_event(owner, ui, "buy_tap", description="tap on buy", status="deprecated",
                  field_values=[{"field_name": "element", "value": "buy_button"}], tags=["commerce"])
    d = add_event(owner, ui, "100%_off", status="live")
    return ui, a, b, c, d


def _names(owner, **params) -> list[str]:
    r = owner.get(EV, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] >= len(body["items"])
    return [e["name"] for e in body["items"]]


def test_filters(owner, screen_view, db):
    ui, a, b, c, d = _seed(owner, screen_view)
    assert _names(owner) == ["Home", "Cart", "buy_tap", "100%_off"]
    assert _names(owner, event_type_id=ui["id"]) == ["buy_tap", "100%_off"]
    assert _names(owner, search="screen") == ["Home"]  # description, case-insensitive
    assert _names(owner, search="CART") == ["Cart"]
    assert _names(owner, search="%") == ["100%_off"]  # wildcards are literal
    assert _names(owner, status=["live", "deprecated"]) == ["Home", "buy_tap", "100%_off"]
    assert _names(owner, tag="commerce") == ["Cart", "buy_tap"]
    assert _names(owner, field_value="platform=IOS") == ["Home"]
    assert _names(owner, field_value="button") == ["buy_tap"]
    assert _names(owner, meta_value="team=growth") == ["Cart"]
    assert _names(owner, meta_value="or") == ["Home"]
    # silent_since_days: never seen, or seen before the cutoff.
    from tripl_core.db.models.plan import Event

    now = datetime.now(UTC)
    db.execute(update(Event).where(Event.name == "Home").values(last_seen_at=now - timedelta(hours=1)))
    db.execute(update(Event).where(Event.name == "Cart").values(last_seen_at=now - timedelta(days=10)))
    db.commit()
    assert _names(owner, silent_since_days=7) == ["Cart", "buy_tap", "100%_off"]
    assert _names(owner, silent_since_days=0) == ["Home", "Cart", "buy_tap", "100%_off"]
    # Combinations.
    assert _names(owner, status="live", tag="core") == ["Home"]
    assert _names(owner, event_type_id=screen_view["id"], silent_since_days=7, tag="core") == ["Cart"]
    assert _names(owner, tag="commerce", search="tap", status="deprecated") == ["buy_tap"]
    assert _names(owner, field_value="platform=ios", meta_value="team=growth") == []
    # Pagination.
    page = owner.get(EV, params={"offset": 1, "limit": 2}).json()
    assert page["total"] == 4 and [e["name"] for e in page["items"]] == ["Cart", "buy_tap"]
    assert owner.get(EV, params={"offset": 10}).json() == {"items": [], "total": 4}
    for bad in ({"limit": 0}, {"limit": 10001}, {"offset": -1}, {"silent_since_days": -1},
                {"status": "nope"}, {"event_type_id": "x"}):
        r = owner.get(EV, params=bad)
        assert r.status_code == 422 and next(iter(bad)) in r.json()["detail"][0]["loc"], bad
    assert owner.get(f"{EV}/tags").json() == ["commerce", "core"]


def test_bulk_create_is_all_or_nothing(owner, screen_view):
    items = [{"event_type_id": screen_view["id"], "name": f"s{i}", "field_values": sv(f"s{i}")} for i in range(5)]
    bad = [dict(it) for it in items]
    bad[3] = {**bad[3], "name": ""}
    assert loc(owner.post(f"{EV}/bulk", json=bad)) == ["body", 3, "name"]
    bad[3] = {**items[3], "field_values": sv("s3", platform="tv")}
    assert loc(owner.post(f"{EV}/bulk", json=bad)) == ["body", 3, "field_values", 1, "value"]
    bad[3] = {**items[3], "name": "s1"}
    r = owner.post(f"{EV}/bulk", json=bad)
    assert r.status_code == 409 and "Item 3" in r.json()["detail"]
    assert owner.get(EV).json()["total"] == 0
    r = owner.post(f"{EV}/bulk", json=items)
    assert r.status_code == 201 and [e["name"] for e in r.json()] == [f"s{i}" for i in range(5)]
    r = owner.post(f"{EV}/bulk", json=[items[0]])
    assert r.status_code == 409 and "Item 0" in r.json()["detail"]
    assert owner.get(EV).json()["total"] == 5


def test_bulk_update_and_delete(owner, screen_view, editor):
    evs = [add_event(owner, screen_view, f"s{i}", field_values=sv(f"s{i}")) for i in range(4)]
    ids = [e["id"] for e in evs]
    r = owner.post(f"{EV}/bulk-update", json={"event_ids": ids[:3], "status": "live", "reviewed": True,
                                               "owner_id": editor.user["id"],
                                               "sunset_at": "2027-06-01T00:00:00Z"})
    assert r.status_code == 204, r.text
    items = {e["name"]: e for e in owner.get(EV).json()["items"]}
    assert [items[f"s{i}"]["status"] for i in range(4)] == ["live", "live", "live", "draft"]
    assert items["s0"]["reviewed"] is True and items["s0"]["owner_id"] == editor.user["id"]
    assert owner.post(f"{EV}/bulk-update", json={"event_ids": ids[:1], "owner_id": None}).status_code == 204
    assert owner.get(f"{EV}/{ids[0]}").json()["owner_id"] is None
    missing = "00000000-0000-0000-0000-000000000000"
    assert loc(owner.post(f"{EV}/bulk-update", json={"event_ids": [ids[0], missing], "status": "live"})) == [
        "body", "event_ids", 1]
    assert loc(owner.post(f"{EV}/bulk-update", json={"event_ids": [], "status": "live"})) == ["body", "event_ids"]
    assert loc(owner.post(f"{EV}/bulk-update", json={"event_ids": ids, "status": "gone"})) == ["body", "status"]
    assert owner.post(f"{EV}/bulk-update", json={"event_ids": ids}).status_code == 422
    assert loc(owner.post(f"{EV}/bulk-update", json={"event_ids": ids, "owner_id": missing})) == [
        "body", "owner_id"]
    # Bulk delete is atomic too.
    assert loc(owner.post(f"{EV}/bulk-delete", json={"event_ids": [ids[0], missing]})) == ["body", "event_ids", 1]
    assert owner.get(EV).json()["total"] == 4
    assert owner.post(f"{EV}/bulk-delete", json={"event_ids": ids[:2]}).status_code == 204
    assert _names(owner) == ["s2", "s3"]


def test_reorder_and_move(owner, screen_view):
    evs = {n: add_event(owner, screen_view, n, field_values=sv(n)) for n in "abcde"}
    ids = {n: e["id"] for n, e in evs.items()}
    # The listed events take the slots they occupy (b, d), in the given order; the rest do not move.
    r = owner.post(f"{EV}/reorder", json={"event_ids": [ids["d"], ids["b"]]})
    assert r.status_code == 200 and [e["name"] for e in r.json()] == ["d", "b"]
    assert _names(owner) == ["a", "d", "c", "b", "e"]
    assert loc(owner.post(f"{EV}/reorder", json={"event_ids": [ids["a"], ids["a"]]})) == ["body", "event_ids", 1]
    assert loc(owner.post(f"{EV}/reorder", json={"event_ids": []})) == ["body", "event_ids"]

    def move(name, direction, visible=None):
        body = {"direction": direction} | ({"visible_event_ids": [ids[v] for v in visible]} if visible else {})
        return owner.post(f"{EV}/{ids[name]}/move", json=body)

    assert move("c", "up").status_code == 200
    assert _names(owner) == ["a", "c", "d", "b", "e"]
    assert move("a", "up").status_code == 200  # already first: unchanged
    assert move("e", "down").status_code == 200
    assert _names(owner) == ["a", "c", "d", "b", "e"]
    # Within a filtered view (a, b, e): b moves up past a; hidden c and d keep their places.
    assert move("b", "up", visible="abe").status_code == 200
    assert _names(owner) == ["b", "c", "d", "a", "e"]
    assert loc(move("b", "down", visible="ae")) == ["body", "visible_event_ids"]
    assert loc(owner.post(f"{EV}/{ids['b']}/move", json={"direction": "left"})) == ["body", "direction"]


def test_history_field_by_field(owner, screen_view, editor):
    ev = add_event(owner, screen_view, "home", field_values=sv("home", platform="ios"), tags=["a"])
    editor.patch(f"{EV}/{ev['id']}", json={"status": "live", "field_values": sv("home", platform="web")})
    owner.post(f"{EV}/bulk-update", json={"event_ids": [ev["id"]], "reviewed": True})
    owner.patch(f"{EV}/{ev['id']}", json={"status": "live"})  # no change: no entry
    hist = owner.get(f"{EV}/{ev['id']}/history").json()
    assert [h["action"] for h in hist] == ["event.update", "event.update", "event.create"]
    bulk, edit, created = hist
    assert bulk["changes"] == [{"field": "reviewed", "before": False, "after": True}]
    assert edit["actor_email"] == editor.user["email"]
    assert {c["field"]: (c["before"], c["after"]) for c in edit["changes"]} == {
        "status": ("draft", "live"), "field_values.platform": ("ios", "web")}
    created_fields = {c["field"]: c["after"] for c in created["changes"]}
    assert created_fields["name"] == "home" and created_fields["field_values.screen_name"] == "home"
    assert created_fields["tags"] == ["a"] and created["actor_email"] == owner.user["email"]
    assert owner.get(f"{EV}/00000000-0000-0000-0000-000000000000/history").status_code == 404


def test_list_events_has_no_n_plus_one(owner, screen_view, db):
    from tripl_core.db.session import get_engine

    def statements(n: int) -> int:
        owner.post(f"{EV}/bulk-delete", json={"event_ids": [e["id"] for e in owner.get(
            EV, params={"limit": 10000}).json()["items"]]}) if owner.get(EV).json()["total"] else None
        items = [{"event_type_id": screen_view["id"], "name": f"e{i}", "tags": ["t", f"t{i % 7}"],
                  "field_values": sv(f"s{i}", platform="ios")} for i in range(n)]
        assert owner.post(f"{EV}/bulk", json=items).status_code == 201
        count = 0

        def before(*_args, **_kw):
            nonlocal count
            count += 1

        engine = get_engine()
        sa_event.listen(engine, "before_cursor_execute", before)
        try:
            r = owner.get(EV, params={"limit": 10000, "tag": "t"})
        finally:
            sa_event.remove(engine, "before_cursor_execute", before)
        assert r.status_code == 200 and r.json()["total"] == n
        return count

    assert statements(10) == statements(500)


def test_hostile_inputs_are_4xx_not_500(owner, screen_view):
    base = {"event_type_id": screen_view["id"], "name": "x"}
    for value in (10**400, "1e400", "NaN"):
        r = owner.post(EV, json={**base, "field_values": sv("x", load_ms=value)})
        assert loc(r) == ["body", "field_values", 1, "value"], value
    r = owner.get(EV, params={"silent_since_days": 10**9})  # beyond any date: a 422 naming the field
    assert r.status_code == 422 and "silent_since_days" in r.json()["detail"][0]["loc"]
    assert owner.post(EV, json={**base, "name": "nul\u0000"}).status_code == 422
    assert owner.get(EV, params={"search": "a\u0000"}).status_code in (200, 422)
