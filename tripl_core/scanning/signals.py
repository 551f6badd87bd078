"""Step 3a (`anomaly_signals`): turn anomalous buckets of `metric_points` into incidents.

An incident is a run of consecutive anomalous buckets of one scope in one direction. Incidents are recomputed
from `since` (the first rewritten bucket) minus a look-back of one day, and upserted on
(scan config, scope, first bucket) with deterministic ids; incidents in that range that no longer exist are
deleted. Open incidents (the scope's newest scored bucket is anomalous) carry a forecast of the next buckets.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from tripl_core.db.models.findings import AnomalySignal
from tripl_core.db.models.sources import ScanConfig
from tripl_core.detection.volume import forecast
from tripl_core.scanning import store
from tripl_core.scanning.settings import AnomalySettings
from tripl_core.warehouse import ScanInterval

LOOKBACK = timedelta(days=1)
FORECAST_BUCKETS = 8


def _incidents(points: pd.DataFrame, step: pd.Timedelta) -> pd.DataFrame:
    df = points.sort_values(["scope_type", "scope_ref", "bucket"]).reset_index(drop=True)
    scope_key = df["scope_type"].astype(str) + "|" + df["scope_ref"].astype(str)
    anomalous = df["is_anomaly"].astype(bool)
    new_scope = scope_key != scope_key.shift()
    gap = (df["bucket"] - df["bucket"].shift()) != step
    prev_dir = df["direction"].shift()
    start = anomalous & (new_scope | gap | ~anomalous.shift(fill_value=False) | (df["direction"] != prev_dir))
    df["run"] = start.cumsum()
    runs = df[anomalous]
    if runs.empty:
        return pd.DataFrame()
    last_scored = df.groupby(scope_key)["bucket"].max()
    g = runs.groupby("run")
    inc = g.agg(scope_type=("scope_type", "first"), scope_ref=("scope_ref", "first"), since=("bucket", "min"),
                bucket=("bucket", "max"), bucket_count=("bucket", "size"), direction=("direction", "first"))
    latest = runs.loc[g["bucket"].idxmax()].set_index("run")
    inc["actual"] = latest["count"].astype(float)
    for c in ("expected", "lower", "upper", "z"):
        inc[c] = latest[c].astype(float)
    peak_idx = runs.assign(absz=runs["z"].abs()).groupby("run")["absz"].idxmax()
    inc["peak_z"] = runs.loc[peak_idx, "z"].to_numpy()
    key = inc["scope_type"].astype(str) + "|" + inc["scope_ref"].astype(str)
    inc["open"] = inc["bucket"].to_numpy() == last_scored.reindex(key).to_numpy()
    return inc.reset_index(drop=True)


def _forecast(db: Session, cfg: ScanConfig, row: pd.Series, settings: AnomalySettings,
              step: pd.Timedelta) -> list[dict]:
    hist = pd.read_sql_query(
        text("SELECT bucket, count FROM metric_points WHERE scan_config_id = :c AND scope_type = :t "
             "AND scope_ref IS NOT DISTINCT FROM :r AND bucket > :a AND bucket <= :b ORDER BY bucket"),
        db.connection(), params={"c": cfg.id, "t": row["scope_type"], "r": row["scope_ref"],
                                 "a": row["bucket"] - step * settings.volume.baseline_window_buckets,
                                 "b": row["bucket"]})
    if hist.empty:
        return []
    series = pd.Series(hist["count"].to_numpy(dtype=float), index=pd.to_datetime(hist["bucket"], utc=True))
    series = series.reindex(pd.date_range(series.index[0], series.index[-1], freq=step), fill_value=0.0)
    fc = forecast(series, FORECAST_BUCKETS, settings.volume)
    return [{"bucket": b.isoformat(), "expected": float(r["expected"]), "lower": float(r["lower"]),
             "upper": float(r["upper"])} for b, r in fc.iterrows() if np.isfinite(r["expected"])]


def update_signals(db: Session, cfg: ScanConfig, since: datetime, settings: AnomalySettings) -> dict[str, int]:
    """Recompute incidents of buckets ≥ since − LOOKBACK; returns counts for the job summary."""
    step = pd.Timedelta(ScanInterval(cfg.interval).delta)
    cutoff = since - LOOKBACK
    points = pd.read_sql_query(
        text("SELECT scope_type::text AS scope_type, scope_ref, bucket, count, expected, lower, upper, z, "
             "is_anomaly, direction FROM metric_points WHERE scan_config_id = :c AND bucket >= :a "
             "AND z IS NOT NULL"), db.connection(), params={"c": cfg.id, "a": cutoff})
    points["bucket"] = pd.to_datetime(points["bucket"], utc=True)
    inc = _incidents(points, step) if len(points) else pd.DataFrame()
    types = dict(db.execute(text("SELECT id, event_type_id FROM events WHERE id = ANY(CAST(:ids AS uuid[]))"),
                            {"ids": [str(r) for r in set(inc["scope_ref"]) if r is not None]}).all()) \
        if len(inc) else {}
    keep = []
    for _, r in inc.iterrows():  # incidents, not warehouse rows: a handful per scan
        sid = store.finding_id("signal", cfg.id, r["scope_type"], r["scope_ref"], r["since"].isoformat())
        keep.append(sid)
        etype = (r["scope_ref"] if r["scope_type"] == "event_type" else
                 types.get(r["scope_ref"]) if r["scope_type"] == "event" else None)
        values = {
            "id": sid, "project_id": cfg.project_id, "scan_config_id": cfg.id, "scope_type": r["scope_type"],
            "scope_ref": r["scope_ref"], "event_type_id": etype, "status": "open" if r["open"] else "closed",
            "direction": r["direction"], "since": r["since"].to_pydatetime(), "bucket": r["bucket"].to_pydatetime(),
            "bucket_count": int(r["bucket_count"]), "actual": r["actual"], "expected": r["expected"],
            "lower": r["lower"], "upper": r["upper"], "z": r["z"], "peak_z": float(r["peak_z"]),
            "closed_at": None if r["open"] else (r["bucket"] + step).to_pydatetime(),
            "forecast": _forecast(db, cfg, r, settings, step) if r["open"] else [],
        }
        stmt = insert(AnomalySignal).values(**values)
        db.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={
            k: stmt.excluded[k] for k in values if k not in ("id", "project_id", "scan_config_id")}))
    stale = db.execute(text("DELETE FROM anomaly_signals WHERE scan_config_id = :c AND since >= :a "
                            "AND NOT (id = ANY(CAST(:keep AS uuid[])))"),
                       {"c": cfg.id, "a": cutoff, "keep": [str(k) for k in keep]})
    opened = int(inc["open"].sum()) if len(inc) else 0
    return {"signals": len(keep), "open_signals": opened, "signals_removed": int(stale.rowcount or 0)}
