"""Releases: volume per app version (the scan config's `app_version_column`), adoption (each version's share of
all rows per bucket) and release regressions (events whose share of a new release's rows fell or rose versus
earlier releases; computed by the scans with `tripl_core.detection.releases`).

Versions are ordered naturally (`detection.releases.sort_versions`: 1.10.0 after 1.9.3); `latest_version` is the
newest version seen in the window. Rows beyond the top 50 versions per scan chunk are one `is_other` series.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core.db.models.findings import ReleaseRegression
from tripl_core.db.models.metrics import AppVersionPoint, ScopeType
from tripl_core.db.models.plan import Event
from tripl_core.db.models.projects import Project
from tripl_core.detection.releases import sort_versions, version_key
from tripl_core.errors import Invalid
from tripl_core.findings import common


def _scope_ids(db: Session, project: Project, st: ScopeType, ref: uuid.UUID | None) -> dict[str, Any]:
    if st == ScopeType.event and ref is not None:
        event = common.main_event(db, project, ref)
        return {"event_id": event.id, "event_type_id": event.event_type_id}
    if st == ScopeType.event_type and ref is not None:
        return {"event_id": None, "event_type_id": common.main_event_type(db, project, ref).id}
    return {"event_id": None, "event_type_id": None}


def _version_rows(db: Session, cfg_id: uuid.UUID, st: ScopeType, ref: uuid.UUID | None,
                  win: common.Window) -> pd.DataFrame:
    scope_ref = AppVersionPoint.scope_ref.is_(None) if ref is None else AppVersionPoint.scope_ref == ref
    rows = db.execute(select(AppVersionPoint.bucket, AppVersionPoint.app_version, AppVersionPoint.is_other,
                             func.sum(AppVersionPoint.count)).where(
        AppVersionPoint.scan_config_id == cfg_id, AppVersionPoint.scope_type == st, scope_ref,
        AppVersionPoint.bucket >= win.start, AppVersionPoint.bucket < win.end).group_by(
        AppVersionPoint.bucket, AppVersionPoint.app_version, AppVersionPoint.is_other)).all()
    frame = pd.DataFrame(rows, columns=["bucket", "app_version", "is_other", "count"])
    frame["bucket"] = pd.to_datetime(frame["bucket"], utc=True)
    frame["count"] = frame["count"].astype("int64")
    return frame


def _ordered(frame: pd.DataFrame) -> list[tuple[str | None, bool]]:
    """Versions newest first; rows without a version, then the remainder, last."""
    named = sort_versions(frame.loc[~frame["is_other"] & frame["app_version"].notna(), "app_version"])[::-1]
    keys: list[tuple[str | None, bool]] = [(v, False) for v in named]
    if (~frame["is_other"] & frame["app_version"].isna()).any():
        keys.append((None, False))
    if frame["is_other"].any():
        keys.append((None, True))
    return keys


def _series(frame: pd.DataFrame, grid: pd.DatetimeIndex, with_share: bool) -> list[dict[str, Any]]:
    if frame.empty:
        return []
    totals = frame.groupby("bucket")["count"].sum().reindex(grid, fill_value=0).to_numpy()
    out = []
    for version, other in _ordered(frame):
        sel = frame["is_other"] if other else (~frame["is_other"] & (
            frame["app_version"].isna() if version is None else frame["app_version"] == version))
        counts = frame[sel].groupby("bucket")["count"].sum().reindex(grid, fill_value=0).to_numpy()
        points = []
        for ts, c, t in zip(grid, counts.tolist(), totals.tolist(), strict=True):
            point: dict[str, Any] = {"bucket": ts.to_pydatetime(), "count": int(c)}
            if with_share:
                point["share"] = c / t if t else None
            points.append(point)
        out.append({"app_version": version, "is_other": other, "total": int(counts.sum()), "data": points})
    return out


def _head(cfg: Any, st: ScopeType, ref: uuid.UUID | None, ids: dict[str, Any], frame: pd.DataFrame
          ) -> dict[str, Any]:
    named = [v for v, other in _ordered(frame) if v is not None and not other] if not frame.empty else []
    versions = []
    if not frame.empty:
        by_version = frame[~frame["is_other"]].groupby("app_version", dropna=False)["count"].sum()
        versions = [{"app_version": v, "count": int(by_version.get(v, 0))} for v in named]
    return {"scan_config_id": cfg.id, "scope_type": st.value, "scope_ref": str(ref) if ref else None, **ids,
            "app_version_column": cfg.app_version_column, "interval": common.interval_of(cfg).value,
            "latest_version": named[0] if named else None, "versions": versions}


def version_series(db: Session, project: Project, scan_config_id: uuid.UUID, scope_type: str,
                   scope_ref: str | None, time_from: datetime | None, time_to: datetime | None) -> dict[str, Any]:
    cfg = common.named_config(db, project, scan_config_id)
    st, ref = common.parse_scope(scope_type, scope_ref)
    ids = _scope_ids(db, project, st, ref)
    win = common.window(common.interval_of(cfg).delta, time_from, time_to)
    frame = _version_rows(db, cfg.id, st, ref, win)
    return {**_head(cfg, st, ref, ids, frame), "series": _series(frame, win.grid, with_share=False)}


def adoption(db: Session, project: Project, scan_config_id: uuid.UUID, time_from: datetime | None,
             time_to: datetime | None) -> dict[str, Any]:
    """Each version's share of all rows per bucket (project total), and over the window in `totals`."""
    cfg = common.named_config(db, project, scan_config_id)
    st = ScopeType.project_total
    win = common.window(common.interval_of(cfg).delta, time_from, time_to)
    frame = _version_rows(db, cfg.id, st, None, win)
    series = _series(frame, win.grid, with_share=True)
    grand = sum(s["total"] for s in series)
    totals = []
    for s in series:
        seen = [p["bucket"] for p in s["data"] if p["count"] > 0]
        totals.append({"app_version": s["app_version"], "is_other": s["is_other"], "count": s["total"],
                       "share": s["total"] / grand if grand else None,
                       "first_seen": seen[0] if seen else None, "last_seen": seen[-1] if seen else None})
    ids = {"event_id": None, "event_type_id": None}
    return {**_head(cfg, st, None, ids, frame), "series": series, "totals": totals}


