"""Execute scan jobs without Dagster (tests, `TRIPL_SCAN_EXECUTOR=inprocess`), with the assets' own steps.

A job becomes a list of day windows (`plan_windows`): a replay recomputes every whole day overlapping
[time_from, time_to), up to time_to; a run recomputes, per day from the watermark's day to today, the part after
watermark − scan_lookback_hours. Each day is one transaction: a failure rolls that day back, so nothing
half-written is visible, and the job fails with the error's message (the warehouse's own, for warehouse errors).
Every window is further clipped to observed time by the steps (`scanning.horizon`: not past now's bucket, not past
the newest data), so nothing after it is stored or scored.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from tripl_core.db.models.scans import ScanJob, ScanJobKind, ScanJobStatus, ScanState
from tripl_core.db.models.sources import ScanConfig
from tripl_core.db.session import new_session
from tripl_core.errors import DomainError
from tripl_core.scanning import job_summary, liveness, steps
from tripl_core.scanning.groups import apply_event_groups
from tripl_core.warehouse import WarehouseError

log = logging.getLogger("tripl.scans")

Window = tuple[datetime, datetime]


def replay_days(time_from: datetime, time_to: datetime) -> list[datetime]:
    """Start of every UTC day overlapping [time_from, time_to)."""
    day = steps.day_of(time_from)
    out = []
    while day < time_to:
        out.append(day)
        day += timedelta(days=1)
    return out


def plan_windows(db: Session, cfg: ScanConfig, job: ScanJob, now: datetime | None = None) -> list[Window]:
    now = now or datetime.now(UTC)
    if job.kind == ScanJobKind.replay:
        # whole days, but never past the end asked for (nor, in `steps.warehouse_aggregates`, past now or the
        # newest data: see `scanning.horizon`)
        return [steps.full_day_window(d, job.time_to) for d in replay_days(job.time_from, job.time_to)]
    state = db.get(ScanState, cfg.id)
    lookback = timedelta(hours=cfg.scan_lookback_hours or steps.DEFAULT_LOOKBACK_HOURS)
    # A config's first run covers the day so far, and at least the lookback: just after midnight, today has no
    # complete bucket yet, so the first run takes yesterday instead of doing nothing.
    first = steps.day_of((state.watermark if state and state.watermark else now) - lookback)
    out = []
    for day in replay_days(first, now):
        w = steps.incremental_window(db, cfg, day, now)
        if w:
            out.append(w)
    return out


def _add(total: dict[str, Any], part: dict[str, Any]) -> None:
    for summary in part.values():
        for k, v in (summary or {}).items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                total[k] = total.get(k, 0) + v


def _finish(job_id: uuid.UUID, status: ScanJobStatus, summary: dict[str, Any] | None,
            error: str | None = None) -> None:
    with new_session() as db:
        job = db.get(ScanJob, job_id)
        job.status, job.completed_at = status, datetime.now(UTC)
        job.result_summary, job.error_message = summary, error
        db.commit()


def _cancelled(db: Session, job: ScanJob, summary: dict[str, Any], t0: float) -> bool:
    """Cancel Scan Job was asked: finish the job as cancelled (before its next day)."""
    db.refresh(job)
    if job.cancel_requested_at is None:
        return False
    summary["seconds"] = round(time.monotonic() - t0, 3)
    _finish(job.id, ScanJobStatus.cancelled, summary, "Cancelled.")
    db.refresh(job)
    return True


def run_job(db: Session, job: ScanJob, now: datetime | None = None, wait: bool = True) -> ScanJob:
    """Execute `job` in this process. Day transactions use their own sessions; `db` tracks the job row. The job's
    liveness lock is held from before it is claimed until its outcome is written (`scanning.liveness`), so a
    runner killed on the way leaves a job that the next reader fails instead of one "running" forever. If
    another runner has the job: wait for it (`wait`) and return the job as it left it, or return at once."""
    if job.status.is_final:
        return job
    with liveness.running(job.id, wait) as held:
        if not held:
            return job
        return _run(db, job, now)


def _run(db: Session, job: ScanJob, now: datetime | None) -> ScanJob:
    cfg = steps.load_config(db, job.scan_config_id)
    t0 = time.monotonic()
    claimed = db.execute(update(ScanJob).where(ScanJob.id == job.id, ScanJob.status == ScanJobStatus.pending)
                         .values(status=ScanJobStatus.running, started_at=datetime.now(UTC))).rowcount
    db.commit()
    db.refresh(job)
    if not claimed:  # another executor took it (or it was cancelled meanwhile)
        return job
    summary: dict[str, Any] = {"days": 0}
    try:
        if job.kind == ScanJobKind.apply_event_groups:
            summary.update(apply_event_groups(db, cfg, actor=None))
        else:
            windows = plan_windows(db, cfg, job, now)
            summary["days_total"] = len(windows)
            if windows and job.kind == ScanJobKind.run:
                job.time_from, job.time_to = windows[0][0], windows[-1][1]
                db.commit()
            for g in range(0, len(windows), steps.DAYS_PER_READ):
                group = windows[g:g + steps.DAYS_PER_READ]
                if _cancelled(db, job, summary, t0):
                    return job
                # one warehouse read for the group's days (as one Dagster run reads its range), staged per day
                with new_session() as read_db:
                    reads = steps.warehouse_aggregates_range(read_db, steps.load_config(read_db, cfg.id), group,
                                                             now=now)
                    read_db.commit()
                for (start, _), read in zip(group, reads, strict=True):
                    if _cancelled(db, job, summary, t0):
                        return job
                    with new_session() as day_db:
                        day_cfg = steps.load_config(day_db, cfg.id)
                        part = steps.run_after_read(day_db, day_cfg, steps.day_of(start), read)
                        if job.kind == ScanJobKind.run:  # to the end actually observed, not the end planned
                            seen = read.get("window_end")
                            steps.advance_watermark(day_db, day_cfg, datetime.fromisoformat(seen) if seen else None,
                                                    job.id)
                        day_db.commit()
                    _add(summary, part)
                    summary["days"] += 1
                    job.result_summary = {"days": summary["days"], "days_total": len(windows)}  # progress
                    db.commit()
    except WarehouseError as exc:
        db.rollback()
        _finish(job.id, ScanJobStatus.failed, summary, str(exc) or type(exc).__name__)
        db.refresh(job)
        return job
    except DomainError as exc:
        db.rollback()
        _finish(job.id, ScanJobStatus.failed, summary, exc.message)
        db.refresh(job)
        return job
    except Exception as exc:  # the job row must say what happened; the traceback goes to the log
        log.exception("scan job %s failed", job.id)
        db.rollback()
        _finish(job.id, ScanJobStatus.failed, summary, f"{type(exc).__name__}: {exc}"[:4000])
        db.refresh(job)
        return job
    if job.kind != ScanJobKind.apply_event_groups:  # totals of the window, as the Dagster executor reports them
        db.refresh(job)
        summary = job_summary.summary_for(db, cfg, job, summary["days"], summary.get("days_total"))
    summary["seconds"] = round(time.monotonic() - t0, 3)
    _finish(job.id, ScanJobStatus.succeeded, summary)
    db.refresh(job)
    return job


def run_job_by_id(job_id: uuid.UUID) -> None:
    """Thread entry point of the in-process executor."""
    try:
        with new_session() as db:
            job = db.get(ScanJob, job_id)
            if job is not None:
                run_job(db, job, wait=False)  # another worker runs it already (resume_inprocess): not again
    except Exception:  # never let a worker thread die silently
        log.exception("scan job %s could not run", job_id)
