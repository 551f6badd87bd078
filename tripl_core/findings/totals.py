"""The project's total volume across its scan configs (Get Project Total Metrics without `scan_config_id`).

Each config stores a `project_total` of what *its* base query reads: with one config per event type (the demo,
and any plan split that way) one config's total is a fraction of the project's. The project total is therefore
combined from every config that has stored one:

- configs restricted to the same event type count once (the one with the newest data, as for any scope);
- restricted configs of different event types are disjoint and are summed;
- an unrestricted config may read the same rows as the restricted ones: per bucket the larger of "the
  unrestricted total" and "the sum of the restricted ones" is taken, never their sum (as the overview does for
  events two configs count), so nothing is counted twice.

Buckets are on the coarsest interval of the configs combined; a bucket is shown only once every combined config
has scanned it (the earliest watermark). `expected`/`lower`/`upper` are sums of the parts' bands; `is_anomaly`
is true when a part was anomalous, `z`/`direction` those of the strongest part. A band ahead (`forecast`) is
given only when one config answers: a sum of independently forecast bands is not a band.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core.db.models.metrics import MetricPoint, ScopeType
from tripl_core.db.models.projects import Project
from tripl_core.db.models.sources import ScanConfig
from tripl_core.findings import common, series


def _newest_total(db: Session, cfg: ScanConfig) -> datetime | None:
    return db.scalar(select(MetricPoint.bucket).where(
        series.scope_filter(ScopeType.project_total, None), MetricPoint.scan_config_id == cfg.id)
        .order_by(*series.newest_first()).limit(1))


def contributing(db: Session, project: Project) -> list[ScanConfig]:
    """One config per event type restriction (None = unrestricted), the one with the newest stored total."""
    best: dict[uuid.UUID | None, tuple[datetime, ScanConfig]] = {}
    for cfg in common.configs(db, project):
        newest = _newest_total(db, cfg)
        if newest is None:
            continue
        key = cfg.event_type_id
        if key not in best or newest > best[key][0]:
            best[key] = (newest, cfg)
    return [cfg for _, cfg in best.values()]


def _add(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else a + b


def _merge(points: list[dict[str, Any]], step_s: int) -> dict[int, dict[str, Any]]:
    """Sum one config's points onto the coarser grid (epoch seconds → point)."""
    out: dict[int, dict[str, Any]] = {}
    for p in points:
        epoch = int(p["bucket"].timestamp())
        key = epoch - epoch % step_s
        cur = out.setdefault(key, {"count": 0, "expected": None, "lower": None, "upper": None, "z": None,
                                   "is_anomaly": False, "direction": None})
        _fold(cur, p)
    return out


def _fold(cur: dict[str, Any], p: dict[str, Any]) -> None:
    cur["count"] += p["count"]
    for k in ("expected", "lower", "upper"):
        cur[k] = _add(cur[k], p[k])
    if p["is_anomaly"] and (not cur["is_anomaly"] or abs(p["z"] or 0) > abs(cur["z"] or 0)):
        cur["z"], cur["direction"] = p["z"], p["direction"]
    elif not cur["is_anomaly"] and p["z"] is not None and abs(p["z"]) > abs(cur["z"] or 0):
        cur["z"] = p["z"]
    cur["is_anomaly"] = cur["is_anomaly"] or bool(p["is_anomaly"])


def _sum(parts: list[dict[int, dict[str, Any]]], keys: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for k in keys:
        cur = {"count": 0, "expected": None, "lower": None, "upper": None, "z": None, "is_anomaly": False,
               "direction": None}
        for part in parts:
            if k in part:
                _fold(cur, part[k])
        out[k] = cur
    return out


def project_total(db: Session, project: Project, time_from: datetime | None,
                  time_to: datetime | None) -> dict[str, Any]:
    cfgs = contributing(db, project)
    if len(cfgs) <= 1:  # one config answers: its series as stored, band ahead included
        return series.scope_series(db, project, ScopeType.project_total, None,
                                   named=cfgs[0].id if cfgs else None, time_from=time_from, time_to=time_to)
    step = max((common.interval_of(c) for c in cfgs), key=lambda i: i.seconds)
    win = common.window(step.delta, time_from, time_to)
    one = [series.scope_series(db, project, ScopeType.project_total, None, named=c.id, time_from=win.start,
                               time_to=win.end) for c in cfgs]
    merged = [_merge(s["data"], step.seconds) for s in one]
    # A bucket every config has reached (each series stops at its watermark).
    ends = [max(m) if m else None for m in merged]
    last = min((e for e in ends if e is not None), default=None)
    start = int(win.start.timestamp())
    keys = [] if last is None else list(range(start, last + 1, step.seconds))
    restricted = [m for m, c in zip(merged, cfgs, strict=True) if c.event_type_id is not None]
    open_all = [m for m, c in zip(merged, cfgs, strict=True) if c.event_type_id is None]
    summed = _sum(restricted, keys)
    if open_all:
        whole = open_all[0]
        summed = {k: whole[k] if k in whole and whole[k]["count"] > summed[k]["count"] else summed[k]
                  for k in keys}
    data = [{"bucket": datetime.fromtimestamp(k, UTC), **summed[k]} for k in keys]
    signals = [s["latest_signal"] for s in one if s["latest_signal"] is not None]
    latest = max(signals, key=lambda s: s["bucket"]) if signals else None
    return {"scope": ScopeType.project_total.value, "scan_config_id": None, "event_id": None,
            "event_type_id": None, "interval": step.value, "latest_signal": latest, "data": data, "forecast": []}
