"""A scan job's state from its Dagster backfill and runs: progress while it runs, then its outcome.

Called by the run status sensors (on every finished run of the job) and by the cancellation / watchdog sensors.
Idempotent: it recomputes from Dagster's records, so a missed or repeated event changes nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from sqlalchemy.orm import Session

from tripl_core.db.models.scans import ScanJob, ScanJobStatus
from tripl_core.db.models.sources import ScanConfig
from tripl_core.scanning import jobs
from tripl_pipelines.partitions import JOB_TAG, SCAN_PARTITIONS, day_of_key

LAUNCH_TIMEOUT = timedelta(minutes=10)
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
LIVE_BACKFILL = {BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING}
_SOURCE_PREFIX = re.compile(r"^\[\w+\] ")
_EXC_PREFIX = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Unavailable|Invalid|NotFound|Failure)\b: ")


def run_days(run: dg.DagsterRun) -> int:
    """Days (partitions of one config) a run covers: a range of a batched backfill, or one partition."""
    start, end = run.tags.get(ASSET_PARTITION_RANGE_START_TAG), run.tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start and end:
        a = SCAN_PARTITIONS.get_partition_key_from_str(start).keys_by_dimension["day"]
        b = SCAN_PARTITIONS.get_partition_key_from_str(end).keys_by_dimension["day"]
        return (day_of_key(b) - day_of_key(a)).days + 1
    return 1


def failure_message(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The failing step's own message (the warehouse's text for warehouse errors), without exception names."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        err = record.dagster_event.step_failure_data.error  # type: ignore[union-attr]
        while err is not None and err.cause is not None:
            err = err.cause
        if err is not None:
            return _EXC_PREFIX.sub("", err.message.strip())
    # A run whose process died (SIGKILL, out of memory) has no step failure: Dagster's code server notices the
    # dead process and records why in an engine event before it marks the run failed "from outside the execution
    # context" — which alone would not tell anyone what happened.
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        text = _SOURCE_PREFIX.sub("", record.message or "")  # "[DagsterApiServer] Run execution process for …"
        if text.startswith("Run execution process for "):
            return f"{text} Run the scan again: its days are recomputed whole."
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
        return record.message
    return None


def run_totals(instance: dg.DagsterInstance, run_ids: list[str]) -> dict[str, Any]:
    """Numbers of the per-partition materialization metadata (one per asset × day) of the job's runs."""
    out: dict[str, Any] = {}
    for run_id in run_ids:
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
            mat = record.dagster_event.event_specific_data.materialization  # type: ignore[union-attr]
            for k, v in mat.metadata.items():
                value = getattr(v, "value", None)
                if isinstance(value, int | float) and not isinstance(value, bool) and k != "days":
                    out[k] = out.get(k, 0) + value
    return out


def _cancel_backfills(instance: dg.DagsterInstance, job_id: str) -> None:
    for backfill in instance.get_backfills(filters=BulkActionsFilter(tags={JOB_TAG: job_id})):
        if backfill.status == BulkActionStatus.REQUESTED:
            instance.update_backfill(backfill.with_status(BulkActionStatus.CANCELING))


def settle(instance: dg.DagsterInstance, db: Session, job: ScanJob, now: datetime | None = None) -> str:
    """Update `job` from Dagster (the caller commits) and return one line for the console."""
    now = now or datetime.now(UTC)
    job_id = str(job.id)
    runs = instance.get_runs(dg.RunsFilter(tags={JOB_TAG: job_id}))
    backfills = list(instance.get_backfills(filters=BulkActionsFilter(tags={JOB_TAG: job_id})))
    job.dagster_run_ids = sorted(r.run_id for r in runs)
    base = dict(job.result_summary or {})
    total = base.get("days_total")
    ok = [r for r in runs if r.status == dg.DagsterRunStatus.SUCCESS]
    failed = [r for r in runs if r.status == dg.DagsterRunStatus.FAILURE]
    live = [r for r in runs if r.status not in FINISHED]
    summary: dict[str, Any] = {"days": sum(run_days(r) for r in ok), "days_total": total}  # progress
    backfill_live = any(b.status in LIVE_BACKFILL for b in backfills)
    if failed:
        _cancel_backfills(instance, job_id)
        if not live:
            job.status = ScanJobStatus.failed
            job.error_message = failure_message(instance, failed[0].run_id) or "A scan run failed."
    elif job.cancel_requested_at is not None or any(r.status == dg.DagsterRunStatus.CANCELED for r in runs) \
            or any(b.status == BulkActionStatus.CANCELED for b in backfills):
        if not live and not any(b.status == BulkActionStatus.CANCELING for b in backfills):
            job.status, job.error_message = ScanJobStatus.cancelled, "Cancelled."
    elif total is not None and summary["days"] >= total and not live:
        job.status = ScanJobStatus.succeeded
        cfg = db.get(ScanConfig, job.scan_config_id)
        if cfg is not None:  # totals of the window, identical to the in-process runner's for the same work
            summary = jobs.summary_for(db, cfg, job, summary["days"], total)
    elif not runs and not backfill_live and backfills:
        job.status, job.error_message = ScanJobStatus.failed, "The scan's Dagster backfill ended without runs."
    elif not runs and not backfills and job.started_at and now - job.started_at > LAUNCH_TIMEOUT:
        job.status, job.error_message = ScanJobStatus.failed, "Dagster did not launch the scan's backfill."
    if job.status in (ScanJobStatus.failed, ScanJobStatus.cancelled):  # what the finished runs wrote
        summary = {**run_totals(instance, [r.run_id for r in ok]), **summary}
    if job.status.is_final:
        records = instance.get_run_records(dg.RunsFilter(run_ids=job.dagster_run_ids)) if runs else []
        starts = [r.start_time for r in records if r.start_time]
        ends = [r.end_time for r in records if r.end_time]
        if starts:
            summary = {**summary, "seconds": round(max(ends or [now.timestamp()]) - min(starts), 3)}
        job.completed_at = datetime.fromtimestamp(max(ends), UTC) if ends else now
    job.result_summary = summary
    window = (f"{job.time_from:%Y-%m-%d %H:%M}..{job.time_to:%Y-%m-%d %H:%M}" if job.time_from and job.time_to
              else "-")
    return (f"scan job {job.id}: {job.kind.value} {window} {summary['days']}/{total} days, {job.status.value}"
            + (f": {job.error_message}" if job.status == ScanJobStatus.failed else ""))