def regressions(db: Session, project: Project, scan_config_id: uuid.UUID, scope_type: str | None
                ) -> dict[str, Any]:
    """Regressed events of the kept releases, newest release first, strongest |z| first."""
    cfg = common.named_config(db, project, scan_config_id)
    q = select(ReleaseRegression, Event.name).outerjoin(
        Event, (ReleaseRegression.scope_type == ScopeType.event) & (Event.id == ReleaseRegression.scope_ref)
    ).where(ReleaseRegression.scan_config_id == cfg.id)
    if scope_type is not None:
        try:
            q = q.where(ReleaseRegression.scope_type == ScopeType(scope_type))
        except ValueError as exc:
            raise Invalid("scope_type", "scope_type must be one of project_total, event_type, event.",
                          loc_prefix="query") from exc
    rows = db.execute(q).all()
    versions = sort_versions(r.app_version for r, _ in rows)
    items = []
    for r, name in rows:
        if not r.is_regression:
            continue
        items.append({
            "id": r.id, "app_version": r.app_version, "baseline_versions": list(r.baseline_versions),
            "scope_type": r.scope_type.value, "scope_ref": r.scope_ref,
            "event_id": r.scope_ref if r.scope_type == ScopeType.event else None, "event_name": name,
            "event_type_id": r.event_type_id, "release_count": r.release_count, "release_total": r.release_total,
            "baseline_count": r.baseline_count, "baseline_total": r.baseline_total,
            "release_share": r.release_share, "baseline_share": r.baseline_share, "ratio": common.finite(r.ratio),
            "expected_count": r.expected_count, "z": common.finite(r.z), "direction": r.direction,
            "p_value": _p_value(r.z), "is_regression": r.is_regression, "detected_at": r.detected_at})
    items.sort(key=lambda i: (version_key(i["app_version"]), abs(i["z"] or 0.0)), reverse=True)
    return {"scan_config_id": cfg.id, "app_version_column": cfg.app_version_column,
            "latest_version": versions[-1] if versions else None, "items": items}


def _p_value(z: float | None) -> float | None:
    """Two-sided p-value of the stored z (the scans' two-proportion test)."""
    if z is None or not np.isfinite(z):
        return None
    from scipy.stats import norm  # here: scipy.stats costs ~0.5 s to import in every API and run process

    return float(2 * norm.sf(abs(z)))
