"""Project overview figures from the stored series: per-event window totals, daily KPIs and top events.

All read `metric_points` of the project's scan configs. When two configs count the same event (overlapping base
queries) an event's window total is the larger of the two rather than their sum, so nothing is counted twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Date, cast, func, select
from sqlalchemy.orm import Session

from tripl_core.db.base import utcnow
from tripl_core.db.models.metrics import MetricPoint, ScopeType
from tripl_core.db.models.plan import Event, EventType
from tripl_core.db.models.projects import Project
from tripl_core.errors import Invalid
from tripl_core.findings import common

WINDOW_DEFAULT = timedelta(hours=24)
MAX_EVENT_IDS = 10_000


def _per_event(db: Session, project: Project, event_ids: list[uuid.UUID] | None, start: datetime,
               end: datetime) -> dict[uuid.UUID, dict[str, Any]]:
    """{event id: {count, anomalies, last_bucket, scan_config_id}} using each event's largest config."""
    cfg_ids = [c.id for c in common.configs(db, project)]
    if not cfg_ids:
        return {}
    q = select(MetricPoint.scope_ref, MetricPoint.scan_config_id, func.sum(MetricPoint.count),
               func.count().filter(MetricPoint.is_anomaly),
               func.max(MetricPoint.bucket).filter(MetricPoint.count > 0)).where(
        MetricPoint.scope_type == ScopeType.event, MetricPoint.scan_config_id.in_(cfg_ids),
        MetricPoint.bucket >= start, MetricPoint.bucket < end)
    if event_ids is not None:
        q = q.where(MetricPoint.scope_ref.in_(event_ids))
    out: dict[uuid.UUID, dict[str, Any]] = {}
    for ref, cfg_id, total, anomalies, last in db.execute(q.group_by(MetricPoint.scope_ref,
                                                                     MetricPoint.scan_config_id)):
        if ref not in out or int(total) > out[ref]["count"]:
            out[ref] = {"count": int(total), "anomalies": int(anomalies), "last_bucket": last,
                        "scan_config_id": cfg_id}
    return out


def window_metrics(db: Session, project: Project, event_ids: list[uuid.UUID], time_from: datetime | None,
                   time_to: datetime | None) -> list[dict[str, Any]]:
    """Totals of the listed main-branch events over [time_from, time_to) (default: the last 24 hours).

    Ids that are not events of the project's main branch are left out; events without data count zero."""
    if len(event_ids) > MAX_EVENT_IDS:
        raise Invalid("event_ids", f"Give at most {MAX_EVENT_IDS} event ids.")
    end = common.as_utc(time_to) or utcnow()
    start = common.as_utc(time_from) or end - WINDOW_DEFAULT
    if start >= end:
        raise Invalid("time_from", "'time_from' must be before 'time_to'.")
    wanted = list(dict.fromkeys(event_ids))
    if not wanted:
        return []
    branch = common.main_branch_id(db, project)
    known = set(db.scalars(select(Event.id).where(Event.branch_id == branch, Event.id.in_(wanted))))
    totals = _per_event(db, project, [i for i in wanted if i in known], start, end)
    empty = {"count": 0, "anomalies": 0, "last_bucket": None, "scan_config_id": None}
    return [{"event_id": i, "time_from": start, "time_to": end, **totals.get(i, empty)}
            for i in wanted if i in known]


def kpi_series(db: Session, project: Project, days: int) -> dict[str, Any]:
    """Per UTC day of the last `days` (today included): events with volume, total volume, anomalous buckets."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    cfg_ids = [c.id for c in common.configs(db, project)]
    by_day: dict[Any, dict[str, int]] = {}
    if cfg_ids:
        day = cast(func.timezone("UTC", MetricPoint.bucket), Date)
        rows = db.execute(select(
            day, func.count(func.distinct(MetricPoint.scope_ref)).filter(
                MetricPoint.scope_type == ScopeType.event, MetricPoint.count > 0),
            func.coalesce(func.sum(MetricPoint.count).filter(MetricPoint.scope_type == ScopeType.project_total), 0),
            func.count().filter(MetricPoint.is_anomaly),
        ).where(MetricPoint.scan_config_id.in_(cfg_ids), MetricPoint.bucket >= start,
                MetricPoint.scope_type.in_([ScopeType.event, ScopeType.project_total])).group_by(day))
        by_day = {d: {"active_events": int(a), "volume": int(v), "anomalies": int(n)} for d, a, v, n in rows}
    series = []
    for i in range(days):
        d = first + timedelta(days=i)
        series.append({"date": d, **by_day.get(d, {"active_events": 0, "volume": 0, "anomalies": 0})})
    return {"days": days, "active_events": series}


def top_events(db: Session, project: Project, window_hours: int, limit: int) -> list[dict[str, Any]]:
    """Main-branch events by volume over the last `window_hours`, with the previous window of the same length
    for comparison (`change` is the relative change, null when the previous window was empty)."""
    end = utcnow()
    span = timedelta(hours=window_hours)
    current = _per_event(db, project, None, end - span, end)
    branch = common.main_branch_id(db, project)
    names = {eid: (name, etid, etname) for eid, name, etid, etname in db.execute(
        select(Event.id, Event.name, Event.event_type_id, EventType.name).join(
            EventType, EventType.id == Event.event_type_id).where(Event.branch_id == branch,
                                                                  Event.id.in_(list(current))))}
    ranked = sorted(((eid, v) for eid, v in current.items() if eid in names and v["count"] > 0),
                    key=lambda kv: (-kv[1]["count"], names[kv[0]][0]))[:limit]
    previous = _per_event(db, project, [eid for eid, _ in ranked], end - 2 * span, end - span)
    out = []
    for eid, v in ranked:
        prev = previous.get(eid, {}).get("count", 0)
        name, etid, etname = names[eid]
        out.append({"event_id": eid, "name": name, "event_type_id": etid, "event_type_name": etname,
                    "count": v["count"], "previous_count": prev,
                    "change": (v["count"] - prev) / prev if prev else None, "anomalies": v["anomalies"],
                    "last_bucket": v["last_bucket"]})
    return out
