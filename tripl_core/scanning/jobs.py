"""Scan jobs as the API sees them: enqueue (Run Scan, Replay Scan Metrics, Apply Scan Event Groups), list, get,
cancel. The API only writes job rows; who executes them is `settings.scan_executor` (docs/pipelines.md):
the Dagster queue sensor, or the in-process runner on a worker thread.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.projects import Project
from tripl_core.db.models.scans import ScanJob, ScanJobKind, ScanJobStatus
from tripl_core.db.models.sources import ScanConfig
from tripl_core.db.session import new_session
from tripl_core.errors import Conflict, Invalid, NotFound
from tripl_core.scanning import liveness

# Re-exported: they live in `job_summary` so that `runner` (which this module starts) need not import this one.
from tripl_core.scanning.job_summary import job_totals as job_totals
from tripl_core.scanning.job_summary import summary_for as summary_for
from tripl_core.settings import get_settings

log = logging.getLogger("tripl.scans")

MAX_REPLAY_DAYS = 400
LIST_LIMIT = 200

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def first_day(now: datetime | None = None) -> datetime:
    """First UTC day a scan may cover = the first day partition of the Dagster assets (TRIPL_SCAN_FIRST_DAY;
    unset: the first of the month twelve months ago), so the Dagster UI's fill percentage means something."""
    explicit = get_settings().scan_first_day
    if explicit:
        return datetime.strptime(explicit, "%Y-%m-%d").replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return datetime(now.year - 1, now.month, 1, tzinfo=UTC)


def _utc(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def enqueue(db: Session, actor: audit.Actor | None, project: Project, cfg: ScanConfig, kind: ScanJobKind,
            time_from: datetime | None = None, time_to: datetime | None = None, trigger: str = "api") -> ScanJob:
    """Validate and insert a pending job; hand it to the in-process runner when that is the executor."""
    if kind == ScanJobKind.replay:
        if time_from is None:
            raise Invalid("time_from", "time_from is required.")
        if time_to is None:
            raise Invalid("time_to", "time_to is required.")
        time_from, time_to = _utc(time_from, "time_from"), _utc(time_to, "time_to")
        if time_to <= time_from:
            raise Invalid("time_to", "time_to must be after time_from.")
        if time_to - time_from > timedelta(days=MAX_REPLAY_DAYS):
            raise Invalid("time_to", f"A replay covers at most {MAX_REPLAY_DAYS} days.")
        if time_from > datetime.now(UTC) + timedelta(days=1):
            raise Invalid("time_from", "time_from is in the future.")
        earliest = first_day()
        if time_from < earliest:
            raise Invalid("time_from", f"Scans start on {earliest:%Y-%m-%d} at the earliest (TRIPL_SCAN_FIRST_DAY, "
                                       "the first day partition).")
    if kind != ScanJobKind.apply_event_groups and not cfg.time_column:
        raise Invalid("time_column", "The scan config has no time_column; set one before scanning.")
    liveness.settle_orphans(db, cfg.id)  # a job whose runner died is failed before the next one is dispatched
    # trigger "inprocess" from a caller means "I run it myself" (runner.run_job); API jobs go to the executor.
    runs_here = get_settings().scan_executor == "inprocess" and trigger == "api"
    job = ScanJob(project_id=project.id, scan_config_id=cfg.id, kind=kind, status=ScanJobStatus.pending,
                  time_from=time_from, time_to=time_to, trigger="inprocess" if runs_here else trigger,
                  requested_by=actor.user.id if actor is not None else None)
    db.add(job)
    db.flush()
    audit.record(db, actor, f"scan_job.{kind.value}", "scan_job", job.id, cfg.name, project=project,
                 after={"kind": kind.value, "scan_config_id": str(cfg.id),
                        "time_from": time_from.isoformat() if time_from else None,
                        "time_to": time_to.isoformat() if time_to else None})
    db.commit()
    if runs_here:
        submit_inprocess(job.id)
    return job


def submit_inprocess(job_id: uuid.UUID) -> None:
    """Run a job on the API process's scan thread (one at a time: scans are heavy, the machine is shared)."""
    global _pool
    from tripl_core.scanning.runner import run_job_by_id

    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tripl-scan")
    _pool.submit(run_job_by_id, job_id)


def resume_inprocess() -> list[uuid.UUID]:
    """At the start of an API process that executes scans (TRIPL_SCAN_EXECUTOR=inprocess): fail the jobs whose
    runner died, and take on the pending ones — a job queued on a worker's scan thread is lost with the worker
    (kill -9, a restart), and nothing else would ever start it. Every worker does this; the runner's claim and
    liveness lock make one of them run each job. Returns the jobs handed to the scan thread."""
    with new_session() as db:
        liveness.settle_orphans(db)
        pending = list(db.scalars(select(ScanJob.id).where(ScanJob.status == ScanJobStatus.pending,
                                                           ScanJob.trigger == "inprocess")
                                  .order_by(ScanJob.created_at)))
    for job_id in pending:
        submit_inprocess(job_id)
    if pending:
        log.info("resumed %d pending scan job(s)", len(pending))
    return pending


def list_jobs(db: Session, project: Project, cfg: ScanConfig, limit: int = LIST_LIMIT) -> list[ScanJob]:
    liveness.settle_orphans(db, cfg.id)  # never list a job as running whose runner is gone
    return list(db.scalars(select(ScanJob).where(ScanJob.scan_config_id == cfg.id, ScanJob.project_id == project.id)
                           .order_by(ScanJob.created_at.desc(), ScanJob.id).limit(limit)))


def get_job(db: Session, project: Project, cfg: ScanConfig, job_id: uuid.UUID) -> ScanJob:
    liveness.settle_orphans(db, cfg.id)
    job = db.get(ScanJob, job_id)
    if job is None or job.scan_config_id != cfg.id or job.project_id != project.id:
        raise NotFound(f"Scan job '{job_id}' not found for scan config '{cfg.id}'.")
    return job


def cancel(db: Session, actor: audit.Actor, project: Project, cfg: ScanConfig, job: ScanJob) -> ScanJob:
    """A pending job is cancelled at once; a running one is flagged (the cancellation sensor terminates its
    Dagster runs, the in-process runner stops before its next day). Finished jobs: 409."""
    if job.status.is_final:
        raise Conflict(f"Scan job '{job.id}' already {job.status.value}.")
    now = datetime.now(UTC)
    job.cancel_requested_at = now
    if job.status == ScanJobStatus.pending and not job.dagster_run_ids:
        job.status, job.completed_at = ScanJobStatus.cancelled, now
        job.error_message = "Cancelled before it started."
    audit.record(db, actor, "scan_job.cancel", "scan_job", job.id, cfg.name, project=project,
                 after={"status": job.status.value})
    db.commit()
    return job
