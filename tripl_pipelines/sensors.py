"""Sensors that connect the API's job rows to Dagster (docs/pipelines.md). Sensors decide and launch; the work runs
in runs:

- `register_scan_configs`: every scan config is a readable partition `<project>/<config>` (added / removed as
  configs come, go and are renamed);
- `scan_job_queue`: a pending Run Scan / Replay Scan Metrics job becomes one Dagster **backfill** of its days —
  the same kind the UI launches (Backfills tab, cancellable there), cut into runs of ≤ 7 days by the assets'
  BackfillPolicy; `apply_event_groups_queue`: Apply Scan Event Groups becomes a run of `apply_scan_event_groups`;
- `scan_run_finished` / `scan_run_failed` / `scan_run_canceled` (run status sensors): a run's outcome settles its
  job — progress (days done / total), then succeeded / failed (the failing step's message) / cancelled;
- `scan_job_cancellation`: Cancel Scan Job cancels the job's backfill (as the UI's Cancel button does);
- `scan_job_watchdog`: a job whose backfill never started runs (or ended without runs) is settled once a minute;
- `scan_scheduler`: enqueues a `run` job for every config whose interval has passed (not when
  TRIPL_SCAN_EXECUTOR=inprocess: one executor at a time).
"""


import uuid
from datetime import UTC, datetime

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus
from sqlalchemy import select

from tripl_core.db.models.scans import ScanJob, ScanJobKind, ScanJobStatus
from tripl_core.db.models.sources import ScanConfig
from tripl_core.scanning import runner
from tripl_core.settings import get_settings
from tripl_core.warehouse import ScanInterval
from tripl_pipelines.assets import SCAN_ASSETS
from tripl_pipelines.jobs import apply_event_groups_job, scan_failed_alert_job
from tripl_pipelines.partitions import (
    FIRST_DAY,
    JOB_TAG,
    MODE_TAG,
    SCAN_CONFIGS,
    SCAN_PARTITIONS,
    all_config_keys,
    partition_key,
)
from tripl_pipelines.progress import FINISHED, settle
from tripl_pipelines.resources import TriplDatabase

INTERVAL = 15
# A pending scan job waits for this sensor, then for the backfill daemon's 30 s loop: 5 s (the sensor daemon's own
# loop) keeps the first hop short; the query is one indexed SELECT of pending jobs.
QUEUE_INTERVAL = 5
STATUS_INTERVAL = 5  # run status sensors: a job's outcome (and the demo's "done") follows its last run within 5 s


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Keeps the scan assets' config partitions equal to the scan configs (readable keys "
                       "<project>/<config>; renames and deletes follow).")
def register_scan_configs(context: dg.SensorEvaluationContext, tripl_db: TriplDatabase) -> dg.SensorResult:
    with tripl_db.session() as db:
        wanted = set(all_config_keys(db).values())
    known = set(context.instance.get_dynamic_partitions(SCAN_CONFIGS.name))
    requests = []
    if wanted - known:
        requests.append(SCAN_CONFIGS.build_add_request(sorted(wanted - known)))
    if known - wanted:
        requests.append(SCAN_CONFIGS.build_delete_request(sorted(known - wanted)))
    return dg.SensorResult(dynamic_partitions_requests=requests, skip_reason=None if requests else "up to date")


def job_days(db, job: ScanJob, cfg: ScanConfig, now: datetime) -> list[tuple[datetime, str]]:
    """(day, mode) partitions a job needs: whole days for replays, incremental days for runs."""
    if job.kind == ScanJobKind.replay:
        return [(d, "full") for d in runner.replay_days(job.time_from, job.time_to)]
    return [(w[0], "incremental") for w in runner.plan_windows(db, cfg, job, now)]


def backfill_request(config: str, days: list[datetime], tags: dict[str, str]) -> dg.RunRequest:
    """A RunRequest the sensor daemon turns into a backfill of every scan asset over these days of one config."""
    keys = [partition_key(config, d) for d in days]
    subset = SCAN_PARTITIONS.subset_with_partition_keys(keys)
    graph_subset = AssetGraphSubset(partitions_subsets_by_asset_key={a.key: subset for a in SCAN_ASSETS})
    return dg.RunRequest.for_asset_graph_subset(graph_subset, tags=tags)


def _pending(db, kinds: list[ScanJobKind]) -> list[ScanJob]:
    return list(db.scalars(select(ScanJob).where(ScanJob.status == ScanJobStatus.pending,
                                                 ScanJob.trigger != "inprocess", ScanJob.kind.in_(kinds))
                           .order_by(ScanJob.created_at).limit(50)))


