"""Data-source stats from the scans of every scan config reading that source (all projects).

- `events_tracked`: distinct plan events with volume in the window;
- `volume_window`: rows scanned in the window (project totals of the source's configs);
- `throughput`: rows per hour over the window, zero-filled.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core.db.base import utcnow
from tripl_core.db.models.metrics import MetricPoint, ScopeType
from tripl_core.db.models.sources import DataSource, ScanConfig
from tripl_core.findings.common import floor_bucket


def data_source_stats(db: Session, ds: DataSource, window_hours: int) -> dict[str, Any]:
    hour = timedelta(hours=1)
    end = floor_bucket(utcnow(), hour) + hour
    start = end - window_hours * hour
    cfg_ids = list(db.scalars(select(ScanConfig.id).where(ScanConfig.data_source_id == ds.id)))
    grid = pd.date_range(start, end, freq="1h", inclusive="left")
    per_hour: dict[Any, int] = {}
    tracked = 0
    if cfg_ids:
        in_window = (MetricPoint.scan_config_id.in_(cfg_ids), MetricPoint.bucket >= start, MetricPoint.bucket < end)
        tracked = db.scalar(select(func.count(func.distinct(MetricPoint.scope_ref))).where(
            *in_window, MetricPoint.scope_type == ScopeType.event, MetricPoint.count > 0)) or 0
        hour_of = func.date_trunc("hour", MetricPoint.bucket, "UTC")
        per_hour = {pd.Timestamp(h): int(n) for h, n in db.execute(select(hour_of, func.sum(MetricPoint.count))
                    .where(*in_window, MetricPoint.scope_type == ScopeType.project_total).group_by(hour_of))}
    throughput = [{"bucket": ts.to_pydatetime(), "count": per_hour.get(ts, 0)} for ts in grid]
    return {"events_tracked": int(tracked), "volume_window": sum(p["count"] for p in throughput),
            "window_hours": window_hours, "throughput": throughput}
