"""Console fixtures: a seeded project with one of every finding (hand-written rows, as tests/findings does) and
one real alert delivery to the local webhook sink, so the signal has an inbox incident to act on."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.findings.conftest import STEP, T0, Seed, plan, seed  # noqa: F401  (fixtures)
from tripl_core.alerting import dispatch
from tripl_core.audit import Actor
from tripl_core.db.models.auth import User
from tripl_core.db.models.findings import (
    DistributionDrift,
    DriftStatus,
    DriftType,
    ReleaseRegression,
    SchemaDrift,
    ShadowEventCandidate,
    ShadowStatus,
)
from tripl_core.db.models.metrics import BreakdownPoint, ScopeType
from tripl_core.db.models.projects import Project
from tripl_core.db.models.scans import ScanJob, ScanJobKind, ScanJobStatus
from tripl_core.demo import load, sink

SPIKE = 150  # bucket index of the spike (day 2, 13:30 UTC)
N = 192  # two days of 15-minute buckets
SHOTS = Path("/work/wt/_shots")


@dataclass
class Scene:
    project: dict
    events: dict[str, dict]
    event_type: dict
    ids: dict[str, uuid.UUID]

    def url(self, kind: str) -> str:
        paths = {"signal": "signals", "drift": "drifts", "distribution_drift": "distribution-drifts",
                 "release": "releases", "shadow": "shadow-events", "dead": "dead-events", "job": "scan-jobs",
                 "event": "events"}
        return f"/ui/projects/shop-app/{paths[kind]}/{self.ids[kind]}"


@pytest.fixture
def sink_url(tmp_path: Path) -> Iterator[str]:
    server = sink.make_server(0, tmp_path / sink.SINK_FILE)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{sink.SINK_PATH}"
    server.shutdown()
    server.server_close()


def _volume(seeder: Seed, cfg: Any, scope: str, ref: str | None, scale: int) -> None:
    counts = {i: scale * (100 + (i % 4) * 5) for i in range(N)}
    counts[SPIKE] = scale * 900
    band = {i: {"expected": scale * 107.5, "lower": scale * 85.0, "upper": scale * 130.0,
                "z": 0.3, "is_anomaly": False} for i in range(N)}
    band[SPIKE] = {"expected": scale * 107.5, "lower": scale * 85.0, "upper": scale * 130.0, "z": 14.2,
                   "is_anomaly": True, "direction": "spike"}
    seeder.points(cfg, scope, ref, counts, v=band)


@pytest.fixture
def scene(owner, db: Session, plan: dict, seed: Seed, sink_url: str) -> Scene:  # noqa: F811
    et, ev = plan["event_type"], plan["events"]
    home = ev["home"]["id"]
    cfg = seed.config(event_type_id=et["id"], metric_breakdown_columns=["platform"])
    _volume(seed, cfg, "event", home, 1)
    _volume(seed, cfg, "project_total", None, 3)
    _volume(seed, cfg, "event_type", et["id"], 2)
    # by platform: ios carries the spike (what "What moved" and the event's breakdowns show)
    rows = []
    for i in range(N):
        total = 900 if i == SPIKE else 100 + (i % 4) * 5
        android = 40
        rows += [BreakdownPoint(scan_config_id=cfg.id, scope_type=ScopeType.event, scope_ref=uuid.UUID(home),
                                bucket=T0 + i * STEP, column="platform", value=v, count=c)
                 for v, c in (("ios", total - android), ("android", android))]
    seed.add(*rows)
    at = T0 + SPIKE * STEP
    sig = seed.signal(cfg, "event", home, since=at, bucket=at, actual=900.0, expected=107.5, lower=85.0,
                      upper=130.0, z=14.2, peak_z=14.2, event_type_id=uuid.UUID(et["id"]))
    pid = uuid.UUID(plan["project"]["id"])
    end = T0 + N * STEP
    drift = SchemaDrift(id=uuid.uuid4(), project_id=pid, scan_config_id=cfg.id, event_type_id=uuid.UUID(et["id"]),
                        field_name="duration", drift_type=DriftType.type_mismatch, observed_type="number",
                        declared_type="string", sample_value="12.5", details={"rows": 340},
                        status=DriftStatus.open, detected_at=T0 + timedelta(days=1), last_seen_at=end)
    dist = DistributionDrift(id=uuid.uuid4(), project_id=pid, scan_config_id=cfg.id,
                             scope_type=ScopeType.event_type, scope_ref=uuid.UUID(et["id"]),
                             event_type_id=uuid.UUID(et["id"]), field="platform", window_start=T0 + timedelta(days=1),
                             window_end=end, baseline_start=T0, baseline_end=T0 + timedelta(days=1),
                             current_count=1000, baseline_count=1000, chi2_p_value=0.0001, js_distance=0.31,
                             psi=0.42, is_drift=True, edges=[0, 1, 2], current_hist=[700, 300],
                             baseline_hist=[400, 600])
    reg = ReleaseRegression(id=uuid.uuid4(), project_id=pid, scan_config_id=cfg.id, scope_type=ScopeType.event,
                            scope_ref=uuid.UUID(home), event_type_id=uuid.UUID(et["id"]), app_version="2.4.0",
                            baseline_versions=["2.3.1"], release_count=50, release_total=10000, baseline_count=400,
                            baseline_total=10000, release_share=0.005, baseline_share=0.04, ratio=0.125,
                            expected_count=400.0, z=-17.8, direction="drop", is_regression=True, detected_at=end)
    shadow = ShadowEventCandidate(id=uuid.uuid4(), project_id=pid, scan_config_id=cfg.id,
                                  event_type_id=uuid.UUID(et["id"]), name="chekout_v2", total_count=812,
                                  first_seen_at=T0, last_seen_at=end, sample_fields={"platform": "ios"},
                                  status=ShadowStatus.new)
    job = ScanJob(project_id=pid, scan_config_id=cfg.id, kind=ScanJobKind.replay, status=ScanJobStatus.running,
                  time_from=T0, time_to=end, trigger="api", dagster_run_ids=["d3adbeef-0000-4000-8000-000000000001"],
                  started_at=datetime.now(UTC), result_summary={"days": 1, "days_total": 2})
    seed.add(drift, dist, reg, shadow, job)
    # one real delivery, so the signal has an inbox incident (what an editor marks as a false positive)
    user = db.get(User, uuid.UUID(owner.user["id"]))
    project = db.get(Project, pid)
    load.ensure_alerts(db, Actor(user), project, sink_url)
    report = dispatch.run(db, datetime.now(UTC), project_id=pid, lookback_hours=24 * 400)
    assert report.sent >= 1, report
    return Scene(project=plan["project"], events=ev, event_type=et,
                 ids={"signal": sig.id, "drift": drift.id, "distribution_drift": dist.id, "release": reg.id,
                      "shadow": shadow.id, "dead": uuid.UUID(ev["cart"]["id"]), "job": job.id,
                      "event": uuid.UUID(home)})
