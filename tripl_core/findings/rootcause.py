"""Root cause of a volume incident: which breakdown values moved a bucket (top movers), when a scope usually lives
(seasonality heatmap), and per-value series of breakdown columns (timeline, event breakdowns).

Top movers compare a bucket's breakdown rows with what each value should have held: its share of the scope over
the MOVERS_BASELINE before the bucket times the bucket's expected total (the detector's `expected`, or the
baseline's mean bucket when the bucket was not scored). Ranking and z are `tripl_core.detection.movers`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core.db.models.metrics import BreakdownPoint, MetricPoint, ScopeType
from tripl_core.db.models.projects import Project
from tripl_core.detection.movers import expected_by_value, top_movers
from tripl_core.detection.seasonality import heatmap_from_cells
from tripl_core.errors import Invalid
from tripl_core.findings import common
from tripl_core.findings.series import epoch, scope_filter

MOVERS_BASELINE = timedelta(days=7)
HEATMAP_WINDOW = timedelta(days=28)
_OTHER, _NULL = "\x00other", "\x00null"


def _bd_scope(scope_type: ScopeType, scope_ref: uuid.UUID | None) -> Any:
    ref = BreakdownPoint.scope_ref.is_(None) if scope_ref is None else BreakdownPoint.scope_ref == scope_ref
    return (BreakdownPoint.scope_type == scope_type) & ref


def _key(value: str | None, is_other: bool) -> str:
    return _OTHER if is_other else (_NULL if value is None else value)


def _unkey(key: str) -> tuple[str | None, bool]:
    return (None, True) if key == _OTHER else ((None, False) if key == _NULL else (key, False))


def _scope_head(cfg_id: uuid.UUID, scope_type: ScopeType, scope_ref: uuid.UUID | None) -> dict[str, Any]:
    return {"scan_config_id": cfg_id, "scope_type": scope_type.value,
            "scope_ref": str(scope_ref) if scope_ref is not None else None}


def movers(db: Session, project: Project, scan_config_id: uuid.UUID, scope_type: str, scope_ref: str | None,
           bucket: datetime, limit: int) -> list[dict[str, Any]]:
    """Breakdown rows of every breakdown column, ranked by |z| (then |delta|), at most `limit`."""
    cfg = common.named_config(db, project, scan_config_id)
    st, ref = common.parse_scope(scope_type, scope_ref)
    step = common.interval_of(cfg).delta
    b = common.floor_bucket(common.as_utc(bucket), step)
    base_from = b - MOVERS_BASELINE
    where = (BreakdownPoint.scan_config_id == cfg.id) & _bd_scope(st, ref)
    actual = db.execute(select(BreakdownPoint.column, BreakdownPoint.value, BreakdownPoint.is_other,
                               BreakdownPoint.count).where(where, BreakdownPoint.bucket == b)).all()
    baseline = db.execute(select(BreakdownPoint.column, BreakdownPoint.value, BreakdownPoint.is_other,
                                 func.sum(BreakdownPoint.count)).where(
        where, BreakdownPoint.bucket >= base_from, BreakdownPoint.bucket < b).group_by(
        BreakdownPoint.column, BreakdownPoint.value, BreakdownPoint.is_other)).all()
    mp_where = (MetricPoint.scan_config_id == cfg.id) & scope_filter(st, ref)
    expected = db.scalar(select(MetricPoint.expected).where(mp_where, MetricPoint.bucket == b))
    if expected is None:
        base_total, n = db.execute(select(func.coalesce(func.sum(MetricPoint.count), 0), func.count()).where(
            mp_where, MetricPoint.bucket >= base_from, MetricPoint.bucket < b)).one()
        expected = float(base_total) / n if n else 0.0
    act: dict[str, dict[str, float]] = {}
    base: dict[str, dict[str, float]] = {}
    for col, value, other, count in actual:
        act.setdefault(col, {})[_key(value, other)] = float(count)
    for col, value, other, count in baseline:
        base.setdefault(col, {})[_key(value, other)] = float(count)
    rows: list[dict[str, Any]] = []
    for col in sorted(set(act) | set(base)):
        exp = expected_by_value(base.get(col, {}), max(float(expected), 0.0))
        frame = top_movers(act.get(col, {}), exp, limit=100)
        for r in frame.itertuples(index=False):
            value, other = _unkey(str(r.value))
            rows.append({"column": col, "value": value, "is_other": other, "bucket": b,
                         "actual": float(r.actual), "expected": float(r.expected), "delta": float(r.delta),
                         "relative_change": common.finite(r.relative_change),
                         "contribution": common.finite(r.contribution), "z": float(r.z)})
    rows.sort(key=lambda r: (-abs(r["z"]), -abs(r["delta"]), r["column"], r["value"] or ""))
    return rows[:limit]


def heatmap(db: Session, project: Project, scan_config_id: uuid.UUID, scope_type: str, scope_ref: str | None,
            time_from: datetime | None, time_to: datetime | None) -> dict[str, Any]:
    """7×24 cells (weekday 0 = Monday, UTC) over the window (default the last 28 days: four of each weekday)."""
    cfg = common.named_config(db, project, scan_config_id)
    st, ref = common.parse_scope(scope_type, scope_ref)
    win = common.window(common.interval_of(cfg).delta, time_from, time_to, default=HEATMAP_WINDOW)
    # Aggregated in SQL over the covering scope index (168 rows back instead of every bucket of the window).
    # The cell comes from the epoch (1970-01-01 was a Thursday, weekday 3), independent of the session zone.
    e = epoch(MetricPoint.bucket)
    cell = ((e // 86400 + 3) % 7) * 24 + (e % 86400) // 3600
    rows = db.execute(select(cell, func.sum(MetricPoint.count), func.count(),
                             func.count().filter(MetricPoint.is_anomaly)).where(
        MetricPoint.scan_config_id == cfg.id, scope_filter(st, ref), MetricPoint.bucket >= win.start,
        MetricPoint.bucket < win.end).group_by(cell)).all()
    volume, buckets, anomalous = np.zeros(168), np.zeros(168, dtype=np.int64), np.zeros(168)
    if rows:
        at = np.array([int(r[0]) for r in rows], dtype=np.intp)  # ≤ 168 cells, not buckets
        volume[at] = [float(r[1]) for r in rows]
        buckets[at] = [int(r[2]) for r in rows]
        anomalous[at] = [float(r[3]) for r in rows]
    return {**_scope_head(cfg.id, st, ref), **heatmap_from_cells(volume, buckets, anomalous)}


def _zero_filled(grid: pd.DatetimeIndex, rows: list[Any]) -> list[dict[str, Any]]:
    counts = pd.Series({pd.Timestamp(b): int(c) for b, c in rows}, dtype="int64")
    filled = counts.reindex(grid, fill_value=0) if len(counts) else pd.Series(0, index=grid, dtype="int64")
    return [{"bucket": ts.to_pydatetime(), "count": int(c)} for ts, c in zip(grid, filled.tolist(), strict=True)]


def breakdown_timeline(db: Session, project: Project, scan_config_id: uuid.UUID, scope_type: str,
                       scope_ref: str | None, column: str, value: str, is_other: bool,
                       time_from: datetime | None, time_to: datetime | None) -> dict[str, Any]:
    """Per bucket: the value's count (or the remainder's, with is_other), the scope's total and the share."""
    cfg = common.named_config(db, project, scan_config_id)
    st, ref = common.parse_scope(scope_type, scope_ref)
    win = common.window(common.interval_of(cfg).delta, time_from, time_to)
    match = BreakdownPoint.is_other.is_(True) if is_other else (
        BreakdownPoint.is_other.is_(False) & (BreakdownPoint.value == value))
    rows = db.execute(select(BreakdownPoint.bucket, func.sum(BreakdownPoint.count)).where(
        BreakdownPoint.scan_config_id == cfg.id, _bd_scope(st, ref), BreakdownPoint.column == column, match,
        BreakdownPoint.bucket >= win.start, BreakdownPoint.bucket < win.end).group_by(BreakdownPoint.bucket)).all()
    totals = dict(db.execute(select(MetricPoint.bucket, MetricPoint.count).where(
        MetricPoint.scan_config_id == cfg.id, scope_filter(st, ref), MetricPoint.bucket >= win.start,
        MetricPoint.bucket < win.end)).all())
    data = _zero_filled(win.grid, rows)
    for point in data:
        total = int(totals.get(point["bucket"], 0))
        point["total"] = total
        point["share"] = point["count"] / total if total else None
    return {**_scope_head(cfg.id, st, ref), "breakdown_column": column,
            "breakdown_value": None if is_other else value, "is_other": is_other,
            "interval": common.interval_of(cfg).value, "data": data}


