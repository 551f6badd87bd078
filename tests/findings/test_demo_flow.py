"""End to end on the pipelines' crafted warehouse (tests/pipelines/data.py): a replay by the in-process runner,
then every injected incident is found and explained through the findings API — signal → top movers → breakdown
timeline; drift → accept → the plan changed; release regression; distribution drift."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from tests.findings.conftest import BASE
from tests.pipelines.conftest import (  # noqa: F401  (fixtures)
    _source,
    judge_after_a_week,
    make_config,
    pipe_pg,
    plan,
    raw_rows,
)
from tests.pipelines.data import LAST, SPIKE_AT, START
from tests.pipelines.helpers import replay

WINDOW = {"from": START.isoformat(), "to": (LAST + timedelta(days=1)).isoformat()}


@pytest.fixture
def scanned(owner, db, plan, pipe_pg):  # noqa: F811
    judge_after_a_week(owner)
    scan = make_config(owner, _source(owner, "postgres", pipe_pg, None))
    job = replay(db, scan, START, LAST + timedelta(days=1))
    assert job.status.value == "succeeded", job.error_message
    return scan


def _iso(ts) -> str:
    return pd.Timestamp(ts).isoformat().replace("+00:00", "Z")


def test_spike_is_found_and_explained(owner, scanned, plan):  # noqa: F811
    home = plan["events"]["home"]["id"]
    series = owner.get(f"{BASE}/metrics/events/{home}", params=WINDOW).json()
    assert series["interval"] == "1h" and len(series["data"]) == 240
    point = next(p for p in series["data"] if p["bucket"] == _iso(SPIKE_AT))
    assert point["is_anomaly"] and point["direction"] == "spike" and point["count"] > point["upper"]
    total = sum(p["count"] for p in series["data"])
    window = owner.post(f"{BASE}/metrics/events/window", json={"event_ids": [home], "time_from": WINDOW["from"],
                                                               "time_to": WINDOW["to"]}).json()
    assert window[0]["count"] == total

    params = {"scope_type": "event", "scope_ref": home, "bucket": _iso(SPIKE_AT), "limit": 3}
    movers = owner.get(f"{BASE}/scans/{scanned['id']}/top-movers", params=params).json()
    assert len(movers) == 3 and all(m["column"] == "props.platform" and m["delta"] > 0 for m in movers)
    assert abs(movers[0]["z"]) >= abs(movers[-1]["z"])
    assert sum(m["actual"] for m in movers) == point["count"]  # three platforms explain the whole bucket

    top = movers[0]
    timeline = owner.get(f"{BASE}/scans/{scanned['id']}/breakdown-timeline", params={
        "scope_type": "event", "scope_ref": home, "breakdown_column": "props.platform",
        "breakdown_value": top["value"], **WINDOW}).json()
    at_spike = next(p for p in timeline["data"] if p["bucket"] == _iso(SPIKE_AT))
    assert at_spike["count"] == top["actual"] and at_spike["total"] == point["count"]

    heat = owner.get(f"{BASE}/scans/{scanned['id']}/seasonality", params={
        "scope_type": "event", "scope_ref": home, **WINDOW}).json()
    assert heat["total_count"] == total
    assert sum(c["anomalies"] for c in heat["cells"]) == sum(p["is_anomaly"] for p in series["data"])


def test_silent_event_is_an_active_signal(owner, scanned, plan):  # noqa: F811
    cart = plan["events"]["cart"]["id"]
    active = owner.post(f"{BASE}/anomalies/signals/query", json={"event_ids": [cart]}).json()
    assert [s["direction"] for s in active] == ["drop"] and active[0]["since"] >= _iso(LAST)
    series = owner.get(f"{BASE}/metrics/events/{cart}", params={
        "from": LAST.isoformat(), "to": (LAST + timedelta(days=1)).isoformat()}).json()
    assert [p["count"] for p in series["data"]] == [0] * 24
    assert series["latest_signal"]["id"] == active[0]["id"]


def test_schema_drift_accept_teaches_the_plan(owner, scanned, plan):  # noqa: F811
    et = plan["event_type"]["id"]
    drifts = owner.get(f"{BASE}/event-types/{et}/drifts").json()["items"]
    new = next(d for d in drifts if d["field_name"] == "experiment_id" and d["drift_type"] == "new_field")
    mismatch = next(d for d in drifts if d["field_name"] == "load_time_ms" and d["drift_type"] == "type_mismatch")
    assert owner.post(f"{BASE}/drifts/{new['id']}/action", json={"action": "accept"}).status_code == 200
    r = owner.post(f"{BASE}/drifts/{mismatch['id']}/action", json={"action": "accept"})
    assert r.status_code == 200, r.text
    fields = {f["name"]: f for f in owner.get(f"{BASE}/event-types/{et}/fields").json()}
    assert fields["experiment_id"]["field_type"] == "string"
    assert fields["load_time_ms"]["field_type"] == mismatch["observed_type"] == "string"


def test_release_regression_and_distribution_drift(owner, scanned, plan):  # noqa: F811
    search = plan["events"]["search"]["id"]
    body = owner.get(f"{BASE}/scans/{scanned['id']}/release-regressions").json()
    assert body["latest_version"] == "2.0" and body["app_version_column"] == "app_version"
    hit = [i for i in body["items"] if i["event_id"] == search and i["app_version"] == "2.0"]
    assert len(hit) == 1 and hit[0]["direction"] == "drop" and hit[0]["p_value"] < 0.001
    adoption = owner.get(f"{BASE}/scans/{scanned['id']}/app-versions/adoption", params=WINDOW).json()
    assert [t["app_version"] for t in adoption["totals"]] == ["2.0", "1.1", "1.0"]

    shadows = owner.get(f"{BASE}/reconciliation/shadow-events").json()
    assert [(i["name"], i["total_count"]) for i in shadows["items"]] == [("promo_banner", 300)]
    url = f"{BASE}/reconciliation/shadow-events/{shadows['items'][0]['id']}/accept"
    r = owner.post(url, json={})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "field_values"]  # required enum
    r = owner.post(url, json={"field_values": [{"field_name": "platform", "value": "ios"}]})
    assert r.status_code == 200 and owner.get(f"{BASE}/events/{r.json()['event_id']}").json()["name"] == \
        "promo_banner"

    et = plan["event_type"]["id"]
    found = []
    for scope in ({"scope_type": "event_type", "scope_ref": et}, {"scope_type": "project_total", "scope_ref": "-"}):
        found += owner.get(f"{BASE}/distribution-drifts", params={**scope, **WINDOW}).json()["fields"]
    price = [f for f in found if f["field"] == "props.price"]
    assert price and all(f["is_drift"] and f["drift_days"] == 1 for f in price)
