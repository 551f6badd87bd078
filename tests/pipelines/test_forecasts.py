"""Stored forecasts: the scan writes the band of the next buckets per scope (`metric_forecasts`), the series API
serves it, it is exactly what the read path computes from the stored rows, and re-materialising leaves it as is.
(tests/pipelines/test_dagster.py also compares it between any-order backfills and a replay via `snapshot`.)"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pandas as pd
from sqlalchemy import text

from tests.pipelines.conftest import BASE, judge_after_a_week
from tests.pipelines.data import LAST, START
from tests.pipelines.helpers import replay, rows
from tripl_core.db.models.sources import ScanConfig
from tripl_core.findings import series
from tripl_core.scanning import forecasts
from tripl_core.scanning.settings import anomaly_settings


def _bands(db) -> dict[tuple[str, str], tuple]:
    df = rows(db, "metric_forecasts")
    return {(r.scope_type, str(r.scope_ref)): (pd.Timestamp(r.last_bucket), r.settings_at, r.points)
            for r in df.itertuples()}


def test_scan_stores_the_band_the_series_serves_and_a_replay_keeps_it(db, owner, pg_scan, plan):
    judge_after_a_week(owner)
    job = replay(db, pg_scan, START, LAST + timedelta(days=1))
    assert job.status.value == "succeeded", job.error_message
    bands = _bands(db)
    points = rows(db, "metric_points")
    newest = points.groupby([points["scope_type"], points["scope_ref"].map(str)])["bucket"].max()
    assert set(bands) == set(newest.index) and len(bands) >= 5  # total, type, three events
    for key, (last, _, points) in bands.items():
        assert last == pd.Timestamp(newest[key]), key
        assert len(points) == series.FORECAST_HORIZON
        assert pd.Timestamp(points[0]["bucket"]) == last + pd.Timedelta(hours=1)
        assert all(p["lower"] <= p["expected"] <= p["upper"] for p in points), key

    window = {"from": (LAST + timedelta(hours=20)).isoformat(), "to": (LAST + timedelta(days=1, hours=3)).isoformat()}
    checked = 0
    for name, ev in plan["events"].items():
        body = owner.get(f"{BASE}/metrics/events/{ev['id']}", params=window).json()
        if body["latest_signal"] is not None and body["latest_signal"]["status"] == "open":
            continue  # the open incident's own forecast is shown instead
        served = body["forecast"]
        stored = bands[("event", ev["id"])][2]
        assert [(pd.Timestamp(f["bucket"]), f["expected"], f["lower"], f["upper"]) for f in served] == [
            (pd.Timestamp(p["bucket"]), p["expected"], p["lower"], p["upper"]) for p in stored], name
        # without the stored row the read path runs the detector itself: the very same band
        db.execute(text("DELETE FROM metric_forecasts WHERE scope_ref = :r"), {"r": uuid.UUID(ev["id"])})
        db.commit()
        series._CACHE.clear()
        again = owner.get(f"{BASE}/metrics/events/{ev['id']}", params=window).json()["forecast"]
        assert [(f["expected"], f["lower"], f["upper"]) for f in again] == [
            (f["expected"], f["lower"], f["upper"]) for f in served], name
        checked += 1
    assert checked >= 2

    replay(db, pg_scan, START, LAST + timedelta(days=1))
    assert _bands(db) == bands  # re-materialised: identical rows (deleted ones written back)
    replay(db, pg_scan, LAST - timedelta(days=1), LAST + timedelta(days=1))
    assert _bands(db) == bands

    # rebuilt from metric_points alone (configs scanned before bands were stored): the same rows again
    db.execute(text("DELETE FROM metric_forecasts"))
    cfg = db.get(ScanConfig, uuid.UUID(pg_scan["id"]))
    assert forecasts.refresh_forecasts(db, cfg, anomaly_settings(db, cfg.project_id)) == len(bands)
    db.commit()
    assert _bands(db) == bands
