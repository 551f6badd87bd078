"""Volume series of one scope (project total, event type, event) or of a filtered set of events, as stored by the
scans in `metric_points`, on the scan config's bucket grid.

Every bucket of the window is a point: buckets without a stored row count zero (a GROUP BY over raw events has
no row for a silent bucket), except buckets after the config's watermark, which are not scanned yet and are left
out. `forecast` is the band of the next FORECAST_HORIZON buckets after the newest stored one, given only when the
window reaches it: the open signal's forecast when there is one (what the scan computed), else
`tripl_core.detection.volume.forecast` over the stored history (up to HISTORY_DAYS, the span the detector's
verdicts depend on).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Float, Select, String, and_, case, func, select, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import Session

from tripl_core.db.models.findings import AnomalySignal
from tripl_core.db.models.metrics import MetricPoint, ScopeType
from tripl_core.db.models.plan import Event
from tripl_core.db.models.projects import Project
from tripl_core.db.models.sources import ScanConfig
from tripl_core.detection.volume import forecast as volume_forecast
from tripl_core.findings import common
from tripl_core.findings.signals import signal_dict
from tripl_core.plan.common import PlanScope
from tripl_core.plan.event_queries import EventFilters, conditions
from tripl_core.scanning.settings import anomaly_settings

FORECAST_HORIZON = 12
HISTORY_DAYS = 28
_COLS = ("count", "expected", "lower", "upper", "z", "is_anomaly", "direction")


def scope_filter(scope_type: ScopeType, scope_ref: uuid.UUID | None) -> ColumnElement[bool]:
    """Written so that the (scope_type, scope_ref, bucket) index applies (IS NOT DISTINCT FROM would not)."""
    ref = MetricPoint.scope_ref.is_(None) if scope_ref is None else MetricPoint.scope_ref == scope_ref
    return and_(MetricPoint.scope_type == scope_type, ref)


def _frame(rows: list[Any]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["bucket", *_COLS])
    frame["bucket"] = pd.to_datetime(frame["bucket"], utc=True)
    return frame.set_index("bucket")


def _grid(db: Session, cfg: ScanConfig, win: common.Window) -> pd.DatetimeIndex:
    grid = win.grid
    mark = common.watermark(db, cfg)
    return grid[grid < pd.Timestamp(mark)] if mark is not None else grid


def _points(frame: pd.DataFrame, grid: pd.DatetimeIndex) -> list[dict[str, Any]]:
    """Zero-filled points; columns walked once each (no per-row pandas access)."""
    f = frame.reindex(grid)
    counts = f["count"].fillna(0).astype("int64").tolist()
    cols = {c: [None if pd.isna(v) else v for v in f[c].tolist()] for c in ("expected", "lower", "upper", "z",
                                                                          "direction")}
    anomalies = f["is_anomaly"].fillna(False).astype(bool).tolist()
    buckets = [ts.to_pydatetime() for ts in grid]
    return [{"bucket": b, "count": c, "expected": e, "lower": lo, "upper": up, "z": z, "is_anomaly": a,
             "direction": d}
            for b, c, e, lo, up, z, a, d in zip(buckets, counts, cols["expected"], cols["lower"], cols["upper"],
                                                cols["z"], anomalies, cols["direction"], strict=True)]


def _latest_signal(db: Session, cfg: ScanConfig, scope_type: ScopeType,
                   scope_ref: uuid.UUID | None) -> AnomalySignal | None:
    ref = AnomalySignal.scope_ref.is_(None) if scope_ref is None else AnomalySignal.scope_ref == scope_ref
    return db.scalar(select(AnomalySignal).where(AnomalySignal.scope_type == scope_type, ref,
                                                 AnomalySignal.scan_config_id == cfg.id)
                     .order_by(AnomalySignal.bucket.desc()).limit(1))


def _forecast(db: Session, project: Project, cfg: ScanConfig, where: ColumnElement[bool],
              signal: AnomalySignal | None, win: common.Window, last: datetime | None) -> list[dict[str, Any]]:
    if last is None or pd.Timestamp(win.end) <= pd.Timestamp(last):
        return []  # the window ends inside the stored data: nothing to forecast there
    if signal is not None and signal.status == "open" and signal.forecast:
        return list(signal.forecast)
    settings = anomaly_settings(db, project.id).volume
    history = min(settings.baseline_window_buckets, int(timedelta(days=HISTORY_DAYS) / win.step))
    since = last - win.step * (history - 1)
    rows = db.execute(select(MetricPoint.bucket, MetricPoint.count).where(
        where, MetricPoint.scan_config_id == cfg.id, MetricPoint.bucket >= since, MetricPoint.bucket <= last)
        .order_by(MetricPoint.bucket)).all()
    if not rows:
        return []
    grid = pd.date_range(rows[0][0], last, freq=win.step)
    if len(grid) < max(settings.min_history_buckets, 2):
        return []
    counts = pd.Series({pd.Timestamp(b): float(c) for b, c in rows}).reindex(grid, fill_value=0.0)
    band = volume_forecast(counts, FORECAST_HORIZON, settings)
    return [{"bucket": ts.to_pydatetime(), "expected": common.finite(r.expected), "lower": common.finite(r.lower),
             "upper": common.finite(r.upper)} for ts, r in band.iterrows()]


def _empty(scope: str, event_id: uuid.UUID | None, event_type_id: uuid.UUID | None) -> dict[str, Any]:
    return {"scope": scope, "scan_config_id": None, "event_id": event_id, "event_type_id": event_type_id,
            "interval": common.interval_of(None).value, "latest_signal": None, "data": [], "forecast": []}


def scope_series(db: Session, project: Project, scope_type: ScopeType, scope_ref: uuid.UUID | None, *,
                 event_id: uuid.UUID | None = None, event_type_id: uuid.UUID | None = None,
                 named: uuid.UUID | None = None, time_from: datetime | None = None,
                 time_to: datetime | None = None) -> dict[str, Any]:
    """The series of one scope; see the module docstring for the window, zero-filling and forecast rules."""
    cfg = common.config_for_scope(db, project, scope_type, scope_ref, event_type_id, named)
    if cfg is None:
        return _empty(scope_type.value, event_id, event_type_id)
    win = common.window(common.interval_of(cfg).delta, time_from, time_to)
    where = scope_filter(scope_type, scope_ref)
    rows = db.execute(select(MetricPoint.bucket, *(getattr(MetricPoint, c) for c in _COLS)).where(
        where, MetricPoint.scan_config_id == cfg.id, MetricPoint.bucket >= win.start, MetricPoint.bucket < win.end,
    ).order_by(MetricPoint.bucket)).all()
    signal = _latest_signal(db, cfg, scope_type, scope_ref)
    last = db.scalar(select(func.max(MetricPoint.bucket)).where(where, MetricPoint.scan_config_id == cfg.id))
    return {"scope": scope_type.value, "scan_config_id": cfg.id, "event_id": event_id,
            "event_type_id": event_type_id, "interval": common.interval_of(cfg).value,
            "latest_signal": signal_dict(signal) if signal is not None else None,
            "data": _points(_frame(rows), _grid(db, cfg, win)),
            "forecast": _forecast(db, project, cfg, where, signal, win, last)}


def total_series(db: Session, project: Project, named: uuid.UUID | None, time_from: datetime | None,
                 time_to: datetime | None) -> dict[str, Any]:
    return scope_series(db, project, ScopeType.project_total, None, named=named, time_from=time_from,
                        time_to=time_to)


def event_series(db: Session, project: Project, event_id: uuid.UUID, time_from: datetime | None,
                 time_to: datetime | None) -> dict[str, Any]:
    event = common.main_event(db, project, event_id)
    return scope_series(db, project, ScopeType.event, event.id, event_id=event.id,
                        event_type_id=event.event_type_id, time_from=time_from, time_to=time_to)


def event_type_series(db: Session, project: Project, event_type_id: uuid.UUID, time_from: datetime | None,
                      time_to: datetime | None) -> dict[str, Any]:
    et = common.main_event_type(db, project, event_type_id)
    return scope_series(db, project, ScopeType.event_type, et.id, event_type_id=et.id, time_from=time_from,
                        time_to=time_to)


def _event_ids(scope: PlanScope, filters: EventFilters) -> Select[Any]:
    return select(Event.id).where(*conditions(scope, filters))


def events_series(db: Session, scope: PlanScope, filters: EventFilters, time_from: datetime | None,
                  time_to: datetime | None) -> dict[str, Any]:
    """The summed series of the events matching List Events' filters (main branch).

    Per bucket: count, expected, lower and upper are sums over the events (a band of a sum is wider than the
    sum of bands would suggest only when events move together; this is the conservative reading); is_anomaly is
    true when any of the events was anomalous in the bucket, direction and z those of the largest |z|.
    The scan config is the one covering the filtered event type (or the project's events)."""
    project = scope.project
    scope_type = ScopeType.event_type if filters.event_type_id else ScopeType.project_total
    cfg = common.config_for_scope(db, project, scope_type, filters.event_type_id, filters.event_type_id)
    if cfg is None:
        return _empty("events", None, filters.event_type_id)
    win = common.window(common.interval_of(cfg).delta, time_from, time_to)
    ids = _event_ids(scope, filters).scalar_subquery()
    # The z and direction of the bucket's most anomalous event (anomalous first, then by |z|).
    order = (MetricPoint.is_anomaly.desc(), func.abs(MetricPoint.z).desc().nulls_last())
    top_z = type_coerce(func.array_agg(aggregate_order_by(MetricPoint.z, *order)), ARRAY(Float))[1]
    top_dir = type_coerce(func.array_agg(aggregate_order_by(
        case((MetricPoint.is_anomaly, MetricPoint.direction)), *order)), ARRAY(String))[1]
    rows = db.execute(select(
        MetricPoint.bucket, func.sum(MetricPoint.count), func.sum(MetricPoint.expected),
        func.sum(MetricPoint.lower), func.sum(MetricPoint.upper), top_z, func.bool_or(MetricPoint.is_anomaly),
        top_dir,
    ).where(MetricPoint.scope_type == ScopeType.event, MetricPoint.scope_ref.in_(ids),
            MetricPoint.scan_config_id == cfg.id, MetricPoint.bucket >= win.start, MetricPoint.bucket < win.end)
        .group_by(MetricPoint.bucket).order_by(MetricPoint.bucket)).all()
    return {"scope": "events", "scan_config_id": cfg.id, "event_id": None, "event_type_id": filters.event_type_id,
            "interval": common.interval_of(cfg).value, "latest_signal": None,
            "data": _points(_frame(rows), _grid(db, cfg, win)), "forecast": []}
