"""Writes on findings: schema drift actions (the plan learns), reconciliation, anomaly settings; plus data-source
stats and the project summary's open_drifts."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.findings.conftest import BASE, STEP, T0
from tripl_core.db.base import utcnow
from tripl_core.db.models.findings import DriftType, SchemaDrift, ShadowEventCandidate
from tripl_core.db.models.metrics import ObservedName
from tripl_core.detection.config import PROJECT_DEFAULTS as DEFAULTS


def _drift(seed, plan, field, kind, observed=None, declared=None, **kw):
    d = SchemaDrift(id=uuid.uuid4(), project_id=seed.project_id, event_type_id=uuid.UUID(plan["event_type"]["id"]),
                    field_name=field, drift_type=DriftType(kind), observed_type=observed, declared_type=declared,
                    detected_at=T0, last_seen_at=T0 + STEP, **kw)
    seed.add(d)
    return d


def _fields(owner, plan):
    r = owner.get(f"{BASE}/event-types/{plan['event_type']['id']}/fields")
    return {f["name"]: f for f in r.json()}


def test_list_event_type_drifts_open_first(owner, viewer, seed, plan):
    a = _drift(seed, plan, "b_field", "new_field", "number", status="accepted")
    b = _drift(seed, plan, "a_field", "new_field", "string")
    r = viewer.get(f"{BASE}/event-types/{plan['event_type']['id']}/drifts")
    assert r.status_code == 200
    assert r.json()["total"] == 2 and [d["id"] for d in r.json()["items"]] == [str(b.id), str(a.id)]
    assert owner.get(f"{BASE}/event-types/{uuid.uuid4()}/drifts").status_code == 404
    assert owner.get("/api/v1/projects").json()[0]["summary"]["open_drifts"] == 1


def test_accept_new_field_adds_it_to_the_plan_with_audit(owner, seed, plan):
    d = _drift(seed, plan, "referrer", "new_field", "object")
    r = owner.post(f"{BASE}/drifts/{d.id}/action", json={"action": "accept", "note": " learned "})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "accepted" and body["resolution_note"] == "learned"
    assert body["resolved_by"] is not None and body["resolved_at"] is not None
    assert _fields(owner, plan)["referrer"]["field_type"] == "json"
    actions = [e["action"] for e in owner.get("/api/v1/audit", params={"action": "schema_drift"}).json()["items"]]
    assert actions == ["schema_drift.accept"]
    assert "field.create" in [e["action"] for e in owner.get("/api/v1/audit").json()["items"]]
    r = owner.post(f"{BASE}/drifts/{d.id}/action", json={"action": "accept"})
    assert r.status_code == 409
    assert owner.get("/api/v1/projects").json()[0]["summary"]["open_drifts"] == 0


def test_accept_type_mismatch_and_enum_values_update_the_field(owner, seed, plan):
    t = _drift(seed, plan, "duration", "type_mismatch", "number", "string")
    e = _drift(seed, plan, "platform", "enum_value_outside_options", "string", "enum",
               details={"values": ["web", "ios"]})
    assert owner.post(f"{BASE}/drifts/{t.id}/action", json={"action": "accept"}).status_code == 200
    assert owner.post(f"{BASE}/drifts/{e.id}/action", json={"action": "accept"}).status_code == 200
    fields = _fields(owner, plan)
    assert fields["duration"]["field_type"] == "number"
    assert fields["platform"]["enum_options"] == ["ios", "android", "web"]


def test_accept_is_refused_when_plan_values_would_not_fit(owner, seed, plan):
    ev = plan["events"]["home"]
    r = owner.patch(f"{BASE}/events/{ev['id']}", json={"field_values": [{"field_name": "duration",
                                                                           "value": "long"}]})
    assert r.status_code == 200, r.text
    t = _drift(seed, plan, "duration", "type_mismatch", "number", "string")
    r = owner.post(f"{BASE}/drifts/{t.id}/action", json={"action": "accept"})
    assert r.status_code == 409 and "would no longer fit" in r.text
    drifts = owner.get(f"{BASE}/event-types/{plan['event_type']['id']}/drifts").json()["items"]
    assert drifts[0]["status"] == "open" and _fields(owner, plan)["duration"]["field_type"] == "string"


def test_snooze_false_positive_reopen(owner, viewer, seed, plan):
    d = _drift(seed, plan, "x", "new_field", "string")
    url = f"{BASE}/drifts/{d.id}/action"
    r = owner.post(url, json={"action": "snooze"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "snoozed_until"]
    r = owner.post(url, json={"action": "snooze", "snoozed_until": (utcnow() - timedelta(minutes=1)).isoformat()})
    assert r.status_code == 422 and "future" in r.text
    r = owner.post(url, json={"action": "explode"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "action"]
    until = (utcnow() + timedelta(days=2)).isoformat()
    r = owner.post(url, json={"action": "snooze", "snoozed_until": until})
    assert r.status_code == 200 and r.json()["status"] == "snoozed" and r.json()["snoozed_until"]
    r = owner.post(url, json={"action": "false_positive"})
    assert r.json()["status"] == "false_positive" and r.json()["snoozed_until"] is None
    assert "x" not in _fields(owner, plan)  # only accept teaches the plan
    r = owner.post(url, json={"action": "reopen"})
    assert r.json()["status"] == "open" and r.json()["resolved_at"] is None
    assert owner.post(url, json={"action": "reopen"}).status_code == 409
    assert viewer.post(url, json={"action": "false_positive"}).status_code == 403
    assert owner.post(f"{BASE}/drifts/{uuid.uuid4()}/action", json={"action": "reopen"}).status_code == 404


def _candidate(seed, name, et_id=None, total=50, value="screen_view"):
    c = ShadowEventCandidate(id=uuid.uuid4(), project_id=seed.project_id, event_type_id=et_id,
                             event_type_value=value, name=name, total_count=total, first_seen_at=T0,
                             last_seen_at=T0 + STEP)
    seed.add(c)
    return c


def test_shadow_events_list_accept_dismiss(owner, seed, plan):
    et = uuid.UUID(plan["event_type"]["id"])
    big = _candidate(seed, "checkout", et, total=500)
    small = _candidate(seed, "promo", None, total=5, value="marketing")
    body = owner.get(f"{BASE}/reconciliation/shadow-events").json()
    assert [i["name"] for i in body["items"]] == ["checkout", "promo"] and body["total"] == 2
    assert body["new_count"] == 2
    assert len(owner.get(f"{BASE}/reconciliation/shadow-events", params={"limit": 1}).json()["items"]) == 1
    for bad in ({"limit": 0}, {"limit": 501}, {"status": "maybe"}):
        r = owner.get(f"{BASE}/reconciliation/shadow-events", params=bad)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", next(iter(bad))]

    r = owner.post(f"{BASE}/reconciliation/shadow-events/{big.id}/accept", json={})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted"
    event = owner.get(f"{BASE}/events/{r.json()['event_id']}").json()
    assert (event["name"], event["event_type_id"], event["status"]) == ("checkout", str(et), "live")
    assert owner.post(f"{BASE}/reconciliation/shadow-events/{big.id}/accept", json={}).status_code == 409

    r = owner.post(f"{BASE}/reconciliation/shadow-events/{small.id}/accept", json={})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "event_type_id"]
    r = owner.post(f"{BASE}/reconciliation/shadow-events/{small.id}/accept",
                   json={"event_type_id": str(et), "name": "promo_banner"})
    assert r.status_code == 200 and owner.get(f"{BASE}/events/{r.json()['event_id']}").json()["name"] == \
        "promo_banner"
    body = owner.get(f"{BASE}/reconciliation/shadow-events", params={"status": "accepted"}).json()
    assert body["total"] == 2 and body["new_count"] == 0

    third = _candidate(seed, "ghost", et)
    r = owner.post(f"{BASE}/reconciliation/shadow-events/{third.id}/dismiss")
    assert r.status_code == 200 and r.json() == {"candidate_id": str(third.id), "status": "dismissed"}
    assert owner.post(f"{BASE}/reconciliation/shadow-events/{big.id}/dismiss").status_code == 409
    assert owner.post(f"{BASE}/reconciliation/shadow-events/{uuid.uuid4()}/dismiss").status_code == 404


def test_accept_fills_required_fields_with_placeholders(owner, seed, plan):
    et = plan["event_type"]["id"]
    r = owner.post(f"{BASE}/event-types/{et}/fields", json={"name": "screen", "display_name": "Screen",
                                                            "field_type": "string", "is_required": True})
    assert r.status_code == 201, r.text
    c = _candidate(seed, "settings", uuid.UUID(et))
    r = owner.post(f"{BASE}/reconciliation/shadow-events/{c.id}/accept", json={})
    assert r.status_code == 200, r.text
    values = owner.get(f"{BASE}/events/{r.json()['event_id']}").json()["field_values"]
    assert [(v["field_name"], v["value"]) for v in values] == [("screen", "{screen}")]


def test_accepting_a_name_that_exists_is_409(owner, seed, plan):
    c = _candidate(seed, "home", uuid.UUID(plan["event_type"]["id"]))
    assert owner.post(f"{BASE}/reconciliation/shadow-events/{c.id}/accept", json={}).status_code == 409


def test_dead_events_and_archive(owner, seed, plan, db):
    from tripl_core.db.models.plan import Event

    ev = plan["events"]
    assert owner.get(f"{BASE}/reconciliation/dead-events").json()["items"] == []  # no scan config: no verdict
    seed.config()
    now = utcnow()
    db.get(Event, uuid.UUID(ev["home"]["id"])).last_seen_at = now - timedelta(hours=1)
    db.get(Event, uuid.UUID(ev["search"]["id"])).last_seen_at = now - timedelta(days=40)
    db.commit()
    body = owner.get(f"{BASE}/reconciliation/dead-events").json()
    assert body["days"] == 30 and [(i["name"], i["days_silent"]) for i in body["items"]] == [("cart", None),
                                                                                          ("search", 40)]
    assert [i["name"] for i in owner.get(f"{BASE}/reconciliation/dead-events", params={"days": 60}).json()["items"]
            ] == ["cart"]
    for bad in (0, 366):
        assert owner.get(f"{BASE}/reconciliation/dead-events", params={"days": bad}).status_code == 422
    r = owner.post(f"{BASE}/reconciliation/dead-events/archive", json={"event_ids": [ev["cart"]["id"]]})
    assert r.status_code == 200 and r.json() == {"event_ids": [ev["cart"]["id"]], "status": "archived",
                                                 "archived_count": 1}
    assert owner.get(f"{BASE}/events/{ev['cart']['id']}").json()["status"] == "archived"
    r = owner.post(f"{BASE}/reconciliation/dead-events/archive", json={"event_ids": [ev["search"]["id"]],
                                                                       "status": "deprecated"})
    assert r.json()["status"] == "deprecated"
    assert [i["name"] for i in owner.get(f"{BASE}/reconciliation/dead-events").json()["items"]] == []
    r = owner.post(f"{BASE}/reconciliation/dead-events/archive", json={"event_ids": []})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "event_ids"]
    r = owner.post(f"{BASE}/reconciliation/dead-events/archive", json={"event_ids": [ev["home"]["id"]],
                                                                       "status": "gone"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "status"]


def test_coverage_share_of_volume(owner, seed, plan):
    cfg = seed.config()
    et = uuid.UUID(plan["event_type"]["id"])
    ev = {k: uuid.UUID(v["id"]) for k, v in plan["events"].items()}
    recent = utcnow() - timedelta(hours=3)

    def obs(name, count, event_id=None, type_id=et, when=recent, value="screen_view"):
        return ObservedName(scan_config_id=cfg.id, bucket=when, event_type_value=value, event_name=name,
                            event_type_id=type_id, event_id=event_id, count=count)
    seed.add(obs("home", 600, ev["home"]), obs("search", 200, ev["search"]), obs("checkout", 100),
             obs("promo", 100, type_id=None, value="marketing"),
             obs("cart", 999, ev["cart"], when=utcnow() - timedelta(days=20)))
    body = owner.get(f"{BASE}/reconciliation/coverage").json()
    assert body["days"] == 14
    s = body["summary"]
    assert (s["total_volume"], s["matched_volume"], s["unmatched_volume"], s["coverage"]) == (1000, 800, 200, 0.8)
    assert (s["planned_events"], s["seen_events"], s["unmatched_names"]) == (3, 2, 2)
    [item] = body["items"]
    assert (item["volume"], item["matched_volume"], item["coverage"]) == (900, 800, 800 / 900)
    assert {e["name"]: e["seen"] for e in item["events"]} == {"home": True, "search": True, "cart": False}
    body = owner.get(f"{BASE}/reconciliation/coverage", params={"days": 30}).json()
    assert body["summary"]["seen_events"] == 3
    for bad in (0, 181):
        assert owner.get(f"{BASE}/reconciliation/coverage", params={"days": bad}).status_code == 422
    assert owner.get(f"{BASE}/reconciliation/coverage",
                     params={"scan_config_id": str(uuid.uuid4())}).status_code == 404


def test_anomaly_settings_defaults_and_update(owner, viewer, project):
    url = f"{BASE}/anomaly-settings"
    body = viewer.get(url).json()
    assert body["baseline_window_buckets"] == DEFAULTS.baseline_window_buckets == 8064
    assert (body["min_history_buckets"], body["sigma_threshold"], body["min_expected_count"]) == (
        DEFAULTS.min_history_buckets, DEFAULTS.sigma_threshold, int(DEFAULTS.min_expected_count))
    assert body["anomaly_detection_enabled"] and body["detect_events"]
    r = owner.patch(url, json={"sigma_threshold": 4.0, "detect_events": False, "min_history_buckets": None})
    assert r.status_code == 200 and (r.json()["sigma_threshold"], r.json()["detect_events"]) == (4.0, False)
    assert r.json()["min_history_buckets"] == DEFAULTS.min_history_buckets
    assert viewer.patch(url, json={"sigma_threshold": 3.0}).status_code == 403


@pytest.mark.parametrize("body, field", [
    ({"sigma_threshold": 0}, "sigma_threshold"), ({"sigma_threshold": -1}, "sigma_threshold"),
    ({"baseline_window_buckets": 0}, "baseline_window_buckets"), ({"min_history_buckets": 0}, "min_history_buckets"),
    ({"min_expected_count": -1}, "min_expected_count"), ({"detect_events": "maybe"}, "detect_events"),
    ({"baseline_window_buckets": 50, "min_history_buckets": 60}, "min_history_buckets"),
])
def test_anomaly_settings_validation(owner, project, body, field):
    r = owner.patch(f"{BASE}/anomaly-settings", json=body)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", field], r.text


def test_scans_read_the_updated_settings(owner, project, db):
    from tripl_core.scanning.settings import anomaly_settings

    owner.patch(f"{BASE}/anomaly-settings", json={"sigma_threshold": 3.5, "detect_project_total": False})
    s = anomaly_settings(db, uuid.UUID(project["id"]))
    assert s.volume.sigma_threshold == 3.5 and not s.detects("project_total") and s.detects("event")


def test_data_source_stats(owner, seed, plan):
    cfg = seed.config()
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    seed.points(cfg, "project_total", None, {0: 10, 1: 5, 4: 7}, start=hour - timedelta(hours=2))
    seed.points(cfg, "project_total", None, {0: 1000}, start=hour - timedelta(hours=100))
    seed.points(cfg, "event", plan["events"]["home"]["id"], {0: 10}, start=hour - timedelta(hours=2))
    seed.points(cfg, "event", plan["events"]["cart"]["id"], {0: 0}, start=hour - timedelta(hours=2))
    r = owner.get(f"/api/v1/data-sources/{cfg.data_source_id}/stats", params={"window_hours": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["events_tracked"], body["volume_window"], body["window_hours"]) == (1, 22, 3)
    assert [p["count"] for p in body["throughput"]] == [15, 7, 0]
    assert owner.get(f"/api/v1/data-sources/{cfg.data_source_id}/stats").json()["window_hours"] == 48
    for bad in (0, 721):
        r = owner.get(f"/api/v1/data-sources/{cfg.data_source_id}/stats", params={"window_hours": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "window_hours"]
    assert owner.get(f"/api/v1/data-sources/{uuid.uuid4()}/stats").status_code == 404
