"""Sensors that connect the API's job rows to Dagster runs (docs/pipelines.md):

- `register_scan_configs`: every scan config is a dynamic partition (added / removed as configs come and go);
- `scan_job_queue`: pending jobs → one run per (scan config, day) partition, run_key `<job id>:<day>`;
  Apply Scan Event Groups is a quick database operation and runs in the sensor itself;
- `scan_job_status`: writes the runs' outcome back to the job (status, timings, result_summary, error_message);
- `scan_job_cancellation`: Cancel Scan Job terminates (or dequeues) the job's runs;
- `scan_scheduler`: enqueues a `run` job for every config whose interval has passed since its last run.
"""


import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from sqlalchemy import select

from tripl_core.db.models.scans import ScanJob, ScanJobKind, ScanJobStatus
from tripl_core.db.models.sources import ScanConfig
from tripl_core.db.session import session_scope
from tripl_core.scanning import runner
from tripl_core.warehouse import ScanInterval
from tripl_pipelines.assets import scan_partition_job
from tripl_pipelines.partitions import FIRST_DAY, JOB_TAG, MODE_TAG, SCAN_CONFIGS, partition_key

INTERVAL = 15
LAUNCH_TIMEOUT = timedelta(minutes=10)
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
_EXC_PREFIX = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Unavailable|Invalid|NotFound)\b: ")


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Registers every scan config as a partition of the scan assets (and drops deleted ones).")
def register_scan_configs(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    with session_scope() as db:
        wanted = {str(i) for i in db.scalars(select(ScanConfig.id))}
    known = set(context.instance.get_dynamic_partitions(SCAN_CONFIGS.name))
    requests = []
    if wanted - known:
        requests.append(SCAN_CONFIGS.build_add_request(sorted(wanted - known)))
    if known - wanted:
        requests.append(SCAN_CONFIGS.build_delete_request(sorted(known - wanted)))
    return dg.SensorResult(dynamic_partitions_requests=requests, skip_reason=None if requests else "up to date")


def job_days(db: Any, job: ScanJob, cfg: ScanConfig, now: datetime) -> list[tuple[datetime, str]]:
    """(day, mode) partitions a job needs: whole days for replays, incremental days for runs."""
    if job.kind == ScanJobKind.replay:
        return [(d, "full") for d in runner.replay_days(job.time_from, job.time_to)]
    return [(w[0], "incremental") for w in runner.plan_windows(db, cfg, job, now)]


@dg.sensor(job=scan_partition_job, minimum_interval_seconds=INTERVAL, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Turns pending scan jobs (Run Scan, Replay Scan Metrics) into one run per day partition.")
def scan_job_queue(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    now = datetime.now(UTC)
    requests: list[dg.RunRequest] = []
    known = set(context.instance.get_dynamic_partitions(SCAN_CONFIGS.name))
    add: set[str] = set()
    with session_scope() as db:
        pending = db.scalars(select(ScanJob).where(ScanJob.status == ScanJobStatus.pending,
                                                   ScanJob.trigger != "inprocess")
                             .order_by(ScanJob.created_at).limit(50)).all()
        for job in pending:
            if job.kind == ScanJobKind.apply_event_groups:
                runner.run_job(db, job)
                continue
            cfg = db.get(ScanConfig, job.scan_config_id)
            days = [(d, m) for d, m in job_days(db, job, cfg, now) if d.replace(tzinfo=None) >= FIRST_DAY]
            job.status, job.started_at, job.trigger = ScanJobStatus.running, now, job.trigger or "api"
            if not days:
                job.status, job.completed_at, job.result_summary = ScanJobStatus.succeeded, now, {"days": 0}
                continue
            if job.kind == ScanJobKind.run and job.time_from is None:
                job.time_from, job.time_to = days[0][0], now
            if str(cfg.id) not in known:
                add.add(str(cfg.id))
            for day, mode in days:
                key = partition_key(str(cfg.id), day)
                requests.append(dg.RunRequest(run_key=f"{job.id}:{key.keys_by_dimension['day']}",
                                              partition_key=key, tags={JOB_TAG: str(job.id), MODE_TAG: mode}))
            db.commit()
    dyn = [SCAN_CONFIGS.build_add_request(sorted(add))] if add else []
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=dyn,
                           skip_reason=None if requests or dyn else "no pending scan jobs")


def _failure_message(instance: dg.DagsterInstance, run_id: str) -> str | None:
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        err = record.dagster_event.step_failure_data.error  # type: ignore[union-attr]
        while err is not None and err.cause is not None:
            err = err.cause
        if err is not None:
            return _EXC_PREFIX.sub("", err.message.strip())
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
        return record.message
    return None


def _summary(instance: dg.DagsterInstance, run_ids: list[str]) -> dict[str, Any]:
    """Numeric materialization metadata summed over the job's runs (rows, metric_points, signals, …)."""
    out: dict[str, Any] = {"days": len(run_ids)}
    for run_id in run_ids:
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
            mat = record.dagster_event.event_specific_data.materialization  # type: ignore[union-attr]
            for k, v in mat.metadata.items():
                value = getattr(v, "value", None)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    out[k] = out.get(k, 0) + value
    return out


@dg.sensor(minimum_interval_seconds=INTERVAL, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Writes the outcome of a scan job's runs back to the job row.")
def scan_job_status(context: dg.SensorEvaluationContext) -> dg.SkipReason | None:
    instance = context.instance
    now = datetime.now(UTC)
    updated = 0
    with session_scope() as db:
        running = db.scalars(select(ScanJob).where(ScanJob.status == ScanJobStatus.running,
                                                   ScanJob.trigger != "inprocess")).all()
        for job in running:
            runs = instance.get_runs(dg.RunsFilter(tags={JOB_TAG: str(job.id)}))
            job.dagster_run_ids = sorted(r.run_id for r in runs)
            if not runs:
                if job.started_at and now - job.started_at > LAUNCH_TIMEOUT:
                    job.status, job.completed_at = ScanJobStatus.failed, now
                    job.error_message = "Dagster did not launch the scan's runs."
                    updated += 1
                continue
            if any(r.status not in FINISHED for r in runs):
                continue
            statuses = {r.status for r in runs}
            failed = [r for r in runs if r.status == dg.DagsterRunStatus.FAILURE]
            if failed:
                job.status = ScanJobStatus.failed
                job.error_message = _failure_message(instance, failed[0].run_id) or "A scan run failed."
            elif dg.DagsterRunStatus.CANCELED in statuses or job.cancel_requested_at:
                job.status, job.error_message = ScanJobStatus.cancelled, "Cancelled."
            else:
                job.status = ScanJobStatus.succeeded
            records = instance.get_run_records(dg.RunsFilter(run_ids=job.dagster_run_ids))
            ends = [r.end_time for r in records if r.end_time]
            starts = [r.start_time for r in records if r.start_time]
            if starts:
                job.started_at = datetime.fromtimestamp(min(starts), UTC)
            job.completed_at = datetime.fromtimestamp(max(ends), UTC) if ends else now
            job.result_summary = _summary(instance, job.dagster_run_ids)
            updated += 1
    return None if updated else dg.SkipReason("no scan job finished")


@dg.sensor(minimum_interval_seconds=INTERVAL, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Cancel Scan Job: dequeues or terminates the runs of jobs whose cancellation was requested.")
def scan_job_cancellation(context: dg.SensorEvaluationContext) -> dg.SkipReason | None:
    instance = context.instance
    cancelled = 0
    with session_scope() as db:
        jobs = db.scalars(select(ScanJob).where(ScanJob.status == ScanJobStatus.running,
                                                ScanJob.cancel_requested_at.is_not(None))).all()
        for job in jobs:
            for run in instance.get_runs(dg.RunsFilter(tags={JOB_TAG: str(job.id)})):
                if run.status in (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED):
                    instance.report_run_canceled(run, message="Cancelled by Cancel Scan Job.")
                    cancelled += 1
                elif run.status not in FINISHED and run.status != dg.DagsterRunStatus.CANCELING:
                    instance.run_coordinator.cancel_run(run.run_id)  # terminates a started run
                    cancelled += 1
    return None if cancelled else dg.SkipReason("nothing to cancel")


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Enqueues a scheduled run for each scan config whose interval has passed.")
def scan_scheduler(context: dg.SensorEvaluationContext) -> dg.SkipReason | None:
    made = enqueue_due_runs(datetime.now(UTC))
    return None if made else dg.SkipReason("no scan config due")


def enqueue_due_runs(now: datetime) -> list[uuid.UUID]:
    """A `run` job (trigger schedule) per config with a time column, no open run job, and a last run job older
    than its interval."""
    made = []
    with session_scope() as db:
        for cfg in db.scalars(select(ScanConfig).where(ScanConfig.time_column.is_not(None))):
            last = db.scalars(select(ScanJob).where(ScanJob.scan_config_id == cfg.id,
                                                    ScanJob.kind == ScanJobKind.run)
                              .order_by(ScanJob.created_at.desc()).limit(1)).first()
            if last is not None and (not last.status.is_final
                                     or last.created_at > now - ScanInterval(cfg.interval).delta):
                continue
            job = ScanJob(project_id=cfg.project_id, scan_config_id=cfg.id, kind=ScanJobKind.run,
                          trigger="schedule")
            db.add(job)
            db.flush()
            made.append(job.id)
    return made
