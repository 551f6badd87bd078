"""Series, overview and signals: numbers against hand-computed ones from rows written into metric_points."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import text

from tests.findings.conftest import BASE, STEP, T0
from tripl_core.db.base import utcnow

Q = {"from": T0.isoformat(), "to": (T0 + 4 * STEP).isoformat()}


def test_project_total_zero_fills_gaps_and_keeps_verdicts(owner, seed):
    cfg = seed.config()
    seed.points(cfg, "project_total", None, {0: 5, 1: 7, 3: 90},
                v={3: {"expected": 10.0, "lower": 2.0, "upper": 18.0, "z": 9.5, "is_anomaly": True,
                       "direction": "spike"}})
    r = owner.get(f"{BASE}/metrics/total", params=Q)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scope"] == "project_total" and body["scan_config_id"] == str(cfg.id) and body["interval"] == "15m"
    assert [p["count"] for p in body["data"]] == [5, 7, 0, 90]
    assert body["data"][2] == {"bucket": (T0 + 2 * STEP).isoformat().replace("+00:00", "Z"), "count": 0,
                               "expected": None, "lower": None, "upper": None, "z": None, "is_anomaly": False,
                               "direction": None}
    last = body["data"][3]
    assert (last["expected"], last["is_anomaly"], last["direction"], last["z"]) == (10.0, True, "spike", 9.5)
    assert body["forecast"] == []  # the window ends at the newest stored bucket


def test_window_is_aligned_to_buckets(owner, seed):
    cfg = seed.config()
    seed.points(cfg, "project_total", None, {0: 1, 1: 2})
    r = owner.get(f"{BASE}/metrics/total", params={"from": (T0 + timedelta(minutes=5)).isoformat(),
                                                  "to": (T0 + timedelta(minutes=20)).isoformat()})
    assert [p["count"] for p in r.json()["data"]] == [1, 2]  # from rounds down, to rounds up


def test_window_validation_names_the_field(owner, seed):
    seed.config()
    r = owner.get(f"{BASE}/metrics/total", params={"from": Q["to"], "to": Q["from"]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "from"], r.text
    r = owner.get(f"{BASE}/metrics/total", params={"from": "2000-01-01T00:00:00Z", "to": Q["to"]})
    assert r.status_code == 422 and "20000 buckets" in r.text
    r = owner.get(f"{BASE}/metrics/total", params={"from": "yesterday"})
    assert r.status_code == 422


def test_event_and_event_type_series(owner, seed, plan):
    cfg = seed.config()
    home, et = plan["events"]["home"]["id"], plan["event_type"]["id"]
    seed.points(cfg, "event", home, {0: 3, 2: 4})
    seed.points(cfg, "event_type", et, {1: 11})
    body = owner.get(f"{BASE}/metrics/events/{home}", params=Q).json()
    assert body["event_id"] == home and body["event_type_id"] == et and body["scope"] == "event"
    assert [p["count"] for p in body["data"]] == [3, 0, 4, 0]
    body = owner.get(f"{BASE}/metrics/event-types/{et}", params=Q).json()
    assert [p["count"] for p in body["data"]] == [0, 11, 0, 0]
    assert owner.get(f"{BASE}/metrics/events/{uuid.uuid4()}", params=Q).status_code == 404
    assert owner.get(f"{BASE}/metrics/event-types/{uuid.uuid4()}", params=Q).status_code == 404


def test_no_scan_config_gives_an_empty_series(owner, plan):
    body = owner.get(f"{BASE}/metrics/total").json()
    assert body["scan_config_id"] is None and body["data"] == [] and body["forecast"] == []


def test_scope_uses_the_config_that_has_its_data_or_the_named_one(owner, seed, plan):
    first, second = seed.config("a"), seed.config("b")
    seed.points(second, "project_total", None, {0: 42})
    seed.points(first, "project_total", None, {0: 1}, start=T0 - timedelta(days=30))
    body = owner.get(f"{BASE}/metrics/total", params=Q).json()
    assert body["scan_config_id"] == str(second.id) and body["data"][0]["count"] == 42
    body = owner.get(f"{BASE}/metrics/total", params={**Q, "scan_config_id": str(first.id)}).json()
    # the named config last observed 30 days ago: the window is after its observed time, so no points (not zeros)
    assert body["scan_config_id"] == str(first.id) and body["data"] == []
    r = owner.get(f"{BASE}/metrics/total", params={**Q, "scan_config_id": str(uuid.uuid4())})
    assert r.status_code == 404


def test_watermark_hides_unscanned_buckets(owner, seed, db):
    cfg = seed.config()
    seed.points(cfg, "project_total", None, {0: 5})
    db.execute(text("insert into scan_states (scan_config_id, watermark, histogram_edges) values (:c, :w, '{}')"),
               {"c": cfg.id, "w": T0 + 2 * STEP})
    db.commit()
    assert [p["count"] for p in owner.get(f"{BASE}/metrics/total", params=Q).json()["data"]] == [5, 0]


def test_events_metrics_sums_the_filtered_events(owner, seed, plan):
    cfg = seed.config()
    ev = plan["events"]
    seed.points(cfg, "event", ev["home"]["id"], {0: 2, 1: 1},
                v={1: {"expected": 1.0, "z": 0.1, "is_anomaly": False}})
    seed.points(cfg, "event", ev["search"]["id"], {0: 3, 1: 30},
                v={1: {"expected": 2.0, "z": 7.5, "is_anomaly": True, "direction": "spike"}})
    seed.points(cfg, "event", ev["cart"]["id"], {0: 100})
    body = owner.get(f"{BASE}/metrics/events", params=Q).json()
    assert body["scope"] == "events" and [p["count"] for p in body["data"]] == [105, 31, 0, 0]
    second = body["data"][1]
    assert (second["expected"], second["is_anomaly"], second["direction"], second["z"]) == (3.0, True, "spike", 7.5)
    body = owner.get(f"{BASE}/metrics/events", params={**Q, "tag": "core"}).json()
    assert [p["count"] for p in body["data"]] == [5, 31, 0, 0]
    body = owner.get(f"{BASE}/metrics/events", params={**Q, "search": "HOM"}).json()
    assert [p["count"] for p in body["data"]] == [2, 1, 0, 0]
    body = owner.get(f"{BASE}/metrics/events", params={**Q, "status": ["draft"]}).json()
    assert [p["count"] for p in body["data"]] == [0, 0, 0, 0]
    r = owner.get(f"{BASE}/metrics/events", params={**Q, "status": ["nope"]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["query", "status"]


def test_latest_signal_and_its_forecast(owner, seed):
    cfg = seed.config()
    seed.points(cfg, "project_total", None, {0: 5, 1: 80})
    band = [{"bucket": (T0 + 2 * STEP).isoformat(), "expected": 6.0, "lower": 1.0, "upper": 12.0}]
    seed.signal(cfg, "project_total", None, since=T0 + STEP, bucket=T0 + STEP, forecast=band, actual=80.0)
    body = owner.get(f"{BASE}/metrics/total", params=Q).json()
    assert body["latest_signal"]["status"] == "open" and body["latest_signal"]["actual"] == 80.0
    assert [(f["expected"], f["lower"], f["upper"]) for f in body["forecast"]] == [(6.0, 1.0, 12.0)]


def test_forecast_is_computed_from_history_without_an_open_signal(owner, seed):
    cfg = seed.config()
    n = 700  # past the default warm-up (672: a week of 15-minute buckets)
    seed.points(cfg, "project_total", None, {i: 100 for i in range(n)})
    body = owner.get(f"{BASE}/metrics/total", params={"from": (T0 + (n - 4) * STEP).isoformat(),
                                                      "to": (T0 + (n + 2) * STEP).isoformat()}).json()
    # buckets after the newest observed one are not points (not zeros): the forecast covers them
    assert [p["count"] for p in body["data"]] == [100, 100, 100, 100]
    assert len(body["forecast"]) == 12
    first = body["forecast"][0]
    assert first["bucket"].startswith((T0 + n * STEP).isoformat()[:16])
    assert abs(first["expected"] - 100) < 5 and first["lower"] < 100 < first["upper"]


def test_active_signals_open_only_and_filtered_by_event(owner, seed, plan):
    cfg = seed.config()
    home, search = plan["events"]["home"]["id"], plan["events"]["search"]["id"]
    s1 = seed.signal(cfg, "event", home, since=T0, bucket=T0 + 2 * STEP, peak_z=-9.0, z=-6.0, direction="drop")
    s2 = seed.signal(cfg, "event", search, since=T0, bucket=T0 + 3 * STEP)
    seed.signal(cfg, "event", search, since=T0 - timedelta(days=1), bucket=T0 - timedelta(days=1), status="closed")
    s4 = seed.signal(cfg, "project_total", None, since=T0, bucket=T0 + 3 * STEP, peak_z=20.0)
    ids = [s["id"] for s in owner.get(f"{BASE}/anomalies/signals").json()]
    assert ids == [str(s4.id), str(s2.id), str(s1.id)]  # newest bucket first, then strongest
    got = owner.get(f"{BASE}/anomalies/signals", params={"event_id": [home]}).json()
    assert [(s["id"], s["direction"], s["event_id"], s["since"][:10]) for s in got] == [
        (str(s1.id), "drop", home, "2026-03-02")]
    got = owner.post(f"{BASE}/anomalies/signals/query", json={"event_ids": [home, search]}).json()
    assert [s["id"] for s in got] == [str(s2.id), str(s1.id)]
    assert len(owner.post(f"{BASE}/anomalies/signals/query", json={}).json()) == 3
    r = owner.post(f"{BASE}/anomalies/signals/query", json={"event_ids": ["x"]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body", "event_ids"]


def test_window_metrics_totals_per_event(owner, seed, plan):
    cfg = seed.config()
    home, search = plan["events"]["home"]["id"], plan["events"]["search"]["id"]
    seed.points(cfg, "event", home, {0: 2, 1: 3, 5: 100},
                v={1: {"is_anomaly": True, "direction": "spike", "z": 6.0}})
    r = owner.post(f"{BASE}/metrics/events/window", json={"event_ids": [home, search, str(uuid.uuid4())],
                                                          "time_from": Q["from"], "time_to": Q["to"]})
    assert r.status_code == 200, r.text
    got = {i["event_id"]: (i["count"], i["anomalies"]) for i in r.json()}
    assert got == {home: (5, 1), search: (0, 0)}  # unknown ids left out, bucket 5 outside the window
    r = owner.post(f"{BASE}/metrics/events/window", json={"event_ids": [home], "time_from": Q["to"],
                                                          "time_to": Q["from"]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "time_from"]
    assert owner.post(f"{BASE}/metrics/events/window", json={}).status_code == 422


def test_overview_kpis_and_top_events(owner, seed, plan):
    cfg = seed.config()
    ev = plan["events"]
    now = utcnow()
    recent = now - timedelta(hours=2)
    recent = recent.replace(minute=0, second=0, microsecond=0)
    seed.points(cfg, "event", ev["home"]["id"], {0: 10}, start=recent)
    seed.points(cfg, "event", ev["search"]["id"], {0: 30, 1: 0}, start=recent)
    seed.points(cfg, "event", ev["cart"]["id"], {0: 4}, start=recent - timedelta(hours=60))
    seed.points(cfg, "event", ev["home"]["id"], {0: 5}, start=recent - timedelta(hours=50))
    seed.points(cfg, "project_total", None, {0: 40}, start=recent)
    body = owner.get(f"{BASE}/metrics/overview/kpis", params={"days": 3}).json()
    assert body["days"] == 3 and len(body["active_events"]) == 3
    assert body["active_events"][-1]["date"] == now.date().isoformat()
    day = next(d for d in body["active_events"] if d["date"] == recent.date().isoformat())
    assert (day["active_events"], day["volume"]) == (2, 40)
    assert owner.get(f"{BASE}/metrics/overview/kpis", params={"days": 0}).status_code == 422
    assert owner.get(f"{BASE}/metrics/overview/kpis", params={"days": 366}).status_code == 422
    top = owner.get(f"{BASE}/metrics/overview/top-events").json()
    assert [(t["name"], t["count"], t["previous_count"]) for t in top] == [("search", 30, 0), ("home", 10, 5)]
    assert top[1]["change"] == 1.0 and top[0]["change"] is None
    top = owner.get(f"{BASE}/metrics/overview/top-events", params={"limit": 1, "window_hours": 72}).json()
    assert [(t["name"], t["count"]) for t in top] == [("search", 30)]
    for bad in ({"limit": 0}, {"limit": 101}, {"window_hours": 0}, {"window_hours": 721}):
        r = owner.get(f"{BASE}/metrics/overview/top-events", params=bad)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", next(iter(bad))]


def test_project_total_sums_the_configs_of_different_event_types(owner, seed, plan, db):
    """Get Metrics Total answered with one scan config's total; with one config per event type (the demo) that
    is a fraction of the project's volume."""
    other = owner.post(f"{BASE}/event-types", json={"name": "purchase", "display_name": "Purchase"}).json()
    a = seed.config("a", event_type_id=plan["event_type"]["id"])
    b = seed.config("b", event_type_id=other["id"])
    seed.points(a, "project_total", None, {0: 5, 1: 7, 2: 1, 3: 90},
                v={3: {"expected": 10.0, "lower": 2.0, "upper": 18.0, "z": 9.5, "is_anomaly": True,
                       "direction": "spike"}})
    seed.points(b, "project_total", None, {0: 1, 1: 2, 2: 3, 3: 4}, v={3: {"expected": 4.0, "lower": 1.0,
                                                                       "upper": 7.0, "z": 0.0}})
    body = owner.get(f"{BASE}/metrics/total", params=Q).json()
    assert [p["count"] for p in body["data"]] == [6, 9, 4, 94]
    last = body["data"][3]
    assert (last["expected"], last["lower"], last["upper"]) == (14.0, 3.0, 25.0)
    assert (last["is_anomaly"], last["direction"], last["z"]) == (True, "spike", 9.5)
    # one config's total is still there when asked for
    one = owner.get(f"{BASE}/metrics/total", params={**Q, "scan_config_id": str(b.id)}).json()
    assert [p["count"] for p in one["data"]] == [1, 2, 3, 4]
    # an unrestricted config reading the same rows is not added on top: the larger reading wins per bucket
    c = seed.config("all")
    seed.points(c, "project_total", None, {0: 100, 1: 1, 2: 4, 3: 94})
    body = owner.get(f"{BASE}/metrics/total", params=Q).json()
    assert [p["count"] for p in body["data"]] == [100, 9, 4, 94]


def test_project_total_uses_the_coarsest_interval(owner, seed, plan):
    other = owner.post(f"{BASE}/event-types", json={"name": "purchase", "display_name": "Purchase"}).json()
    fine = seed.config("fine", event_type_id=plan["event_type"]["id"])
    coarse = seed.config("coarse", interval="1h", event_type_id=other["id"])
    seed.points(fine, "project_total", None, {0: 1, 1: 2, 2: 3, 3: 4, 4: 5})
    seed.points(coarse, "project_total", None, {0: 10, 1: 20}, step=timedelta(hours=1))
    body = owner.get(f"{BASE}/metrics/total", params={"from": T0.isoformat(),
                                                      "to": (T0 + timedelta(hours=2)).isoformat()}).json()
    assert body["interval"] == "1h"
    assert [p["count"] for p in body["data"]] == [20, 25]
