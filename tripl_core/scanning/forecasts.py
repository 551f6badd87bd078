"""Stored forecasts (`metric_forecasts`): the band of the next FORECAST_HORIZON buckets of every scope a scan scored.

Written in the `event_metrics` step right after the volume series are scored, from the same in-memory counts, so
series reads (`tripl_core.findings.series`) serve one indexed row instead of running the detector per request.
The band is exactly what the read path would compute on the stored rows: `forecast` over the scope's history from
its first stored bucket at most HISTORY_DAYS (and baseline_window_buckets) before its newest one, gaps counted as
zero, nothing when there are fewer than min_history_buckets. Scopes are grouped by that first bucket (a handful of
groups: scopes appear scan by scan), so the detector runs once per group over all its scopes.

Rows are replaced per (scan config, scope) in the caller's transaction under the config's advisory lock, so
re-materialising a partition leaves identical rows.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tripl_core.db.models.scans import ProjectAnomalySettings
from tripl_core.db.models.sources import ScanConfig
from tripl_core.detection.volume import forecast_frame
from tripl_core.scanning import store
from tripl_core.scanning.settings import AnomalySettings
from tripl_core.warehouse import ScanInterval

FORECAST_HORIZON = 12
HISTORY_DAYS = 28


def history_buckets(settings: AnomalySettings | Any, step: timedelta) -> int:
    """Buckets of history a forecast reads: up to the newest bucket, at most HISTORY_DAYS (the span the detector's
    verdicts depend on) and at most the baseline window. `settings` is the volume part of the anomaly settings."""
    return max(1, min(settings.baseline_window_buckets, int(timedelta(days=HISTORY_DAYS) / step)))


def settings_version(db: Session, project_id: uuid.UUID) -> datetime | None:
    """What a stored band is keyed on besides the newest bucket: the project's anomaly settings' last change."""
    return db.scalar(select(ProjectAnomalySettings.updated_at).where(ProjectAnomalySettings.project_id == project_id))


def _bands(frame: pd.DataFrame, settings: Any) -> dict[str, np.ndarray]:
    """forecast_frame as (horizon × series) arrays, non-finite values as NaN."""
    fc = forecast_frame(frame, FORECAST_HORIZON, settings)
    return {k: fc[k].to_numpy(dtype=np.float64) for k in ("expected", "lower", "upper")}


def _points(future: list[str], bands: dict[str, np.ndarray], j: int) -> list[dict[str, Any]]:
    e, lo, up = bands["expected"][:, j], bands["lower"][:, j], bands["upper"][:, j]
    return [{"bucket": b, "expected": None if not np.isfinite(x) else float(x),
             "lower": None if not np.isfinite(y) else float(y), "upper": None if not np.isfinite(z) else float(z)}
            for b, x, y, z in zip(future, e.tolist(), lo.tolist(), up.tolist(), strict=True)]


def store_forecasts(db: Session, cfg: ScanConfig, settings: AnomalySettings, wide: pd.DataFrame,
                    stored: pd.DataFrame, start: datetime, step: timedelta) -> int:
    """Replace the stored band of every scope (column of `wide`) the scan just wrote.

    `wide`: counts on the regular grid up to the newest bucket, columns (scope_type, scope_ref or ""), as scored;
    every column was written for buckets ≥ `start`. `stored`: the rows read back before the write (scope_type,
    scope_ref, bucket), which tell where a scope's stored history starts when that is before `start`."""
    if wide.empty or not len(wide.columns):
        return 0
    last = wide.index[-1]
    since = last - step * (history_buckets(settings.volume, step) - 1)
    begin = max(since, pd.Timestamp(start))
    first = pd.Series(begin, index=wide.columns)
    if len(stored) and since < pd.Timestamp(start):
        early = stored[(stored["bucket"] >= since) & (stored["bucket"] < pd.Timestamp(start))]
        if len(early):
            refs = early["scope_ref"].map(lambda v: "" if v is None or v != v else str(v))
            seen = early["bucket"].groupby([early["scope_type"], refs]).min()
            seen = seen.reindex(wide.columns)
            first = seen.where(seen.notna() & (seen < begin), begin)
    future = [(last + step * (i + 1)).to_pydatetime().astimezone(UTC).isoformat() for i in range(FORECAST_HORIZON)]
    minimum = max(settings.volume.min_history_buckets, 2)
    points: dict[Any, list[dict[str, Any]]] = {}
    for f, cols in first.groupby(first, sort=True).groups.items():  # one detector run per start bucket
        sub = wide.loc[pd.Timestamp(f):, list(cols)]
        if len(sub.index) < minimum:
            points.update({c: [] for c in cols})
            continue
        bands = _bands(sub, settings.volume)
        points.update({c: _points(future, bands, j) for j, c in enumerate(cols)})
    types = [c[0] for c in wide.columns]
    keys = [c[1] for c in wide.columns]  # "" for project_total
    db.execute(text(
        "DELETE FROM metric_forecasts f USING unnest(CAST(:t AS text[]), CAST(:r AS text[])) AS k(t, r) "
        "WHERE f.scan_config_id = :c AND f.scope_type::text = k.t "
        "AND f.scope_ref IS NOT DISTINCT FROM CAST(NULLIF(k.r, '') AS uuid)"), {"c": cfg.id, "t": types, "r": keys})
    frame = pd.DataFrame({"scan_config_id": cfg.id, "scope_type": types, "scope_ref": [k or None for k in keys],
                          "last_bucket": last.isoformat(), "settings_at": settings_version(db, cfg.project_id),
                          "points": [points[c] for c in wide.columns]})
    frame["points"] = frame["points"].astype(object)
    return store.copy_frame(db, "metric_forecasts", frame)



def refresh_forecasts(db: Session, cfg: ScanConfig, settings: AnomalySettings) -> int:
    """Store the band of every scope of `cfg` whose newest bucket is the config's newest, from `metric_points`
    alone: for rows written around the scan (bench/findings_latency.py seeds them in SQL) or a config scanned
    before bands were stored. Scopes that end earlier are left to the read path. The caller commits."""
    step = ScanInterval(cfg.interval).delta
    last = db.scalar(text("SELECT max(bucket) FROM metric_points WHERE scan_config_id = :c"), {"c": cfg.id})
    if last is None:
        return 0
    last = pd.Timestamp(last).tz_convert(UTC)
    since = last - step * (history_buckets(settings.volume, step) - 1)
    rows = pd.read_sql_query(
        text("SELECT scope_type::text AS scope_type, scope_ref, bucket, count FROM metric_points "
             "WHERE scan_config_id = :c AND bucket >= :a"), db.connection(), params={"c": cfg.id, "a": since})
    rows["bucket"] = pd.to_datetime(rows["bucket"], utc=True)
    rows["ref"] = rows["scope_ref"].map(lambda v: "" if v is None or v != v else str(v))
    newest = rows.groupby(["scope_type", "ref"])["bucket"].transform("max")
    rows = rows[newest == last]
    wide = rows.pivot_table(index="bucket", columns=["scope_type", "ref"], values="count", aggfunc="sum",
                            fill_value=0)
    wide = wide.reindex(pd.date_range(wide.index.min(), last, freq=step), fill_value=0).astype("float64")
    return store_forecasts(db, cfg, settings, wide, rows[["scope_type", "scope_ref", "bucket"]],
                           (last + step).to_pydatetime(), step)