def event_breakdowns(db: Session, project: Project, event_id: uuid.UUID, column: str | None,
                     time_from: datetime | None, time_to: datetime | None) -> dict[str, Any]:
    """The event's breakdown columns (its own, its config's, then any stored), one series per value of the
    selected column (the first when none is asked for), biggest first and the remainder (`is_other`) last."""
    event = common.main_event(db, project, event_id)
    cfg = common.config_for_scope(db, project, ScopeType.event, event.id, event.event_type_id)
    head = {"event_id": event.id, "scan_config_id": cfg.id if cfg else None,
            "interval": common.interval_of(cfg).value}
    if cfg is None:
        if column is not None:
            raise Invalid("column", f"Event '{event.name}' has no breakdown column '{column}'.", loc_prefix="query")
        return {**head, "columns": list(event.metric_breakdown_columns or []), "selected_column": None,
                "series": []}
    win = common.window(common.interval_of(cfg).delta, time_from, time_to)
    where = (BreakdownPoint.scan_config_id == cfg.id) & _bd_scope(ScopeType.event, event.id) & (
        BreakdownPoint.bucket >= win.start) & (BreakdownPoint.bucket < win.end)
    stored = db.scalars(select(BreakdownPoint.column).where(where).distinct())
    columns = list(dict.fromkeys([*(event.metric_breakdown_columns or []), *(cfg.metric_breakdown_columns or []),
                                  *sorted(stored)]))
    if column is not None and column not in columns:
        raise Invalid("column", f"'{column}' is not a breakdown column of event '{event.name}' "
                                f"(known: {', '.join(columns) or 'none'}).", loc_prefix="query")
    selected = column or (columns[0] if columns else None)
    series: list[dict[str, Any]] = []
    if selected is not None:
        rows = db.execute(select(BreakdownPoint.value, BreakdownPoint.is_other, BreakdownPoint.bucket,
                                 func.sum(BreakdownPoint.count)).where(where, BreakdownPoint.column == selected)
                          .group_by(BreakdownPoint.value, BreakdownPoint.is_other, BreakdownPoint.bucket)).all()
        per: dict[tuple[str | None, bool], list[Any]] = {}
        for value, other, b, c in rows:
            per.setdefault((value, bool(other)), []).append((b, c))
        grid = win.grid
        for (value, other), points in per.items():
            data = _zero_filled(grid, points)
            series.append({"value": value, "is_other": other, "total": sum(p["count"] for p in data),
                           "data": data})
        series.sort(key=lambda s: (s["is_other"], -s["total"], s["value"] or ""))
    return {**head, "columns": columns, "selected_column": selected, "series": series}
