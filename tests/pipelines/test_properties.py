"""Generated requests against scans, findings and alerting with real ids in the path (schemathesis): never 5xx,
responses match their schemas.

A replay over the crafted rows leaves real findings (signals, schema drifts, shadow-event candidates, …); every
operation addressing a scan config, scan job, drift, candidate, alert rule or destination gets a real id, and the
metric/finding reads run against stored rows instead of an empty project. Data-source operations are left out:
a generated host makes them answer 502 (the warehouse did not answer), which is their documented meaning.
`TRIPL_PROPERTY_EXAMPLES` raises the budget for a deeper local run (50 passed when this was written).
"""

from __future__ import annotations

import os
from datetime import timedelta

from sqlalchemy import text

from tests.api.helpers import bearer, mint_key
from tests.api.properties import failures, operations, pin
from tests.pipelines.data import LAST, START
from tests.pipelines.helpers import replay

BASE = "/api/v1/projects/shop-app"
AREAS = ("/metrics", "/signals", "/anomal", "/drift", "/reconciliation", "/releases", "/alerts", "/monitors",
         "/overview", "/scans")


def test_operations_on_real_findings_conform(app, owner, pg_scan, db, plan):
    job = replay(db, pg_scan, START, LAST + timedelta(days=1))
    assert job.status.value == "succeeded", job.error_message
    dest = owner.post(f"{BASE}/alerts/destinations", json={"type": "webhook", "name": "w",
                                                            "target_url": "http://127.0.0.1:9/hook"})
    assert dest.status_code == 201, dest.text
    rule = owner.post(f"{BASE}/alerts/destinations/{dest.json()['id']}/rules", json={"name": "all"})
    assert rule.status_code == 201, rule.text
    ids = {"slug": "shop-app", "scan_id": pg_scan["id"], "scan_config_id": pg_scan["id"], "job_id": str(job.id),
           "drift_id": str(db.execute(text("SELECT id FROM schema_drifts LIMIT 1")).scalar_one()),
           "candidate_id": str(db.execute(text("SELECT id FROM shadow_event_candidates LIMIT 1")).scalar_one()),
           "rule_id": rule.json()["id"], "destination_id": dest.json()["id"],
           "event_type_id": plan["event_type"]["id"], "event_id": plan["events"]["home"]["id"]}
    headers = bearer(mint_key(owner, "schemathesis", scope="write")["token"])

    pinned = pin(ids)
    ops = [op for op in operations(app) if op.path.startswith("/api/v1/projects/{slug}/")
           and (set(pinned(op)) - {"slug", "event_id", "event_type_id"} or any(a in op.path for a in AREAS))]
    ops.sort(key=lambda op: op.method.upper() == "DELETE")
    assert len(ops) >= 40
    found = failures(ops, headers, int(os.environ.get("TRIPL_PROPERTY_EXAMPLES") or 3), pinned=pinned)
    assert not found, f"{len(found)} operation(s) failed:\n\n" + "\n\n".join(found)
