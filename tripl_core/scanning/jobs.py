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
from tripl_core.errors import Conflict, Invalid, NotFound
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


def list_jobs(db: Session, project: Project, cfg: ScanConfig, limit: int = LIST_LIMIT) -> list[ScanJob]:
    return list(db.scalars(select(ScanJob).where(ScanJob.scan_config_id == cfg.id, ScanJob.project_id == project.id)
                           .order_by(ScanJob.created_at.desc(), ScanJob.id).limit(limit)))


def get_job(db: Session, project: Project, cfg: ScanConfig, job_id: uuid.UUID) -> ScanJob:
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


def job_totals(db: Session, cfg: ScanConfig, start: datetime, end: datetime) -> dict[str, int]:
    """What a scan job's window [start, end) holds after the job, read from the stored rows — so the job's
    `result_summary` is the same for the same work whichever executor ran it, in whatever order or batching
    (sums of per-day step summaries counted a signal re-scored on later days once per day)."""
    from sqlalchemy import text

    row = db.execute(text("""
        SELECT
          (SELECT coalesce(sum(count), 0) FROM observed_names
            WHERE scan_config_id = :c AND bucket >= :s AND bucket < :e) AS rows,
          (SELECT count(DISTINCT bucket) FROM metric_points
            WHERE scan_config_id = :c AND bucket >= :s AND bucket < :e) AS buckets,
          (SELECT count(*) FROM metric_points WHERE scan_config_id = :c AND bucket >= :s AND bucket < :e)
            AS metric_points,
          (SELECT count(*) FROM metric_points
            WHERE scan_config_id = :c AND bucket >= :s AND bucket < :e AND is_anomaly) AS anomalies,
          (SELECT count(*) FROM anomaly_signals WHERE scan_config_id = :c AND bucket >= :s AND since < :e)
            AS signals,
          (SELECT count(*) FROM anomaly_signals
            WHERE scan_config_id = :c AND bucket >= :s AND since < :e AND status = 'open') AS open_signals,
          (SELECT count(*) FROM schema_drifts
            WHERE scan_config_id = :c AND last_seen_at >= :s AND detected_at < :e) AS schema_drifts,
          (SELECT count(*) FROM distribution_drifts
            WHERE scan_config_id = :c AND window_start >= :s AND window_start < :e AND is_drift)
            AS distribution_drifts,
          (SELECT count(*) FROM release_regressions
            WHERE scan_config_id = :c AND detected_at > :s AND detected_at <= :e AND is_regression)
            AS release_regressions,
          (SELECT count(*) FROM shadow_event_candidates
            WHERE project_id = :p AND is_active AND last_seen_at >= :s AND first_seen_at < :e) AS shadow_events
    """), {"c": cfg.id, "p": cfg.project_id, "s": start, "e": end}).mappings().one()
    return {k: int(v) for k, v in row.items()}


def summary_for(db: Session, cfg: ScanConfig, job: ScanJob, days: int, days_total: int | None) -> dict[str, int]:
    """The `result_summary` of a finished scan job (both executors): days done / total and `job_totals` over the
    job's window — whole days for replays, the scanned window for runs."""
    out: dict[str, int] = {"days": days, "days_total": days if days_total is None else days_total}
    if job.time_from is None or job.time_to is None or job.kind == ScanJobKind.apply_event_groups:
        return out
    start, end = job.time_from, job.time_to
    if job.kind == ScanJobKind.replay:
        start = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        last = (end - timedelta(microseconds=1)).astimezone(UTC)
        end = last.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return {**out, **job_totals(db, cfg, start, end)}
