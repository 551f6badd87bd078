"""List Events serialises its items directly (no per-event model validation): the bytes must be exactly what the
`EventList` response model produced, and `drift_count` counts the open schema drifts of the event's type."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import update

from tests.plan.conftest import BASE, add_event

EV = f"{BASE}/events"
SCREEN = [{"field_name": "screen_name", "value": "s"}]


def _pairs(raw: bytes | str):
    """JSON with objects as key/value lists, so key order is compared too."""
    return json.loads(raw, object_pairs_hook=list)


def _rich_plan(owner, screen_view, db) -> list[dict]:
    r = owner.post(f"{BASE}/meta-fields", json={"name": "jira", "display_name": "Jira", "field_type": "string",
                                                 "link_template": "https://jira.example.com/browse/{value}"})
    assert r.status_code == 201, r.text
    r = owner.post(f"{BASE}/meta-fields", json={"name": "team", "display_name": "Team", "field_type": "enum",
                                                 "enum_options": ["growth", "core"]})
    assert r.status_code == 201, r.text
    me = owner.get("/api/v1/auth/me").json()
    a = add_event(owner, screen_view, "Écran d'accueil ✓", description="Ünïcode \"quoted\" <b>&</b>\n2nd line",
                  status="live", reviewed=True, sunset_at="2031-02-03T04:05:06.789012Z", owner_id=me["id"],
                  tags=["zeta", "alpha"], metric_breakdown_columns=["platform", "screen_name"],
                  field_values=[{"field_name": "screen_name", "value": "home/ü & more"},
                                {"field_name": "platform", "value": "ios"},
                                {"field_name": "load_ms", "value": 12.5},
                                {"field_name": "is_logged_in", "value": False}],
                  meta_values=[{"meta_field_name": "jira", "value": "AB-1 / x?y=1"},
                               {"meta_field_name": "team", "value": "core"}])
    b = add_event(owner, screen_view, "bare", field_values=[{"field_name": "screen_name", "value": "{screen}"}])
    from tripl_core.db.models.plan import Event

    db.execute(update(Event).where(Event.id == uuid.UUID(b["id"]))
               .values(last_seen_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)))
    db.execute(update(Event).where(Event.id == uuid.UUID(a["id"]))
               .values(last_seen_at=datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC)))
    db.commit()
    return [a, b]


def test_list_events_bytes_equal_the_response_model_output(owner, screen_view, db):
    from tripl_api.schemas.events import EventList, EventResponse
    from tripl_core.db.models.plan import PlanBranch
    from tripl_core.plan import event_queries
    from tripl_core.plan.common import PlanScope
    from tripl_core.projects import get_by_slug

    _rich_plan(owner, screen_view, db)
    r = owner.get(EV)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["total"] == 2 and [e["name"] for e in body["items"]] == ["Écran d'accueil ✓", "bare"]
    first = body["items"][0]
    assert first["tags"] == ["alpha", "zeta"] and first["last_seen_at"] == "2026-01-02T03:04:05.000600Z"
    assert first["sunset_at"] == "2031-02-03T04:05:06.789012Z" and first["drift_count"] == 0
    assert [m["link"] for m in first["meta_values"]] == ["https://jira.example.com/browse/AB-1%20%2F%20x%3Fy%3D1",
                                                         None]
    assert body["items"][1]["last_seen_at"] == "2026-01-02T03:04:05Z"

    # The response model writes the same bytes from the same values: PostgreSQL's JSON is pydantic's format.
    project = get_by_slug(db, "shop-app")
    branch = db.query(PlanBranch).filter_by(project_id=project.id).one()
    body_bytes = event_queries.list_events_json(db, PlanScope(project, branch), event_queries.EventFilters())
    assert body_bytes == r.content
    assert EventList.model_validate_json(r.content).model_dump_json().encode() == r.content
    # And the values are the rows' (an independent read through the ORM).
    from tripl_core.db.models.plan import Event

    for item in body["items"]:
        row = db.get(Event, uuid.UUID(item["id"]))
        parsed = EventResponse.model_validate(item)
        assert (parsed.created_at, parsed.updated_at, parsed.last_seen_at, parsed.sunset_at) == (
            row.created_at, row.updated_at, row.last_seen_at, row.sunset_at)
        assert (parsed.name, parsed.description, parsed.status, parsed.order) == (
            row.name, row.description, row.status, row.order)
    # Get Event still goes through response_model: every item is byte-for-byte (and key-order) the same.
    for item in body["items"]:
        one = owner.get(f"{EV}/{item['id']}")
        assert _pairs(one.content) == _pairs(json.dumps(item, ensure_ascii=False))
        assert _pairs(EventResponse.model_validate(one.json()).model_dump_json()) == _pairs(one.content)


def test_list_events_keeps_its_documented_schema(owner, project):
    spec = owner.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/projects/{slug}/events"]["get"]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/EventList"}
    assert "drift_count" in spec["components"]["schemas"]["EventResponse"]["required"]


def test_drift_count_counts_open_drifts_of_the_event_type(owner, screen_view, db, project):
    from tests.plan.conftest import add_type
    from tripl_core.db.models.findings import DriftStatus, DriftType, SchemaDrift

    other = add_type(owner, "ui_interaction")
    e1 = add_event(owner, screen_view, "home", field_values=SCREEN)
    e2 = add_event(owner, screen_view, "cart", field_values=SCREEN)
    e3 = add_event(owner, other, "tap")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    pid, sv_id = uuid.UUID(project["id"]), uuid.UUID(screen_view["id"])
    for field, kind, status in (("a", DriftType.new_field, DriftStatus.open),
                                ("b", DriftType.type_mismatch, DriftStatus.open),
                                ("c", DriftType.new_field, DriftStatus.resolved),
                                ("d", DriftType.new_field, DriftStatus.snoozed),
                                ("e", DriftType.new_field, DriftStatus.accepted)):
        db.add(SchemaDrift(id=uuid.uuid4(), project_id=pid, event_type_id=sv_id, field_name=field,
                           drift_type=kind, status=status, detected_at=now, last_seen_at=now))
    db.commit()
    counts = {e["id"]: e["drift_count"] for e in owner.get(EV).json()["items"]}
    assert counts == {e1["id"]: 2, e2["id"]: 2, e3["id"]: 0}
    # Single-event reads use the same query.
    assert owner.get(f"{EV}/{e1['id']}").json()["drift_count"] == 2
    assert owner.get(f"{EV}/{e3['id']}").json()["drift_count"] == 0
    # Filters and pagination do not change an item's count.
    page = owner.get(EV, params={"search": "cart", "limit": 1}).json()["items"]
    assert [(e["name"], e["drift_count"]) for e in page] == [("cart", 2)]


def test_drift_count_on_a_branch_copy_counts_its_origin(owner, screen_view, db, project):
    from tripl_core.db.models.findings import DriftStatus, DriftType, SchemaDrift

    add_event(owner, screen_view, "home", field_values=SCREEN)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    db.add(SchemaDrift(id=uuid.uuid4(), project_id=uuid.UUID(project["id"]),
                       event_type_id=uuid.UUID(screen_view["id"]), field_name="x", drift_type=DriftType.new_field,
                       status=DriftStatus.open, detected_at=now, last_seen_at=now))
    db.commit()
    r = owner.post(f"{BASE}/branches", json={"name": "feature"})
    assert r.status_code == 201, r.text
    items = owner.get(EV, params={"branch_id": r.json()["id"]}).json()["items"]
    assert [(e["name"], e["drift_count"]) for e in items] == [("home", 1)]
    assert items[0]["event_type_id"] != screen_view["id"]  # the branch's own copy of the type


def test_costly_filters_page_and_total_in_one_pass(owner, screen_view):
    """search / field_value / meta_value take the window-count path: same pages and totals as the count path."""
    for i in range(7):
        add_event(owner, screen_view, f"checkout_{i}" if i % 2 == 0 else f"home_{i}",
                  field_values=[{"field_name": "screen_name", "value": f"s{i}"},
                                {"field_name": "platform", "value": "ios" if i < 5 else "web"}])

    def page(**params):
        body = owner.get(EV, params=params).json()
        return [e["name"] for e in body["items"]], body["total"]

    assert page(search="checkout", limit=2) == (["checkout_0", "checkout_2"], 4)
    assert page(search="checkout", limit=2, offset=2) == (["checkout_4", "checkout_6"], 4)
    assert page(search="checkout", limit=2, offset=3) == (["checkout_6"], 4)
    assert page(search="checkout", offset=4) == ([], 4)  # past the end still knows the total
    assert page(search="checkout", offset=400) == ([], 4)
    assert page(search="nothing-like-this") == ([], 0)
    assert page(field_value="platform=IOS", search="home", limit=1) == (["home_1"], 2)
    assert page(field_value="platform=ios", status="draft", offset=1, limit=3) == (
        ["home_1", "checkout_2", "home_3"], 5)
    # The cheap path agrees on the same rows.
    assert page(status="draft", limit=3, offset=5) == (["home_5", "checkout_6"], 7)


def test_costly_filter_statement_count_does_not_grow(owner, screen_view):
    from sqlalchemy import event as sa_event

    from tripl_core.db.session import get_engine

    def statements(params) -> int:
        count = 0

        def before(*_args, **_kw):
            nonlocal count
            count += 1

        sa_event.listen(get_engine(), "before_cursor_execute", before)
        try:
            assert owner.get(EV, params=params).status_code == 200
        finally:
            sa_event.remove(get_engine(), "before_cursor_execute", before)
        return count

    add_event(owner, screen_view, "first", field_values=SCREEN)
    small = statements({"search": "i", "limit": 10000})
    items = [{"event_type_id": screen_view["id"], "name": f"item{i}", "field_values": SCREEN} for i in range(300)]
    assert owner.post(f"{EV}/bulk", json=items).status_code == 201
    assert statements({"search": "i", "limit": 10000}) == small


def test_list_events_json_edge_cases_match_pydantic(owner, screen_view, db):
    """Control characters, quotes, backslashes, emoji and U+2028 in text; a link value of multi-byte characters;
    an empty link template; microseconds with trailing zeros: PostgreSQL's JSON equals pydantic's, byte for byte."""
    from tripl_api.schemas.events import EventList
    from tripl_core.db.models.plan import Event

    r = owner.post(f"{BASE}/meta-fields", json={"name": "doc", "display_name": "Doc", "field_type": "string",
                                                 "link_template": "https://wiki.example.com/{value}?q={value}"})
    assert r.status_code == 201, r.text
    r = owner.post(f"{BASE}/meta-fields", json={"name": "note", "display_name": "Note", "field_type": "string"})
    assert r.status_code == 201, r.text
    weird = 'tab\there "q" back\\slash \x01\x1f\x7f /é😀\u2028 ~_.-'
    e = add_event(owner, screen_view, "odd", description=weird, tags=['t"1', "t\\2", "😀"],
                  field_values=[{"field_name": "screen_name", "value": weird}],
                  meta_values=[{"meta_field_name": "doc", "value": "Ünï 😀/?&=% ~_.-"},
                               {"meta_field_name": "note", "value": weird}])
    db.execute(update(Event).where(Event.id == uuid.UUID(e["id"]))
               .values(last_seen_at=datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC),
                       sunset_at=datetime(999, 1, 2, 3, 4, 5, 1, tzinfo=UTC)))
    db.commit()
    r = owner.get(EV)
    assert r.status_code == 200
    assert EventList.model_validate_json(r.content).model_dump_json().encode() == r.content
    [item] = r.json()["items"]
    assert item["description"] == weird and item["tags"] == ['t"1', "t\\2", "😀"]
    assert item["last_seen_at"] == "2026-01-02T03:04:05.120000Z" and item["sunset_at"] == "0999-01-02T03:04:05.000001Z"
    links = {m["meta_field_name"]: m["link"] for m in item["meta_values"]}
    from urllib.parse import quote

    q = quote("Ünï 😀/?&=% ~_.-", safe="")
    assert links == {"doc": f"https://wiki.example.com/{q}?q={q}", "note": None}
    # Get Event (response_model over the same JSON) agrees.
    assert owner.get(f"{EV}/{e['id']}").json() == item
