"""Helpers of the alerting API tests: the plan, a scan config and findings rows, and dispatch runs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tripl_core import projects
from tripl_core.db.models.findings import (
    AnomalySignal,
    DistributionDrift,
    DriftStatus,
    DriftType,
    ReleaseRegression,
    SchemaDrift,
    SignalStatus,
)
from tripl_core.db.models.metrics import ScopeType
from tripl_core.db.models.scans import ScanJob, ScanJobKind, ScanJobStatus
from tripl_core.db.models.sources import DataSource, ScanConfig
from tripl_core.warehouse import DBType

BASE = "/api/v1/projects/shop-app"
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
DELIVERIES = f"{BASE}/alerts/deliveries"


@dataclass
class World:
    project_id: uuid.UUID
    event_type: dict
    events: dict[str, dict]
    scan_id: uuid.UUID


def make_world(owner: TestClient, db: Session) -> World:
    r = owner.post(f"{BASE}/event-types", json={"name": "checkout", "display_name": "Checkout"})
    assert r.status_code == 201, r.text
    et = r.json()
    events = {}
    for name, status, tags in (("purchase", "live", ["revenue"]), ("cart_view", "draft", []),
                               ("refund", "live", ["revenue", "support"])):
        r = owner.post(f"{BASE}/events", json={"event_type_id": et["id"], "name": name, "status": status,
                                               "tags": tags})
        assert r.status_code == 201, r.text
        events[name] = r.json()
    project_id = projects.get_by_slug(db, "shop-app").id
    ds = DataSource(name=f"wh-{uuid.uuid4().hex[:6]}", db_type=DBType.postgres, host="localhost", port=5432,
                    database_name="wh")
    db.add(ds)
    db.flush()
    cfg = ScanConfig(project_id=project_id, data_source_id=ds.id, name="Hourly events",
                     base_query="SELECT * FROM events", time_column="ts", interval="1h")
    db.add(cfg)
    db.commit()
    return World(project_id=project_id, event_type=et, events=events, scan_id=cfg.id)


def signal(db: Session, world: World, *, scope: str = "event", event: str = "purchase", direction: str = "drop",
           at: datetime | None = None, actual: float = 20.0, expected: float = 100.0, z: float = -7.0,
           status: str = "open", scan_id: uuid.UUID | None = None,
           written_at: datetime | None = None) -> AnomalySignal:
    """An anomaly signal as the pipelines write it (one incident of one scope)."""
    at = at or NOW - timedelta(hours=1)
    ref = None
    etype = uuid.UUID(world.event_type["id"])
    if scope == "event":
        ref = uuid.UUID(world.events[event]["id"])
    elif scope == "event_type":
        ref = etype
    else:
        etype = None
    row = AnomalySignal(
        id=uuid.uuid4(), project_id=world.project_id, scan_config_id=scan_id or world.scan_id,
        scope_type=ScopeType(scope), scope_ref=ref, event_type_id=etype, status=SignalStatus(status),
        direction=direction, since=at, bucket=at, bucket_count=1, actual=actual, expected=expected,
        lower=expected * 0.8, upper=expected * 1.2, z=z, peak_z=z, forecast=[])
    if written_at is not None:
        row.created_at = row.updated_at = written_at
    db.add(row)
    db.commit()
    return row


def schema_drift(db: Session, world: World, field: str = "price", drift_type: str = "type_mismatch",
                 at: datetime | None = None) -> SchemaDrift:
    at = at or NOW - timedelta(hours=1)
    row = SchemaDrift(id=uuid.uuid4(), project_id=world.project_id, scan_config_id=world.scan_id,
                      event_type_id=uuid.UUID(world.event_type["id"]), field_name=field,
                      drift_type=DriftType(drift_type), observed_type="string", declared_type="integer",
                      sample_value="12.5", details={}, status=DriftStatus.open, detected_at=at, last_seen_at=at)
    db.add(row)
    db.commit()
    return row


def distribution_drift(db: Session, world: World, at: datetime | None = None) -> DistributionDrift:
    at = at or NOW - timedelta(hours=2)
    row = DistributionDrift(
        id=uuid.uuid4(), project_id=world.project_id, scan_config_id=world.scan_id,
        scope_type=ScopeType.event_type, scope_ref=uuid.UUID(world.event_type["id"]),
        event_type_id=uuid.UUID(world.event_type["id"]), field="props.price", window_start=at,
        window_end=at + timedelta(hours=1), baseline_start=at - timedelta(days=7), baseline_end=at,
        current_count=500, baseline_count=3500, chi2_p_value=0.0001, js_distance=0.4, psi=float("nan"),
        is_drift=True, edges=[0, 10], current_hist=[1, 2, 3], baseline_hist=[3, 2, 1])
    db.add(row)
    db.commit()
    return row


def regression(db: Session, world: World, at: datetime | None = None) -> ReleaseRegression:
    at = at or NOW - timedelta(hours=1)
    row = ReleaseRegression(
        id=uuid.uuid4(), project_id=world.project_id, scan_config_id=world.scan_id, scope_type=ScopeType.event,
        scope_ref=uuid.UUID(world.events["purchase"]["id"]), event_type_id=uuid.UUID(world.event_type["id"]),
        app_version="4.2.0", baseline_versions=["4.1.0"], release_count=10, release_total=1000,
        baseline_count=500, baseline_total=10000, release_share=0.01, baseline_share=0.05, ratio=0.2,
        expected_count=50.0, z=-5.5, direction="drop", is_regression=True, detected_at=at)
    db.add(row)
    db.commit()
    return row


def scan_job(db: Session, world: World, started: datetime) -> ScanJob:
    job = ScanJob(project_id=world.project_id, scan_config_id=world.scan_id, kind=ScanJobKind.run,
                  status=ScanJobStatus.succeeded, started_at=started, completed_at=started, trigger="schedule")
    db.add(job)
    db.commit()
    return job


def alert_everything(owner: TestClient, url: str, name: str = "sink") -> dict:
    """A webhook destination at `url` with one rule that takes every kind of finding (scans end to end)."""
    r = owner.post(f"{BASE}/alerts/destinations", json={"type": "webhook", "name": name, "target_url": url})
    assert r.status_code == 201, r.text
    dest = r.json()
    r = owner.post(f"{BASE}/alerts/destinations/{dest['id']}/rules", json={
        "name": "Everything", "include_schema_drifts": True, "include_distribution_drifts": True,
        "include_release_regressions": True})
    assert r.status_code == 201, r.text
    return dest


def run_dispatch(now: datetime | None = None, **kwargs: Any):
    """One dispatch cycle in a fresh session, as the sensor does."""
    from tripl_core.alerting import dispatch
    from tripl_core.db.session import new_session

    s = new_session()
    try:
        return dispatch.run(s, now or datetime.now(UTC), **kwargs)
    finally:
        s.close()


def only_delivery(client: TestClient) -> dict:
    """The one delivery List Deliveries shows (fails when there are more or none)."""
    items = client.get(DELIVERIES).json()["items"]
    assert len(items) == 1
    return items[0]


def at(value: str) -> datetime:
    """An API timestamp as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
