"""What the console's project pages show: the project list, a project's overview, an event's page, scan jobs.

Plain functions over a Session returning dicts for templates; every figure comes from the same tripl_core
functions the API serves (signals, coverage, series, breakdowns, drifts, regressions), so the console and the
API never disagree.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core.console import findings as findings_pages
from tripl_core.console.chart import volume_chart
from tripl_core.console.names import Names
from tripl_core.db.base import utcnow
from tripl_core.db.models.findings import (
    DistributionDrift,
    DriftStatus,
    ReleaseRegression,
    SchemaDrift,
    ShadowEventCandidate,
    ShadowStatus,
)
from tripl_core.db.models.metrics import ScopeType
from tripl_core.db.models.projects import Project
from tripl_core.db.models.scans import ScanJob
from tripl_core.db.models.sources import ScanConfig
from tripl_core.errors import Invalid, NotFound
from tripl_core.findings import common, reconciliation, rootcause, series, signals, totals
from tripl_core.scanning import liveness

RECENT_JOBS = 15
LIST_LIMIT = 50


def project_list(db: Session) -> list[dict[str, Any]]:
    rows = db.execute(select(Project).order_by(Project.name)).scalars().all()
    open_counts = dict(db.execute(select(SchemaDrift.project_id, func.count()).where(
        SchemaDrift.status == DriftStatus.open).group_by(SchemaDrift.project_id)).all())
    out = []
    for p in rows:
        sig = len(signals.active_signals(db, p))
        out.append({"project": p, "open_signals": sig, "open_drifts": open_counts.get(p.id, 0)})
    return out


def _signal_rows(db: Session, project: Project, names: Names) -> list[dict[str, Any]]:
    rows = signals.active_signals(db, project)[:LIST_LIMIT]
    names.load(event_ids=[r["scope_ref"] for r in rows if r["scope_type"] == "event"],
               type_ids=[r["scope_ref"] for r in rows if r["scope_type"] == "event_type"])
    for r in rows:
        r["name"] = names.scope(r["scope_type"], r["scope_ref"])
    return rows


def scan_jobs(db: Session, project: Project, limit: int = RECENT_JOBS,
              config_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    liveness.settle_orphans(db, config_id)  # a job whose runner died is shown failed, never "running" forever
    q = select(ScanJob, ScanConfig.name).join(ScanConfig, ScanConfig.id == ScanJob.scan_config_id).where(
        ScanJob.project_id == project.id)
    if config_id is not None:
        q = q.where(ScanJob.scan_config_id == config_id)
    return [job_view(j, name) for j, name in db.execute(q.order_by(ScanJob.created_at.desc()).limit(limit))]


def job_view(job: ScanJob, config_name: str) -> dict[str, Any]:
    """A job with its progress: Dagster runs one partition (a day) per run, so a replay's progress is the runs
    launched (and, once final, the days its summary counts) against the days of its window."""
    days = None
    if job.time_from is not None and job.time_to is not None:
        days = max(1, -(-int((job.time_to - job.time_from).total_seconds()) // 86400))
    summary = job.result_summary or {}
    done = summary.get("days") if job.status.is_final else None
    runs = len(job.dagster_run_ids or [])
    if job.status.is_final:
        progress = "finished" if job.status.value == "succeeded" else job.status.value
    elif isinstance(summary.get("days_total"), int) and summary["days_total"] > 0:  # the pipelines keep count
        progress = f"{summary.get('days', 0)} of {summary['days_total']} days scanned"
    elif days:
        progress = f"{runs} of {days} day runs launched"
    else:
        progress = "running" if job.started_at else "queued"
    return {"job": job, "config_name": config_name, "days": days, "days_done": done, "runs": runs,
            "progress": progress, "duration": (job.completed_at - job.started_at)
            if job.completed_at and job.started_at else None}


def scan_job(db: Session, project: Project, job_id: uuid.UUID) -> dict[str, Any]:
    liveness.settle_orphans(db)
    row = db.execute(select(ScanJob, ScanConfig.name).join(ScanConfig, ScanConfig.id == ScanJob.scan_config_id)
                     .where(ScanJob.id == job_id, ScanJob.project_id == project.id)).first()
    if row is None:
        raise NotFound(f"Scan job '{job_id}' not found.")
    return job_view(*row)


def overview(db: Session, project: Project) -> dict[str, Any]:
    names = Names(db, project)
    open_drifts = list(db.scalars(select(SchemaDrift).where(
        SchemaDrift.project_id == project.id, SchemaDrift.status == DriftStatus.open)
        .order_by(SchemaDrift.last_seen_at.desc()).limit(LIST_LIMIT)))
    names.load(type_ids=[d.event_type_id for d in open_drifts])
    since = utcnow() - timedelta(days=14)
    dist = list(db.scalars(select(DistributionDrift).where(
        DistributionDrift.project_id == project.id, DistributionDrift.is_drift,
        DistributionDrift.window_start >= since).order_by(DistributionDrift.window_start.desc()).limit(20)))
    regs = list(db.scalars(select(ReleaseRegression).where(
        ReleaseRegression.project_id == project.id, ReleaseRegression.is_regression)
        .order_by(ReleaseRegression.detected_at.desc(), func.abs(ReleaseRegression.z).desc()).limit(20)))
    names.load(event_ids=[r.scope_ref for r in regs if r.scope_type == ScopeType.event],
               type_ids=[r.scope_ref for r in [*regs, *dist] if r.scope_type == ScopeType.event_type])
    shadows = list(db.scalars(select(ShadowEventCandidate).where(
        ShadowEventCandidate.project_id == project.id, ShadowEventCandidate.status == ShadowStatus.new)
        .order_by(ShadowEventCandidate.total_count.desc()).limit(20)))
    cov = reconciliation.coverage(db, project, 14, None)
    dead = reconciliation.dead_events(db, project, findings_pages.DEAD_DAYS)
    total = totals.project_total(db, project, None, None)
    if not any(p["count"] for p in total["data"]):  # nothing lately (an old replay): its last 7 stored days
        newest = max((common.latest_bucket(db, c) for c in totals.contributing(db, project)), default=None)
        if newest is not None:
            total = totals.project_total(db, project, newest - timedelta(days=7), newest)
    return {
        "signals": _signal_rows(db, project, names), "drifts": open_drifts, "distribution_drifts": dist,
        "regressions": regs, "shadows": shadows, "dead": dead["items"][:20], "dead_total": dead["total"],
        "coverage": cov["summary"], "coverage_items": cov["items"], "jobs": scan_jobs(db, project),
        "names": names, "total_chart": volume_chart(total["data"], total["forecast"]),
        "total_interval": total["interval"],
    }


def event_page(db: Session, project: Project, event_id: uuid.UUID, time_from: datetime | None = None,
               time_to: datetime | None = None, column: str | None = None) -> dict[str, Any]:
    """Volume with its band and anomalies, breakdowns, open signals, schema drifts of its type, regressions."""
    event = common.main_event(db, project, event_id)
    data = series.event_series(db, project, event.id, time_from, time_to)
    if not any(p["count"] for p in data["data"]) and time_from is None and data["scan_config_id"]:
        # Nothing in the last 7 days (an old replay): show the 7 days up to the newest stored bucket.
        newest = common.latest_bucket(db, db.get(ScanConfig, data["scan_config_id"]))
        if newest is not None:  # (the API's window rounds `to` up, so the newest bucket is included)
            data = series.event_series(db, project, event.id, newest - timedelta(days=7), newest)
    if data["data"]:  # the breakdowns over the same buckets as the chart
        step = common.interval_of(db.get(ScanConfig, data["scan_config_id"])).delta
        time_from, time_to = data["data"][0]["bucket"], data["data"][-1]["bucket"] + step
    try:
        breakdowns = rootcause.event_breakdowns(db, project, event.id, column, time_from, time_to)
    except Invalid:  # a column that is not (or no longer) one of the event's: the first one
        breakdowns = rootcause.event_breakdowns(db, project, event.id, None, time_from, time_to)
    if column is None and not breakdowns["series"]:  # the plan's column may have no stored rows: one that has
        for other in breakdowns["columns"][1:6]:
            found = rootcause.event_breakdowns(db, project, event.id, other, time_from, time_to)
            if found["series"]:
                breakdowns = found
                break
    names = Names(db, project)
    sigs = [s for s in signals.active_signals(db, project, [event.id])]
    drifts = [d for d in db.scalars(select(SchemaDrift).where(
        SchemaDrift.project_id == project.id, SchemaDrift.event_type_id == event.event_type_id)
        .order_by(SchemaDrift.last_seen_at.desc()).limit(LIST_LIMIT))]
    regs = list(db.scalars(select(ReleaseRegression).where(
        ReleaseRegression.project_id == project.id, ReleaseRegression.scope_type == ScopeType.event,
        ReleaseRegression.scope_ref == event.id, ReleaseRegression.is_regression)
        .order_by(ReleaseRegression.detected_at.desc())))
    names.load(type_ids=[event.event_type_id])
    bd_rows = []
    for s in breakdowns["series"][:8]:
        bd_rows.append({"value": s["value"], "is_other": s["is_other"], "total": s["total"],
                        "chart": volume_chart(s["data"])})
    return {"event": event, "type_name": names.types.get(event.event_type_id, ""), "series": data,
            "chart": volume_chart(data["data"], data["forecast"]), "signals": sigs, "drifts": drifts,
            "regressions": regs, "breakdowns": breakdowns, "breakdown_rows": bd_rows}
