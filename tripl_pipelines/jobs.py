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


def scan_failed_message(db, job: ScanJob) -> tuple[list, "object"]:
    """The project's enabled destinations and one plain "scan failed" message linking the job's console page."""
    from sqlalchemy import select

    from tripl_core import links
    from tripl_core.alerting.message import MessageFormat, RenderedMessage
    from tripl_core.db.models.alerting import AlertDestination
    from tripl_core.db.models.projects import Project
    from tripl_core.db.models.sources import ScanConfig
    from tripl_core.settings import get_settings

    project = db.get(Project, job.project_id)
    cfg = db.get(ScanConfig, job.scan_config_id)
    url = links.scan_job_page(links.base_url(get_settings()), project.slug, job.id)
    window = (f"{job.time_from:%Y-%m-%d %H:%M}–{job.time_to:%Y-%m-%d %H:%M} UTC"
              if job.time_from and job.time_to else "")
    subject = f"Scan failed: {cfg.name if cfg else job.scan_config_id} ({project.name})"
    text = (f"{subject}\n{job.kind.value} {window}\n{job.error_message or 'A scan run failed.'}\n{url}")
    message = RenderedMessage(format=MessageFormat.plain, text=text, plain_text=text, subject=subject, url=url,
                              labels=("tripl", "scan-failed"),
                              context={"kind": "scan_failed", "scan_job_id": str(job.id),
                                       "scan_config_id": str(job.scan_config_id), "error": job.error_message,
                                       "url": url})
    dests = list(db.scalars(select(AlertDestination).where(AlertDestination.project_id == job.project_id,
                                                           AlertDestination.enabled.is_(True))))
    return dests, message


@dg.op(retry_policy=DISPATCH_RETRY,
       description="Sends a 'scan failed' item (the job's error and console link) to the project's destinations.")
def scan_failed_alert_op(context: dg.OpExecutionContext, tripl_db: TriplDatabase) -> dict:
    from tripl_core.alerting import destinations
    from tripl_core.alerting.channels import send_alert

    db = tripl_db.new_session()
    try:
        job = db.get(ScanJob, uuid.UUID(context.run.tags[JOB_TAG]))
        if job is None:
            return {"sent": 0, "failed": 0}
        dests, message = scan_failed_message(db, job)
        out = {"sent": 0, "failed": 0}
        for dest in dests:  # no retry per destination: a retry of the op would resend to the ones that got it
            result = send_alert(destinations.config(dest), message)
            out["sent" if result.ok else "failed"] += 1
            if not result.ok:
                context.log.warning("scan failed alert to %s: %s", dest.name, result.error)
        context.log.info("scan job %s failed: alert sent to %d destination(s), %d failed", job.id, out["sent"],
                         out["failed"])
        return out
    finally:
        db.close()


@dg.job(name="scan_failed_alert", executor_def=dg.in_process_executor,
        description="A failed scan job's 'scan failed' alert (launched once per job by scan_run_failed).")
def scan_failed_alert_job() -> None:
    scan_failed_alert_op()
