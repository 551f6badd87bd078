"""Unobserved time is never a finding, and a series without history is learning (issue 19, items 1 and 2).

The crafted warehouse (tests/pipelines/data.py) holds D0…D9; the runner is given a clock (`now`) so the same rows
can be "live" (now inside D9) or "ended" (now after D9).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd

from tests.pipelines.conftest import judge_after_a_week
from tests.pipelines.data import LAST, SPIKE_AT, START
from tests.pipelines.helpers import rows
from tripl_core.db.models.scans import ScanJob, ScanJobKind
from tripl_core.scanning import runner

BASE = "/api/v1/projects/shop-app"


def _job(db, scan: dict, kind: ScanJobKind, now: datetime, time_from: datetime | None = None,
         time_to: datetime | None = None) -> ScanJob:
    job = ScanJob(project_id=uuid.UUID(scan["project_id"]), scan_config_id=uuid.UUID(scan["id"]), kind=kind,
                  time_from=time_from, time_to=time_to, trigger="inprocess")
    db.add(job)
    db.commit()
    job = runner.run_job(db, job, now=now)
    assert job.status.value == "succeeded", job.error_message
    return job


def _buckets(db, where: str = "", **params) -> pd.Series:
    df = rows(db, "metric_points", where, **params)
    return pd.to_datetime(df["bucket"], utc=True)


def test_a_replay_up_to_now_stops_at_the_last_complete_bucket(db, pg_scan):
    now = LAST + timedelta(hours=14, minutes=20)  # D9 14:20: the rows after it "have not happened yet"
    job = _job(db, pg_scan, ScanJobKind.replay, now, LAST, now)
    assert job.result_summary["days"] == 1
    buckets = _buckets(db)
    assert buckets.max() == pd.Timestamp(LAST + timedelta(hours=13))  # 14:00 is still filling: held
    assert len(_buckets(db, "scope_type = 'project_total'")) == 14
    signals = rows(db, "anomaly_signals")
    assert (pd.to_datetime(signals["bucket"], utc=True) < pd.Timestamp(now)).all() if len(signals) else True


def test_a_replay_past_the_newest_data_stores_nothing_after_it(db, pg_scan):
    # the warehouse's data ends at D10 00:00; a replay asked until D12 must not count D10 and D11 as zeros
    now = LAST + timedelta(days=3)
    job = _job(db, pg_scan, ScanJobKind.replay, now, LAST - timedelta(days=1), now)
    assert job.result_summary["days"] == 4
    buckets = _buckets(db)
    assert buckets.max() == pd.Timestamp(LAST + timedelta(hours=23))
    assert len(_buckets(db, "scope_type = 'project_total'")) == 48
    drops = rows(db, "anomaly_signals", "bucket >= :d", d=LAST + timedelta(days=1))
    assert drops.empty, drops


def test_the_newest_rows_bucket_is_held_while_rows_still_arrive(db, pg_scan):
    # now = D10 00:30: the newest row (D9 23:59) is less than an interval old, so 23:00 may still be filling
    now = LAST + timedelta(days=1, minutes=30)
    _job(db, pg_scan, ScanJobKind.replay, now, LAST, LAST + timedelta(days=1))
    assert _buckets(db).max() == pd.Timestamp(LAST + timedelta(hours=22))


def test_a_first_scheduled_run_before_any_replay_raises_nothing(db, owner, pg_scan, plan):
    judge_after_a_week(owner)  # 168 hourly buckets: the ten crafted days are enough history for D9
    now = LAST + timedelta(hours=15, minutes=20)  # the spike of `home` at 12:00 is in today's part
    _job(db, pg_scan, ScanJobKind.run, now)
    points = rows(db, "metric_points")
    assert len(points) and points["z"].isna().all() and not points["is_anomaly"].any(), points
    assert rows(db, "anomaly_signals").empty
    home = plan["events"]["home"]["id"]
    series = owner.get(f"{BASE}/metrics/events/{home}", params={"from": LAST.isoformat(),
                                                                "to": now.isoformat()}).json()
    assert series["learning"] is True
    assert [p["bucket"] for p in series["data"]][-1].startswith(f"{LAST:%Y-%m-%d}T14:00")

    # A replay of the first day alone: today's stored buckets are not scored against the unscanned days
    # between (they are unknown, not zeros) — the old code saw a spike on every series here.
    _job(db, pg_scan, ScanJobKind.replay, now, START, START + timedelta(days=1))
    assert rows(db, "anomaly_signals").empty
    gap = _buckets(db, "bucket >= :a AND bucket < :b", a=START + timedelta(days=1), b=LAST)
    assert gap.empty, "days nobody scanned must not be stored as zeros"

    # The full replay gives the series its history: scored, no longer learning, and the spike is found.
    _job(db, pg_scan, ScanJobKind.replay, now, START, now)
    series = owner.get(f"{BASE}/metrics/events/{home}", params={"from": LAST.isoformat(),
                                                                "to": now.isoformat()}).json()
    assert series["learning"] is False
    spikes = rows(db, "anomaly_signals", "direction = 'spike' AND scope_ref = CAST(:h AS uuid)", h=home)
    assert pd.Timestamp(SPIKE_AT) in set(pd.to_datetime(spikes["since"], utc=True)), spikes


def test_a_series_shorter_than_min_history_is_learning(db, owner, pg_scan, plan):
    r = owner.patch(f"{BASE}/anomaly-settings", json={"min_history_buckets": 24 * 12,
                                                   "baseline_window_buckets": 24 * 28})
    assert r.status_code == 200, r.text
    _job(db, pg_scan, ScanJobKind.replay, datetime.now(UTC), START, LAST + timedelta(days=1))
    points = rows(db, "metric_points")
    assert points["z"].isna().all() and rows(db, "anomaly_signals").empty  # 10 days < 12 days of history
    series = owner.get(f"{BASE}/metrics/total", params={"from": LAST.isoformat()}).json()
    assert series["learning"] is True
