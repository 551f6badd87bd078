"""Volume series of one scope (project total, event type, event) or of a filtered set of events, as stored by the
scans in `metric_points`, on the scan config's bucket grid.

Every bucket of the window is a point: buckets without a stored row count zero (a GROUP BY over raw events has
no row for a silent bucket), except buckets after observed time (the config's watermark or its newest observed
bucket, whichever is later), which are not scanned yet and are left out. `learning` is true while the scope's
newest bucket has no verdict for lack of history. `forecast` is the band of the next FORECAST_HORIZON buckets after the newest stored one, given only when the
window reaches it: the open signal's forecast when there is one (what the scan computed), else the band the scan
stored for the scope (`metric_forecasts`, see tripl_core.scanning.forecasts) while it still follows the newest
bucket under the current settings, else `tripl_core.detection.volume.forecast` over the stored history (up to
HISTORY_DAYS, the span the detector's verdicts depend on; configs scanned before bands were stored), memoised.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import Session

from tripl_core.db.models.findings import AnomalySignal
from tripl_core.db.models.metrics import MetricForecast, MetricPoint, ScopeType
from tripl_core.db.models.plan import Event
from tripl_core.db.models.projects import Project
from tripl_core.db.models.scans import ProjectAnomalySettings, ScanState
from tripl_core.db.models.sources import ScanConfig
from tripl_core.detection.volume import forecast as volume_forecast
from tripl_core.findings import common
from tripl_core.findings.signals import signal_dict
from tripl_core.plan.common import PlanScope
from tripl_core.plan.event_queries import EventFilters, conditions
from tripl_core.scanning.forecasts import FORECAST_HORIZON, history_buckets
from tripl_core.scanning.settings import anomaly_settings

_COLS = ("count", "expected", "lower", "upper", "z", "is_anomaly", "direction")


def scope_filter(scope_type: ScopeType, scope_ref: uuid.UUID | None) -> ColumnElement[bool]:
    """Written so that the (scope_type, scope_ref, bucket) index applies (IS NOT DISTINCT FROM would not)."""
    ref = MetricPoint.scope_ref.is_(None) if scope_ref is None else MetricPoint.scope_ref == scope_ref
    return and_(MetricPoint.scope_type == scope_type, ref)


def newest_first() -> tuple[Any, ...]:
    """ORDER BY for "the scope's newest bucket" that a backward scan of the scope index satisfies even for
    project_total: with `scope_ref IS NULL` (not an equality to PostgreSQL's planner) ORDER BY bucket DESC alone
    sorts every bucket of the scope (8,640 rows at 90 days); ordering by scope_ref first (constant here) matches
    the index order and stops at the first row."""
    return MetricPoint.scope_ref.desc(), MetricPoint.bucket.desc()


def epoch(column: Any) -> Any:
    """Bucket as integer seconds: cheaper to fetch and place on the grid than datetime objects."""
    return cast(func.extract("epoch", column), BigInteger)


def _meta(db: Session, project: Project, cfg: ScanConfig, scope: tuple[ScopeType, uuid.UUID | None]) -> Any:
    """One round trip: the config's watermark and last job, the scope's newest bucket, the settings' version, and
    the band the scan stored for the scope if it still follows that bucket under those settings."""
    keys = select(
        select(MetricPoint.bucket).where(scope_filter(*scope), MetricPoint.scan_config_id == cfg.id)
        .order_by(*newest_first()).limit(1).scalar_subquery().label("newest"),
        select(ProjectAnomalySettings.updated_at).where(ProjectAnomalySettings.project_id == project.id)
        .scalar_subquery().label("settings_at")).subquery()  # computed once, used twice
    ref = MetricForecast.scope_ref.is_(None) if scope[1] is None else MetricForecast.scope_ref == scope[1]
    stored = select(MetricForecast.points).where(
        MetricForecast.scan_config_id == cfg.id, MetricForecast.scope_type == scope[0], ref,
        MetricForecast.last_bucket == keys.c.newest,
        MetricForecast.settings_at.is_not_distinct_from(keys.c.settings_at))
    total = scope_filter(ScopeType.project_total, None)
    return db.execute(select(
        select(ScanState.watermark).where(ScanState.scan_config_id == cfg.id).scalar_subquery(),
        select(ScanState.last_job_id).where(ScanState.scan_config_id == cfg.id).scalar_subquery(),
        keys.c.newest, keys.c.settings_at, stored.scalar_subquery(),
        # the config's newest observed bucket (every observed bucket has a project_total row)
        select(MetricPoint.bucket).where(total, MetricPoint.scan_config_id == cfg.id)
        .order_by(*newest_first()).limit(1).scalar_subquery(),
        # the verdict of the scope's newest bucket: none while the series is learning
        select(MetricPoint.z).where(scope_filter(*scope), MetricPoint.scan_config_id == cfg.id)
        .order_by(*newest_first()).limit(1).scalar_subquery(),
    ).select_from(keys)).one()


def _observed_until(meta: Any, step: Any) -> datetime | None:
    """End of observed time: the watermark of scheduled runs or the end of the newest observed bucket, whichever
    is later (replays move no watermark); later buckets were never scanned and are no points at all."""
    marks = [m for m in (meta[0], meta[5] + step if meta[5] is not None else None) if m is not None]
    return max(marks) if marks else None


def _learning(db: Session, project: Project, scope_type: ScopeType, meta: Any) -> bool:
    """The scope's newest bucket has no verdict although its scope type is detected: the series has less history
    than min_history_buckets (see docs/detection.md, "No score without history")."""
    if meta[2] is None or meta[6] is not None:
        return False
    return anomaly_settings(db, project.id).detects(scope_type.value)


def _size(mark: datetime | None, win: common.Window) -> int:
    """Buckets of the window, up to the config's watermark when it has one (later buckets are not scanned)."""
    n = int((win.end - win.start) / win.step)
    if mark is not None:
        n = min(n, max(0, -(-int((mark - win.start).total_seconds()) // int(win.step.total_seconds()))))
    return n


_KEYS = ("bucket", *_COLS)


def _points(rows: list[Any], win: common.Window, n: int) -> list[dict[str, Any]]:
    """Zero-filled points: stored rows (epoch, count, expected, lower, upper, z, is_anomaly, direction) placed on
    the grid by integer arithmetic, column by column in numpy; the only per-point work is building the dicts."""
    start, step = int(win.start.timestamp()), int(win.step.total_seconds())
    buckets = pd.date_range(win.start, periods=n, freq=win.step).to_pydatetime().tolist()
    count = np.zeros(n, dtype=np.int64)
    anomaly = np.zeros(n, dtype=bool)
    others = [np.full(n, None, dtype=object) for _ in range(5)]  # expected, lower, upper, z, direction
    if rows and n:
        e, c, expected, lower, upper, z, flags, direction = zip(*rows, strict=True)
        i = (np.fromiter(e, dtype=np.int64, count=len(e)) - start) // step
        ok = (i >= 0) & (i < n)
        at = i[ok]
        count[at] = np.asarray(c, dtype=object)[ok].astype(np.int64)
        anomaly[at] = np.asarray(flags, dtype=object)[ok].astype(bool)
        for out, values in zip(others, (expected, lower, upper, z, direction), strict=True):
            out[at] = np.asarray(values, dtype=object)[ok]
    ex, lo, up, zz, dr = (o.tolist() for o in others)
    return [dict(zip(_KEYS, p, strict=True)) for p in zip(buckets, count.tolist(), ex, lo, up, zz,
                                                          anomaly.tolist(), dr, strict=True)]


def _latest_signal(db: Session, cfg: ScanConfig, scope_type: ScopeType,
                   scope_ref: uuid.UUID | None) -> AnomalySignal | None:
    ref = AnomalySignal.scope_ref.is_(None) if scope_ref is None else AnomalySignal.scope_ref == scope_ref
    return db.scalar(select(AnomalySignal).where(AnomalySignal.scope_type == scope_type, ref,
                                                 AnomalySignal.scan_config_id == cfg.id)
                     .order_by(AnomalySignal.bucket.desc()).limit(1))


_CACHE: OrderedDict[tuple[Any, ...], list[dict[str, Any]]] = OrderedDict()
_CACHE_SIZE = 4096
_LOCK = threading.Lock()


def _band(key: tuple[Any, ...], counts: pd.Series, settings: Any) -> list[dict[str, Any]]:
    """volume.forecast, memoised on (scope, newest bucket, last scan job, settings version): a dashboard polls
    the same series until the next scan adds a bucket, and the detector costs more than the rest of the request."""
    band = volume_forecast(counts, FORECAST_HORIZON, settings)
    out = [{"bucket": ts.to_pydatetime(), "expected": common.finite(e), "lower": common.finite(lo),
            "upper": common.finite(up)}
           for ts, e, lo, up in zip(band.index, band["expected"], band["lower"], band["upper"], strict=True)]
    with _LOCK:
        _CACHE[key] = out
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return out


def _forecast_plan(db: Session, project: Project, cfg: ScanConfig, scope: tuple[ScopeType, uuid.UUID | None],
                   signal: AnomalySignal | None, win: common.Window, meta: Any) -> tuple[Any, ...]:
    """(band, None) when known without reading history (none needed, the open signal's, or memoised);
    else (None, (version, since, settings)): the history to read and score."""
    last = meta[2]
    if last is None or win.end <= last + win.step:
        return [], None  # the window ends inside the stored data: nothing to forecast there
    if signal is not None and signal.status == "open" and signal.forecast:
        return list(signal.forecast), None
    if meta[4] is not None:  # what the scan that wrote the newest bucket computed, under the current settings
        return meta[4], None
    version = (cfg.id, *scope, last, meta[1], meta[3])  # a new scan or new settings change the band
    with _LOCK:
        if version in _CACHE:
            _CACHE.move_to_end(version)
            return _CACHE[version], None
    settings = anomaly_settings(db, project.id).volume
    return None, (version, last - win.step * (history_buckets(settings, win.step) - 1), settings)


def _forecast(rows: list[Any], win: common.Window, last: datetime, todo: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Score the history rows (epoch, count, …) from `since` to the newest bucket and memoise the band."""
    version, since, settings = todo
    lo, stop, step = int(since.timestamp()), int(last.timestamp()), int(win.step.total_seconds())
    hist = [r for r in rows if lo <= r[0] <= stop]
    if not hist:
        return []
    epochs = np.fromiter((r[0] for r in hist), dtype=np.int64, count=len(hist))
    first = int(epochs.min())
    n = (stop - first) // step + 1
    if n < max(settings.min_history_buckets, 2):
        return []
    values = np.zeros(n)
    values[(epochs - first) // step] = np.fromiter((r[1] for r in hist), dtype=np.float64, count=len(hist))
    index = pd.to_datetime(first + step * np.arange(n, dtype=np.int64), unit="s", utc=True)
    return _band(version, pd.Series(values, index=index), settings)


def _empty(scope: str, event_id: uuid.UUID | None, event_type_id: uuid.UUID | None) -> dict[str, Any]:
    return {"scope": scope, "scan_config_id": None, "event_id": event_id, "event_type_id": event_type_id,
            "interval": common.interval_of(None).value, "latest_signal": None, "data": [], "forecast": [],
            "learning": False}


def scope_series(db: Session, project: Project, scope_type: ScopeType, scope_ref: uuid.UUID | None, *,
                 event_id: uuid.UUID | None = None, event_type_id: uuid.UUID | None = None,
                 named: uuid.UUID | None = None, time_from: datetime | None = None,
                 time_to: datetime | None = None) -> dict[str, Any]:
    """The series of one scope; see the module docstring for the window, zero-filling and forecast rules."""
    cfg = common.config_for_scope(db, project, scope_type, scope_ref, event_type_id, named)
    if cfg is None:
        return _empty(scope_type.value, event_id, event_type_id)
    win = common.window(common.interval_of(cfg).delta, time_from, time_to)
    scope = (scope_type, scope_ref)
    signal = _latest_signal(db, cfg, scope_type, scope_ref)
    meta = _meta(db, project, cfg, scope)
    band, todo = _forecast_plan(db, project, cfg, scope, signal, win, meta)
    # One read serves the window and, when the band must be computed, the history before it.
    lo = min(win.start, todo[1]) if todo is not None else win.start
    rows = db.execute(select(epoch(MetricPoint.bucket), *(getattr(MetricPoint, c) for c in _COLS)).where(
        scope_filter(*scope), MetricPoint.scan_config_id == cfg.id, MetricPoint.bucket >= lo,
        MetricPoint.bucket < win.end)).all()
    if todo is not None:
        band = _forecast(rows, win, meta[2], todo)
        start = int(win.start.timestamp())
        rows = [r for r in rows if r[0] >= start] if lo < win.start else rows
    return {"scope": scope_type.value, "scan_config_id": cfg.id, "event_id": event_id,
            "event_type_id": event_type_id, "interval": common.interval_of(cfg).value,
            "latest_signal": signal_dict(signal) if signal is not None else None,
            "data": _points(rows, win, _size(_observed_until(meta, win.step), win)), "forecast": band,
            "learning": _learning(db, project, scope_type, meta)}


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
    bucket = epoch(MetricPoint.bucket)
    rows = db.execute(select(
        bucket, func.sum(MetricPoint.count), func.sum(MetricPoint.expected),
        func.sum(MetricPoint.lower), func.sum(MetricPoint.upper), top_z, func.bool_or(MetricPoint.is_anomaly),
        top_dir,
    ).where(MetricPoint.scope_type == ScopeType.event, MetricPoint.scope_ref.in_(ids),
            MetricPoint.scan_config_id == cfg.id, MetricPoint.bucket >= win.start, MetricPoint.bucket < win.end)
        .group_by(MetricPoint.bucket)).all()
    return {"scope": "events", "scan_config_id": cfg.id, "event_id": None, "event_type_id": filters.event_type_id,
            "interval": common.interval_of(cfg).value, "latest_signal": None,
            "data": _points(rows, win, _size(common.watermark(db, cfg), win)), "forecast": [], "learning": False}
