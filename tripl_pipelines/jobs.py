"""Op jobs launched by sensors: work runs in runs (with their logs, retries and history in the UI), never inside a
sensor tick.

- `apply_scan_event_groups`: one Apply Scan Event Groups job (tag tripl/job_id), through the in-process
  runner's own entry point (claims the pending job, creates the draft events, writes the outcome).
- `alert_dispatch`: one dispatch cycle (`tripl_core.alerting.dispatch.run`): match new findings, write deliveries,
  send due ones. Bounded by the dispatcher's own batch limits; retried by a RetryPolicy (the ledger makes a retry
  send nothing twice).
"""


import uuid
from datetime import UTC, datetime

import dagster as dg

from tripl_core.db.models.scans import ScanJob
from tripl_core.scanning import runner
from tripl_pipelines.partitions import JOB_TAG
from tripl_pipelines.resources import TriplDatabase

DISPATCH_RETRY = dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL)


@dg.op(description="Applies the scan config's event_group_rules: draft plan events for grouped names.")
def apply_event_groups_op(context: dg.OpExecutionContext, tripl_db: TriplDatabase) -> None:
    job_id = context.run.tags[JOB_TAG]
    db = tripl_db.new_session()
    try:
        job = db.get(ScanJob, uuid.UUID(job_id))
        if job is None:
            raise dg.Failure(description=f"Scan job {job_id} does not exist.")
        runner.run_job(db, job)
        context.log.info("scan job %s: apply_event_groups %s %s", job_id, job.status.value,
                         job.result_summary or job.error_message)
    finally:
        db.close()


@dg.job(name="apply_scan_event_groups", executor_def=dg.in_process_executor,
        description="Apply Scan Event Groups (one scan job, tag tripl/job_id).")
def apply_event_groups_job() -> None:
    apply_event_groups_op()


@dg.op(retry_policy=DISPATCH_RETRY,
       description="One alert dispatch cycle: findings → rules → deliveries (written first) → channels.")
def alert_dispatch_op(context: dg.OpExecutionContext, tripl_db: TriplDatabase) -> dict:
    from tripl_core.alerting import dispatch

    db = tripl_db.new_session()
    try:
        report = dispatch.run(db, datetime.now(UTC))
    finally:
        db.close()
    summary = report.as_dict()
    context.log.info("alert dispatch: %s", summary)
    return summary


@dg.job(name="alert_dispatch", executor_def=dg.in_process_executor,
        description="Alert dispatch, launched by the alert_dispatch sensor when there is something to send.")
def alert_dispatch_job() -> None:
    alert_dispatch_op()