@dg.sensor(job=apply_event_groups_job, minimum_interval_seconds=INTERVAL,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Pending Apply Scan Event Groups jobs → one apply_scan_event_groups run each.")
def apply_event_groups_queue(context: dg.SensorEvaluationContext, tripl_db: TriplDatabase
                             ) -> list[dg.RunRequest] | dg.SkipReason:
    with tripl_db.session() as db:  # the run claims the job (runner.run_job); run_key: launched once
        jobs = _pending(db, [ScanJobKind.apply_event_groups])
        requests = [dg.RunRequest(run_key=f"apply:{job.id}", tags={JOB_TAG: str(job.id)}) for job in jobs]
    return requests or dg.SkipReason("no pending Apply Scan Event Groups job")


@dg.sensor(asset_selection=dg.AssetSelection.assets(*SCAN_ASSETS), minimum_interval_seconds=QUEUE_INTERVAL,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Pending Run Scan / Replay Scan Metrics jobs → one backfill of their days each (listed in "
                       "the Backfills tab, cancellable there).")
def scan_job_queue(context: dg.SensorEvaluationContext, tripl_db: TriplDatabase) -> dg.SensorResult:
    now = datetime.now(UTC)
    requests: list[dg.RunRequest] = []
    known = set(context.instance.get_dynamic_partitions(SCAN_CONFIGS.name))
    add: set[str] = set()
    with tripl_db.session() as db:
        keys = all_config_keys(db)
        for job in _pending(db, [ScanJobKind.replay, ScanJobKind.run]):
            cfg = db.get(ScanConfig, job.scan_config_id)
            days = [(d, m) for d, m in job_days(db, job, cfg, now) if d >= FIRST_DAY]
            job.status, job.started_at, job.trigger = ScanJobStatus.running, now, job.trigger or "api"
            job.result_summary = {"days": 0, "days_total": len(days)}
            if not days:
                job.status, job.completed_at = ScanJobStatus.succeeded, now
                continue
            if job.kind == ScanJobKind.run and job.time_from is None:  # the scanned window, as the runner's
                windows = runner.plan_windows(db, cfg, job, now)
                job.time_from, job.time_to = windows[0][0], windows[-1][1]
            key = keys[cfg.id]
            if key not in known:
                add.add(key)
            requests.append(backfill_request(key, [d for d, _ in days],
                                             {JOB_TAG: str(job.id), MODE_TAG: days[0][1]}))
            context.log.info("scan job %s: %s %s, %d day(s) from %s", job.id, job.kind.value, key, len(days),
                             f"{days[0][0]:%Y-%m-%d}")
    dyn = [SCAN_CONFIGS.build_add_request(sorted(add))] if add else []
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=dyn,
                           skip_reason=None if requests or dyn else "no pending scan jobs")


def _settle_run(context: dg.RunStatusSensorContext, tripl_db: TriplDatabase) -> dg.SkipReason | None:
    job_id = context.dagster_run.tags.get(JOB_TAG)
    if not job_id:
        return dg.SkipReason("not a scan job's run")
    with tripl_db.session() as db:
        job = db.get(ScanJob, uuid.UUID(job_id))
        if job is None or job.status.is_final or job.trigger == "inprocess":
            return dg.SkipReason("job already settled")
        line = settle(context.instance, db, job)
    context.log.info(line)
    return None


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, default_status=dg.DefaultSensorStatus.RUNNING,
                      monitor_all_code_locations=False, minimum_interval_seconds=STATUS_INTERVAL,
                      description="A scan run succeeded: progress of its job (days done / total), or its success.")
def scan_run_finished(context: dg.RunStatusSensorContext, tripl_db: TriplDatabase) -> dg.SkipReason | None:
    return _settle_run(context, tripl_db)


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=STATUS_INTERVAL,
                       request_job=scan_failed_alert_job,
                       description="A scan run failed: its job fails with the failing step's message, the rest of "
                                   "its backfill is cancelled, and a scan_failed_alert run sends a 'scan failed' "
                                   "item to the project's destinations (once per job: run_key).")
def scan_run_failed(context: dg.RunFailureSensorContext, tripl_db: TriplDatabase
                    ) -> dg.RunRequest | dg.SkipReason | None:
    skipped = _settle_run(context, tripl_db)
    job_id = context.dagster_run.tags.get(JOB_TAG)
    if job_id is None:
        return skipped
    with tripl_db.session() as db:
        job = db.get(ScanJob, uuid.UUID(job_id))
        if job is None or job.status != ScanJobStatus.failed:
            return skipped
    return dg.RunRequest(run_key=f"scan-failed:{job_id}", tags={JOB_TAG: job_id})


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.CANCELED, default_status=dg.DefaultSensorStatus.RUNNING,
                      minimum_interval_seconds=STATUS_INTERVAL,
                      description="A scan run was cancelled (Cancel Scan Job, or the backfill cancelled in the UI).")
