"""Root cause and releases: top movers order, heatmap cells, breakdown timelines, app versions, regressions,
distribution drifts — against hand-computed numbers."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

from tests.findings.conftest import BASE, STEP, T0
from tripl_core.db.models.findings import DistributionDrift, ReleaseRegression
from tripl_core.db.models.metrics import AppVersionPoint, BreakdownPoint, ScopeType

Q = {"from": T0.isoformat(), "to": (T0 + 4 * STEP).isoformat()}


def _bd(cfg, bucket, column, value, count, scope_type="project_total", scope_ref=None, other=False):
    return BreakdownPoint(scan_config_id=cfg.id, scope_type=ScopeType(scope_type),
                          scope_ref=uuid.UUID(scope_ref) if scope_ref else None, bucket=bucket, column=column,
                          value=value, is_other=other, count=count)


def _z(a: float, e: float) -> float:
    return 2 * (math.sqrt(a + 0.375) - math.sqrt(e + 0.375))


def test_top_movers_rank_by_abs_z_across_columns(owner, seed):
    cfg = seed.config()
    b = T0 + timedelta(days=7)
    base = T0 + timedelta(days=1)
    seed.add(_bd(cfg, base, "country", "US", 600), _bd(cfg, base, "country", "DE", 300),
             _bd(cfg, base, "country", None, 100, other=True),
             _bd(cfg, base, "platform", "ios", 500), _bd(cfg, base + STEP, "platform", "android", 500),
             _bd(cfg, b, "country", "US", 60), _bd(cfg, b, "country", None, 10, other=True),
             _bd(cfg, b, "platform", "ios", 70),
             _bd(cfg, b - timedelta(days=8), "country", "FR", 999))  # outside the 7-day baseline
    seed.points(cfg, "project_total", None, {0: 70}, start=b, v={0: {"expected": 100.0, "is_anomaly": True}})
    params = {"scope_type": "project_total", "scope_ref": "-", "bucket": (b + timedelta(minutes=3)).isoformat(),
              "limit": 3}
    r = owner.get(f"{BASE}/scans/{cfg.id}/top-movers", params=params)
    assert r.status_code == 200, r.text
    rows = r.json()
    assert [(m["column"], m["value"]) for m in rows] == [("platform", "android"), ("country", "DE"),
                                                       ("platform", "ios")]
    assert [round(m["z"], 3) for m in rows] == [round(_z(0, 50), 3), round(_z(0, 30), 3), round(_z(70, 50), 3)]
    assert (rows[1]["actual"], rows[1]["expected"], rows[1]["delta"]) == (0.0, 30.0, -30.0)
    everything = owner.get(f"{BASE}/scans/{cfg.id}/top-movers", params={**params, "limit": 100}).json()
    other = next(m for m in everything if m["is_other"])
    assert (other["column"], other["value"], other["expected"], other["actual"]) == ("country", None, 10.0, 10.0)
    assert all(m["value"] != "FR" for m in everything)


def test_top_movers_validation(owner, seed):
    cfg = seed.config()
    url = f"{BASE}/scans/{cfg.id}/top-movers"
    ok = {"scope_type": "event", "scope_ref": str(uuid.uuid4()), "bucket": T0.isoformat()}
    assert owner.get(url, params=ok).json() == []
    for bad, field in (({"scope_type": "galaxy"}, "scope_type"), ({"scope_ref": "abc"}, "scope_ref"),
                       ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"bucket": "soon"}, "bucket")):
        r = owner.get(url, params={**ok, **bad})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", field], (bad, r.text)
    r = owner.get(url, params={"scope_type": "event", "bucket": T0.isoformat()})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "scope_ref"]
    assert owner.get(f"{BASE}/scans/{uuid.uuid4()}/top-movers", params=ok).status_code == 404


def test_seasonality_heatmap_cells(owner, seed):
    cfg = seed.config()
    seed.points(cfg, "project_total", None, {0: 10, 4: 20, 96: 5}, v={0: {"is_anomaly": True}})
    r = owner.get(f"{BASE}/scans/{cfg.id}/seasonality",
                  params={"scope_type": "project_total", "scope_ref": "", "from": T0.isoformat(),
                          "to": (T0 + timedelta(days=2)).isoformat()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["cells"]) == 168 and body["max_count"] == 20 and body["total_count"] == 35
    cells = {(c["weekday"], c["hour"]): c for c in body["cells"]}
    assert (cells[0, 0]["count"], cells[0, 0]["anomalies"], cells[0, 0]["anomaly_density"]) == (10, 1, 1.0)
    assert cells[0, 1]["count"] == 20 and cells[1, 0]["count"] == 5 and cells[3, 3]["count"] == 0


def test_breakdown_timeline_value_and_other(owner, seed, plan):
    cfg = seed.config()
    home = plan["events"]["home"]["id"]
    seed.add(_bd(cfg, T0, "country", "US", 3, "event", home), _bd(cfg, T0 + 2 * STEP, "country", "US", 5, "event", home),
             _bd(cfg, T0, "country", None, 7, "event", home, other=True),
             _bd(cfg, T0, "country", "US", 1000))  # project total: another scope
    seed.points(cfg, "event", home, {0: 10, 2: 5})
    params = {**Q, "scope_type": "event", "scope_ref": home, "breakdown_column": "country", "breakdown_value": "US"}
    body = owner.get(f"{BASE}/scans/{cfg.id}/breakdown-timeline", params=params).json()
    assert [(p["count"], p["total"], p["share"]) for p in body["data"]] == [(3, 10, 0.3), (0, 0, None), (5, 5, 1.0),
                                                                            (0, 0, None)]
    assert body["breakdown_value"] == "US" and body["is_other"] is False and body["interval"] == "15m"
    body = owner.get(f"{BASE}/scans/{cfg.id}/breakdown-timeline", params={**params, "is_other": True}).json()
    assert [p["count"] for p in body["data"]] == [7, 0, 0, 0] and body["is_other"] is True
    r = owner.get(f"{BASE}/scans/{cfg.id}/breakdown-timeline", params={k: v for k, v in params.items()
                                                                       if k != "breakdown_column"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "breakdown_column"]


def test_event_metric_breakdowns(owner, seed, plan):
    cfg = seed.config(metric_breakdown_columns=["platform", "country"])
    home = plan["events"]["home"]["id"]
    seed.add(_bd(cfg, T0, "country", "US", 3, "event", home), _bd(cfg, T0 + STEP, "country", "US", 5, "event", home),
             _bd(cfg, T0, "country", "DE", 9, "event", home),
             _bd(cfg, T0, "country", None, 7, "event", home, other=True))
    seed.points(cfg, "event", home, {0: 19, 1: 5})
    body = owner.get(f"{BASE}/metrics/events/{home}/breakdowns", params=Q).json()
    assert body["columns"] == ["platform", "country"] and body["selected_column"] == "platform"
    assert body["series"] == []
    body = owner.get(f"{BASE}/metrics/events/{home}/breakdowns", params={**Q, "column": "country"}).json()
    assert [(s["value"], s["is_other"], s["total"]) for s in body["series"]] == [("DE", False, 9), ("US", False, 8),
                                                                                 (None, True, 7)]
    assert [p["count"] for p in body["series"][1]["data"]] == [3, 5, 0, 0]
    r = owner.get(f"{BASE}/metrics/events/{home}/breakdowns", params={**Q, "column": "nope"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "column"]


def _av(cfg, i, version, count, other=False):
    return AppVersionPoint(scan_config_id=cfg.id, scope_type=ScopeType.project_total, scope_ref=None,
                           bucket=T0 + i * STEP, app_version=version, is_other=other, count=count)


def test_app_version_series_and_adoption(owner, seed):
    cfg = seed.config(app_version_column="app_version")
    seed.add(_av(cfg, 0, "1.9.0", 10), _av(cfg, 0, "1.10.0", 5), _av(cfg, 1, "1.10.0", 20),
             _av(cfg, 1, None, 3, other=True))
    body = owner.get(f"{BASE}/scans/{cfg.id}/app-versions", params=Q).json()
    assert body["latest_version"] == "1.10.0" and body["app_version_column"] == "app_version"
    assert body["versions"] == [{"app_version": "1.10.0", "count": 25}, {"app_version": "1.9.0", "count": 10}]
    assert [(s["app_version"], s["is_other"], [p["count"] for p in s["data"]]) for s in body["series"]] == [
        ("1.10.0", False, [5, 20, 0, 0]), ("1.9.0", False, [10, 0, 0, 0]), (None, True, [0, 3, 0, 0])]
    body = owner.get(f"{BASE}/scans/{cfg.id}/app-versions/adoption", params=Q).json()
    assert body["series"][0]["data"][0]["share"] == 5 / 15 and body["series"][0]["data"][2]["share"] is None
    totals = {(t["app_version"], t["is_other"]): t for t in body["totals"]}
    assert totals["1.10.0", False]["share"] == 25 / 38 and totals[None, True]["count"] == 3
    assert totals["1.9.0", False]["last_seen"].startswith("2026-03-02T00:00")
    r = owner.get(f"{BASE}/scans/{cfg.id}/app-versions", params={**Q, "scope_type": "event", "scope_ref": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "scope_ref"]


def test_release_regressions(owner, seed, plan):
    cfg = seed.config(app_version_column="app_version")
    home, search = plan["events"]["home"]["id"], plan["events"]["search"]["id"]

    def reg(ref, version, z, is_regression):
        return ReleaseRegression(id=uuid.uuid4(), project_id=cfg.project_id, scan_config_id=cfg.id,
                                 scope_type=ScopeType.event, scope_ref=uuid.UUID(ref), app_version=version,
                                 baseline_versions=["1.9.0"], release_count=2, release_total=1000,
                                 baseline_count=200, baseline_total=10000, release_share=0.002,
                                 baseline_share=0.02, ratio=0.1, expected_count=20.0, z=z, direction="drop",
                                 is_regression=is_regression, detected_at=T0)
    seed.add(reg(home, "1.10.0", -6.0, True), reg(search, "1.10.0", -0.5, False), reg(search, "1.9.1", -8.0, True))
    body = owner.get(f"{BASE}/scans/{cfg.id}/release-regressions").json()
    assert body["latest_version"] == "1.10.0"
    assert [(i["event_name"], i["app_version"]) for i in body["items"]] == [("home", "1.10.0"), ("search", "1.9.1")]
    item = body["items"][0]
    assert (item["release_share"], item["baseline_share"], item["expected_count"]) == (0.002, 0.02, 20.0)
    assert math.isclose(item["p_value"], 1.973e-9, rel_tol=1e-3)
    assert owner.get(f"{BASE}/scans/{cfg.id}/release-regressions",
                     params={"scope_type": "project_total"}).json()["items"] == []
    r = owner.get(f"{BASE}/scans/{cfg.id}/release-regressions", params={"scope_type": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "scope_type"]


def test_distribution_drifts(owner, seed, plan):
    cfg = seed.config()
    et = plan["event_type"]["id"]

    def day(i, drift, p):
        start = T0 + timedelta(days=i)
        return DistributionDrift(id=uuid.uuid4(), project_id=cfg.project_id, scan_config_id=cfg.id,
                                 scope_type=ScopeType.event_type, scope_ref=uuid.UUID(et), event_type_id=uuid.UUID(et),
                                 field="duration", window_start=start, window_end=start + timedelta(days=1),
                                 baseline_start=start - timedelta(days=7), baseline_end=start, current_count=100,
                                 baseline_count=700, chi2_p_value=p, js_distance=0.4 if drift else 0.01, psi=0.3,
                                 is_drift=drift, edges=[1, 2], current_hist=[10, 80, 10], baseline_hist=[70, 560, 70])
    seed.add(day(0, False, 0.5), day(1, True, 1e-9))
    params = {"scope_type": "event_type", "scope_ref": et, "from": T0.isoformat(),
              "to": (T0 + timedelta(days=3)).isoformat()}
    body = owner.get(f"{BASE}/distribution-drifts", params=params).json()
    assert body["scan_config_id"] == str(cfg.id) and body["event_type_id"] == et
    assert [(d["window_start"][:10], d["is_drift"]) for d in body["data"]] == [("2026-03-02", False),
                                                                               ("2026-03-03", True)]
    assert body["fields"] == [{"field": "duration", "days": 2, "drift_days": 1,
                               "latest_window_start": "2026-03-03T00:00:00Z", "is_drift": True,
                               "chi2_p_value": 1e-9, "js_distance": 0.4, "psi": 0.3}]
    r = owner.get(f"{BASE}/distribution-drifts", params={**params, "scope_type": "event"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "scope_type"]
    assert owner.get(f"{BASE}/distribution-drifts", params={**params, "scope_ref": str(uuid.uuid4())}
                     ).status_code == 404
