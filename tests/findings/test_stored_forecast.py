"""Series reads serve the band the scan stored (`metric_forecasts`) while it still follows the scope's newest bucket
under the current anomaly settings, and compute it otherwise (the same numbers for the same stored rows)."""

from __future__ import annotations

import json

from sqlalchemy import text

from tests.findings.conftest import BASE, STEP, T0
from tripl_core.db.models.metrics import MetricForecast, ScopeType
from tripl_core.findings import series

N = 700  # a week of 15-minute buckets and a bit: the default warm-up (672) is behind it
WINDOW = {"from": (T0 + (N - 4) * STEP).isoformat(), "to": (T0 + (N + 2) * STEP).isoformat()}
MARK = [{"bucket": (T0 + (N + i) * STEP).isoformat(), "expected": 1234.5, "lower": 1000.0, "upper": 1500.0}
        for i in range(series.FORECAST_HORIZON)]


def _store(db, cfg, last, points=MARK, settings_at=None):
    db.add(MetricForecast(scan_config_id=cfg.id, scope_type=ScopeType.project_total, scope_ref=None,
                          last_bucket=last, settings_at=settings_at, points=points))
    db.commit()


def _forecast(owner):
    r = owner.get(f"{BASE}/metrics/total", params=WINDOW)
    assert r.status_code == 200, r.text
    return r.json()["forecast"]


def test_the_stored_band_is_served_when_it_follows_the_newest_bucket(owner, seed, db):
    cfg = seed.config()
    seed.points(cfg, "project_total", None, {i: 100 for i in range(N)})
    _store(db, cfg, T0 + (N - 1) * STEP)
    got = _forecast(owner)
    assert [f["expected"] for f in got] == [1234.5] * series.FORECAST_HORIZON
    assert got[0]["bucket"].startswith((T0 + N * STEP).isoformat()[:16])


def test_a_stale_or_other_settings_band_is_recomputed_and_equals_the_stored_one(owner, seed, db):
    cfg = seed.config()
    seed.points(cfg, "project_total", None, {i: 100 for i in range(N)})
    _store(db, cfg, T0 + (N - 2) * STEP)  # a bucket was written after the band: not its band any more
    computed = _forecast(owner)
    assert len(computed) == series.FORECAST_HORIZON and abs(computed[0]["expected"] - 100) < 5

    # settings changed since the scan: the band is recomputed too
    db.execute(text("insert into project_anomaly_settings (id, project_id, created_at, updated_at) "
                    "values (gen_random_uuid(), :p, now(), now())"), {"p": cfg.project_id})
    db.execute(text("update metric_forecasts set last_bucket = :b"), {"b": T0 + (N - 1) * STEP})
    db.commit()
    series._CACHE.clear()
    assert _forecast(owner) == computed

    # the same settings version as stored: served as stored (the scan's own band is what the read computes)
    db.execute(text("update metric_forecasts set settings_at = (select updated_at from project_anomaly_settings), "
                    "points = cast(:p as jsonb)"), {"p": json.dumps(computed)})
    db.commit()
    series._CACHE.clear()
    db.execute(text("update metric_points set count = 5000 where bucket = :b"), {"b": T0 + (N - 3) * STEP})
    db.commit()  # history changed under the band: only the stored row can still give the old numbers
    assert _forecast(owner) == computed


def test_an_open_signal_forecast_wins_over_the_stored_band(owner, seed, db):
    cfg = seed.config()
    seed.points(cfg, "project_total", None, {i: 100 for i in range(N)})
    _store(db, cfg, T0 + (N - 1) * STEP)
    band = [{"bucket": (T0 + N * STEP).isoformat(), "expected": 6.0, "lower": 1.0, "upper": 12.0}]
    seed.signal(cfg, "project_total", None, since=T0 + (N - 1) * STEP, bucket=T0 + (N - 1) * STEP, forecast=band)
    assert [f["expected"] for f in _forecast(owner)] == [6.0]
