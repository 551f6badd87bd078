"""Findings fixtures: a main-branch plan made through the API, a scan config, and a `seed` helper that writes
rows straight into the pipeline tables (metric_points, signals, drifts…) so every number is hand-computable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tripl_core.db.models.findings import AnomalySignal, SignalStatus
from tripl_core.db.models.metrics import MetricPoint, ScopeType
from tripl_core.db.models.sources import DataSource, ScanConfig

BASE = "/api/v1/projects/shop-app"
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday, 00:00 UTC
STEP = timedelta(minutes=15)


@pytest.fixture
def plan(owner: TestClient, project: dict) -> dict:
    r = owner.post(f"{BASE}/event-types", json={"name": "screen_view", "display_name": "Screen view",
                                                 "field_definitions": [
                                                     {"name": "platform", "display_name": "Platform",
                                                      "field_type": "enum", "enum_options": ["ios", "android"]},
                                                     {"name": "duration", "display_name": "Duration",
                                                      "field_type": "string"}]})
    assert r.status_code == 201, r.text
    et = r.json()
    events = {}
    for name in ("home", "search", "cart"):
        r = owner.post(f"{BASE}/events", json={"event_type_id": et["id"], "name": name, "status": "live",
                                                 "tags": ["core"] if name != "cart" else []})
        assert r.status_code == 201, r.text
        events[name] = r.json()
    return {"event_type": et, "events": events, "project": project}


class Seed:
    def __init__(self, db: Session, project_id: uuid.UUID):
        self.db = db
        self.project_id = project_id

    def config(self, name: str = "main", interval: str = "15m", event_type_id: str | None = None,
               **extra: Any) -> ScanConfig:
        ds = DataSource(name=f"wh-{name}-{uuid.uuid4().hex[:6]}", db_type="postgres", host="localhost",
                        database_name="wh")
        self.db.add(ds)
        self.db.flush()
        cfg = ScanConfig(project_id=self.project_id, data_source_id=ds.id, name=name, base_query="select 1",
                         interval=interval, event_type_id=uuid.UUID(event_type_id) if event_type_id else None,
                         **extra)
        self.db.add(cfg)
        self.db.commit()
        return cfg

    def points(self, cfg: ScanConfig, scope_type: str, scope_ref: str | None, counts: dict[int, int],
               start: datetime = T0, step: timedelta = STEP, **verdicts: dict[int, dict[str, Any]]) -> None:
        """counts: {bucket index: count}; verdicts['v']: {bucket index: {expected, lower, upper, z, ...}}."""
        extra = verdicts.get("v", {})
        for i, c in counts.items():
            self.db.add(MetricPoint(scan_config_id=cfg.id, scope_type=ScopeType(scope_type),
                                    scope_ref=uuid.UUID(scope_ref) if scope_ref else None,
                                    bucket=start + i * step, count=c, **extra.get(i, {})))
        self.db.commit()

    def signal(self, cfg: ScanConfig, scope_type: str, scope_ref: str | None, since: datetime,
               bucket: datetime, status: str = "open", **kw: Any) -> AnomalySignal:
        values = {"direction": "spike", "bucket_count": 1, "actual": 100.0, "expected": 10.0, "z": 8.0,
                  "peak_z": 8.0, **kw}
        s = AnomalySignal(id=uuid.uuid4(), project_id=self.project_id, scan_config_id=cfg.id,
                          scope_type=ScopeType(scope_type), scope_ref=uuid.UUID(scope_ref) if scope_ref else None,
                          status=SignalStatus(status), since=since, bucket=bucket, **values)
        self.db.add(s)
        self.db.commit()
        return s

    def add(self, *rows: Any) -> None:
        self.db.add_all(rows)
        self.db.commit()


@pytest.fixture
def seed(db: Session, plan: dict) -> Seed:
    return Seed(db, uuid.UUID(plan["project"]["id"]))
