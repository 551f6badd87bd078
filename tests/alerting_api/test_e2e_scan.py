"""End to end: the pipelines' crafted warehouse rows (tests/pipelines/data.py) are scanned by a replay, the
injected incidents become findings, dispatch turns them into one delivery per rule for that scan run, a local
webhook receives it, the inbox groups it, and a second dispatch sends nothing."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from tests.alerting.helpers import FakeServer
from tests.alerting_api.helpers import BASE, alert_everything, run_dispatch
from tests.pipelines.conftest import _source, judge_after_a_week, make_config, plan, raw_rows  # noqa: F401 - fixtures
from tests.pipelines.data import LAST, START
from tests.pipelines.helpers import replay
from tests.warehouse_db import create_warehouse_db

WAREHOUSE = "alert_e2e_warehouse"  # our own copy: the pipelines tests' database is never dropped under them


@pytest.fixture(scope="session")
def alert_warehouse(pg_server_url: str, raw_rows: pd.DataFrame) -> dict:  # noqa: F811
    return create_warehouse_db(
        pg_server_url, WAREHOUSE, "create table pipe_events (ts timestamptz not null, event_type text not null, "
        "name text not null, app_version text, props jsonb not null)", "pipe_events", raw_rows)


def test_replayed_incidents_reach_the_webhook_once(owner, db, plan, alert_warehouse,  # noqa: F811
                                                   hook: FakeServer):
    judge_after_a_week(owner)  # ten days of hourly rows: the incidents are on the last one
    pg_scan = make_config(owner, _source(owner, "postgres", alert_warehouse, None))
    alert_everything(owner, f"{hook.url}/e2e", "e2e")
    job = replay(db, pg_scan, START, LAST + timedelta(days=1))
    assert job.status.value == "succeeded", job.error_message

    now = LAST + timedelta(days=1, hours=1)
    report = run_dispatch(now)
    assert len(report.deliveries) == 1 and report.sent == 1, report
    assert len(hook.requests) == 1
    body = hook.last.json()
    kinds = {i["kind"] for i in body["items"]}
    assert {"volume", "schema_drift", "distribution_drift", "release_regression"} <= kinds, kinds
    volume = {(i["scope_name"], i["direction"]) for i in body["items"] if i["kind"] == "volume"}
    assert ("home", "spike") in volume and ("cart", "drop") in volume, volume
    assert body["scan"]["job_id"] == str(job.id) and body["scan"]["name"] == pg_scan["name"]

    [delivery] = owner.get(f"{BASE}/alerts/deliveries").json()["items"]
    findings = len(body["items"]) + sum(len(i["related"]) for i in body["items"])
    assert delivery["scan_job_id"] == str(job.id) and delivery["matched_count"] == findings
    inbox = owner.get(f"{BASE}/alerts/inbox").json()
    assert inbox["total"] == len(body["items"])  # one inbox item per incident, whatever its scopes
    # Content: every item says what, where and how much, and links to its finding's page in the console.
    for item in body["items"]:
        assert item["summary"] and item["link"].startswith("http://"), item
        assert "/ui/projects/shop-app/" in item["link"] and item["finding_id"] in item["link"]
        assert item["arrow"] == ("•" if item["kind"] != "volume" else {"spike": "↑", "drop": "↓"}[item["direction"]])
    assert "\n    also: event type screen_view" in body["text"]

    again = run_dispatch(now + timedelta(minutes=1))
    assert again.deliveries == [] and len(hook.requests) == 1