def scan_run_canceled(context: dg.RunStatusSensorContext, tripl_db: TriplDatabase) -> dg.SkipReason | None:
    return _settle_run(context, tripl_db)


def job_backfills(instance: dg.DagsterInstance, job_id: str) -> list:
    return list(instance.get_backfills(filters=BulkActionsFilter(tags={JOB_TAG: job_id})))


def cancel_job_runs(instance: dg.DagsterInstance, job_id: str) -> int:
    """What the UI's Cancel does to the job's backfill (CANCELING: the backfill daemon stops launching and
    terminates its runs), plus queued or started runs, for instances without a running backfill daemon."""
    done = 0
    for backfill in job_backfills(instance, job_id):
        if backfill.status == BulkActionStatus.REQUESTED:
            instance.update_backfill(backfill.with_status(BulkActionStatus.CANCELING))
            done += 1
    for run in instance.get_runs(dg.RunsFilter(tags={JOB_TAG: job_id})):
        if run.status in (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED):
            instance.report_run_canceled(run, message="Cancelled by Cancel Scan Job.")
            done += 1
        elif run.status not in FINISHED and run.status != dg.DagsterRunStatus.CANCELING:
            instance.run_coordinator.cancel_run(run.run_id)
            done += 1
    return done


@dg.sensor(minimum_interval_seconds=INTERVAL, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Cancel Scan Job: cancels the job's backfill (as the UI's Cancel does) and its runs.")
def scan_job_cancellation(context: dg.SensorEvaluationContext, tripl_db: TriplDatabase) -> dg.SkipReason | None:
    cancelled = 0
    with tripl_db.session() as db:
        jobs = db.scalars(select(ScanJob).where(ScanJob.status == ScanJobStatus.running,
                                                ScanJob.trigger != "inprocess",
                                                ScanJob.cancel_requested_at.is_not(None))).all()
        for job in jobs:
            cancelled += cancel_job_runs(context.instance, str(job.id))
            settle(context.instance, db, job)
    return None if cancelled else dg.SkipReason("nothing to cancel")


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Settles scan jobs no run event will settle: backfills that never launched a run, or "
                       "ended (cancelled in the UI) before any did.")
def scan_job_watchdog(context: dg.SensorEvaluationContext, tripl_db: TriplDatabase) -> dg.SkipReason | None:
    settled = 0
    with tripl_db.session() as db:
        jobs = db.scalars(select(ScanJob).where(ScanJob.status == ScanJobStatus.running,
                                                ScanJob.trigger != "inprocess",
                                                ScanJob.kind != ScanJobKind.apply_event_groups)).all()
        for job in jobs:
            settle(context.instance, db, job)
            settled += job.status.is_final
    return None if settled else dg.SkipReason("no scan job to settle")


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Enqueues a scheduled run for each scan config whose interval has passed (nothing when "
                       "TRIPL_SCAN_EXECUTOR=inprocess: the API's runner scores scans then).")
def scan_scheduler(context: dg.SensorEvaluationContext, tripl_db: TriplDatabase) -> dg.SkipReason | None:
    if get_settings().scan_executor == "inprocess":
        return dg.SkipReason("TRIPL_SCAN_EXECUTOR=inprocess: Dagster schedules no scans")
    with tripl_db.session() as db:
        made = enqueue_due_runs(db, datetime.now(UTC))
    return None if made else dg.SkipReason("no scan config due")


def enqueue_due_runs(db, now: datetime) -> list[uuid.UUID]:
    """A `run` job (trigger schedule) per config with a time column, no open run job, and a last run job older
    than its interval. The caller commits."""
    made = []
    for cfg in db.scalars(select(ScanConfig).where(ScanConfig.time_column.is_not(None))):
        last = db.scalars(select(ScanJob).where(ScanJob.scan_config_id == cfg.id, ScanJob.kind == ScanJobKind.run)
                          .order_by(ScanJob.created_at.desc()).limit(1)).first()
        if last is not None and (not last.status.is_final
                                 or last.created_at > now - ScanInterval(cfg.interval).delta):
            continue
        job = ScanJob(project_id=cfg.project_id, scan_config_id=cfg.id, kind=ScanJobKind.run, trigger="schedule")
        db.add(job)
        db.flush()
        made.append(job.id)
    return made

