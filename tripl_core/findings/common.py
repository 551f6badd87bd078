"""What every findings read shares: scopes, time windows on a scan config's bucket grid, and which scan config
answers for a scope when a project has several.

Windows: `from` defaults to `to` minus DEFAULT_WINDOW (7 days: a full weekly cycle, 672 points at 15 minutes),
`to` defaults to now. Both are aligned to the config's buckets (epoch-aligned, as the scans store them): `from`
rounds down, `to` rounds up, so the bucket holding `to` is included. A window is refused (422 naming `from`) when
it is reversed or holds more than MAX_POINTS buckets.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core.db.base import utcnow
from tripl_core.db.models.metrics import MetricPoint, ScopeType
from tripl_core.db.models.plan import BranchKind, Event, EventType, PlanBranch
from tripl_core.db.models.projects import Project
from tripl_core.db.models.scans import ScanState
from tripl_core.db.models.sources import ScanConfig
from tripl_core.errors import Invalid, NotFound
from tripl_core.warehouse.base import ScanInterval

DEFAULT_WINDOW = timedelta(days=7)
MAX_POINTS = 20_000


def as_utc(value: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC (what the scans store)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def floor_bucket(ts: datetime, step: timedelta) -> datetime:
    seconds = int(step.total_seconds())
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def ceil_bucket(ts: datetime, step: timedelta) -> datetime:
    floored = floor_bucket(ts, step)
    return floored if floored == ts else floored + step


@dataclass(frozen=True)
class Window:
    """[start, end) on a bucket grid of `step`."""

    start: datetime
    end: datetime
    step: timedelta

    @property
    def grid(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, self.end, freq=self.step, inclusive="left")


def window(step: timedelta, time_from: datetime | None, time_to: datetime | None,
           default: timedelta = DEFAULT_WINDOW, from_name: str = "from", to_name: str = "to",
           loc: str = "query") -> Window:
    end_raw = as_utc(time_to) or utcnow()
    start_raw = as_utc(time_from) or end_raw - default
    if start_raw >= end_raw:
        raise Invalid(from_name, f"'{from_name}' must be before '{to_name}'.", loc_prefix=loc)
    try:
        start, end = floor_bucket(start_raw, step), ceil_bucket(end_raw, step)
    except (OverflowError, ValueError, OSError) as exc:
        raise Invalid(from_name, f"'{from_name}'/'{to_name}' are out of range.", loc_prefix=loc) from exc
    if (end - start) / step > MAX_POINTS:
        raise Invalid(from_name, f"The window holds more than {MAX_POINTS} buckets of {step}; narrow it.",
                      loc_prefix=loc)
    return Window(start, end, step)


def interval_of(cfg: ScanConfig | None) -> ScanInterval:
    return ScanInterval(cfg.interval) if cfg is not None else ScanInterval.m15


def parse_scope(scope_type: str, scope_ref: str | None) -> tuple[ScopeType, uuid.UUID | None]:
    """`scope_ref` is ignored for project_total (any value, or none); a UUID otherwise (422 naming it)."""
    try:
        st = ScopeType(scope_type)
    except ValueError as exc:
        raise Invalid("scope_type", "scope_type must be one of project_total, event_type, event.",
                      loc_prefix="query") from exc
    if st == ScopeType.project_total:
        return st, None
    try:
        return st, uuid.UUID(str(scope_ref))
    except ValueError as exc:
        raise Invalid("scope_ref", f"scope_ref must be the {st.value.replace('_', ' ')} id (a UUID).",
                      loc_prefix="query") from exc


def main_branch_id(db: Session, project: Project) -> uuid.UUID:
    bid = db.scalar(select(PlanBranch.id).where(PlanBranch.project_id == project.id,
                                                PlanBranch.kind == BranchKind.main))
    if bid is None:
        raise NotFound(f"Project '{project.slug}' has no main branch.")
    return bid


def _on_main(db: Session, model: type[Any], obj_id: uuid.UUID, project: Project, label: str) -> Any:
    """One statement: the row if it is on the project's main branch (a branch copy or another project's is 404)."""
    obj = db.scalar(select(model).join(PlanBranch, PlanBranch.id == model.branch_id).where(
        model.id == obj_id, PlanBranch.project_id == project.id, PlanBranch.kind == BranchKind.main))
    if obj is None:
        raise NotFound(f"{label} '{obj_id}' not found.")
    return obj


def main_event(db: Session, project: Project, event_id: uuid.UUID) -> Event:
    """Metrics are keyed by main-branch events."""
    return _on_main(db, Event, event_id, project, "Event")


def main_event_type(db: Session, project: Project, event_type_id: uuid.UUID) -> EventType:
    return _on_main(db, EventType, event_type_id, project, "Event type")


def configs(db: Session, project: Project) -> list[ScanConfig]:
    return list(db.scalars(select(ScanConfig).where(ScanConfig.project_id == project.id)
                           .order_by(ScanConfig.created_at, ScanConfig.id)))


def named_config(db: Session, project: Project, scan_config_id: uuid.UUID) -> ScanConfig:
    cfg = db.get(ScanConfig, scan_config_id)
    if cfg is None or cfg.project_id != project.id:
        raise NotFound(f"Scan config '{scan_config_id}' not found in project '{project.slug}'.")
    return cfg


def config_for_scope(db: Session, project: Project, scope_type: ScopeType, scope_ref: uuid.UUID | None,
                     event_type_id: uuid.UUID | None = None, named: uuid.UUID | None = None) -> ScanConfig | None:
    """The scan config that answers for a scope: the one named; else the one with the newest stored point of
    this scope (several configs may cover it); else the one covering its event type (a config restricted to that
    type before an unrestricted one, older first). None when the project has no usable config."""
    if named is not None:
        return named_config(db, project, named)
    # Newest point first, so the (scope_type, scope_ref, bucket) index is read backwards and stops at once
    # (max() with a filter outside the index would visit every bucket of the scope).
    if scope_ref is not None:
        newest_id = db.scalar(select(MetricPoint.scan_config_id).where(
            MetricPoint.scope_type == scope_type, MetricPoint.scope_ref == scope_ref)
            .order_by(MetricPoint.bucket.desc()).limit(1))
        cfg = db.get(ScanConfig, newest_id) if newest_id is not None else None
        if cfg is not None and cfg.project_id == project.id:
            return cfg
    else:  # project totals of every project share scope_ref NULL: probe each of this project's configs
        newest = (select(MetricPoint.bucket).where(
            MetricPoint.scan_config_id == ScanConfig.id, MetricPoint.scope_type == scope_type,
            MetricPoint.scope_ref.is_(None))
            # scope_ref first (constant): a backward index scan; `bucket DESC` alone sorts the scope's every bucket
            .order_by(MetricPoint.scope_ref.desc(), MetricPoint.bucket.desc()).limit(1)
            .correlate(ScanConfig).scalar_subquery())
        row = db.execute(select(ScanConfig, newest.label("newest")).where(
            ScanConfig.project_id == project.id).order_by(newest.desc().nulls_last(), ScanConfig.created_at)
            .limit(1)).first()
        if row is not None and row.newest is not None:
            return row[0]
    candidates = configs(db, project)
    covering = [c for c in candidates if c.event_type_id is None or c.event_type_id == event_type_id]
    covering.sort(key=lambda c: (c.event_type_id is None, c.created_at))
    return covering[0] if covering else None


def watermark(db: Session, cfg: ScanConfig) -> datetime | None:
    return db.scalar(select(ScanState.watermark).where(ScanState.scan_config_id == cfg.id))


def latest_bucket(db: Session, cfg: ScanConfig) -> datetime | None:
    """Newest bucket the config stored (leading columns of its unique key: one index probe)."""
    return db.scalar(select(func.max(MetricPoint.bucket)).where(MetricPoint.scan_config_id == cfg.id))


def finite(value: float | None) -> float | None:
    """JSON has no NaN/inf: they become null."""
    if value is None:
        return None
    v = float(value)
    return v if np.isfinite(v) else None
