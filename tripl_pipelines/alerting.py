"""The alert dispatch sensor: decides, the `alert_dispatch` job sends (tripl_core.alerting.dispatch).

A tick only asks the database two cheap questions — has any finding been written since the last launch, is any
delivery due (first attempt or a retry whose backoff passed) — and launches one `alert_dispatch` run when either
holds and no dispatch run is in flight. The HTTP calls run in that run (bounded by the dispatcher, retried by its
RetryPolicy), never inside the 30 s sensor tick. The dispatcher keeps its own effectively-once ledger in Postgres,
so the cursor (time of the last launch) only saves work; losing it repeats a cycle that finds nothing new.
"""


from datetime import UTC, datetime

import dagster as dg
from sqlalchemy import func, select

from tripl_core.alerting import sending
from tripl_core.db.models.alerting import AlertRule
from tripl_core.db.models.findings import AnomalySignal, DistributionDrift, ReleaseRegression, SchemaDrift
from tripl_pipelines.jobs import alert_dispatch_job
from tripl_pipelines.resources import TriplDatabase

INTERVAL_SECONDS = 30
_FINDINGS = (AnomalySignal, SchemaDrift, DistributionDrift, ReleaseRegression)
_IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
              dg.DagsterRunStatus.STARTED]


def newest_finding_write(db) -> datetime | None:
    times = [db.scalar(select(func.max(func.greatest(m.created_at, m.updated_at)))) for m in _FINDINGS]
    return max((t for t in times if t is not None), default=None)


def decide(db, last_launch: datetime | None, now: datetime) -> str | None:
    """Why a dispatch run is needed now, or None."""
    if db.scalar(select(func.count()).select_from(AlertRule).where(AlertRule.enabled.is_(True))) == 0:
        return None
    if sending.due(db, now, limit=1):
        return "deliveries due"
    newest = newest_finding_write(db)
    if newest is not None and (last_launch is None or newest > last_launch):
        return "new findings"
    return None


@dg.sensor(job=alert_dispatch_job, minimum_interval_seconds=INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Launches an alert_dispatch run when findings were written or deliveries are due.")
def alert_dispatch(context: dg.SensorEvaluationContext, tripl_db: TriplDatabase
                   ) -> dg.RunRequest | dg.SkipReason:
    now = datetime.now(UTC)
    last = datetime.fromisoformat(context.cursor) if context.cursor else None
    if context.instance.get_runs(dg.RunsFilter(job_name=alert_dispatch_job.name, statuses=_IN_FLIGHT), limit=1):
        return dg.SkipReason("a dispatch run is in flight")
    with tripl_db.session() as db:
        reason = decide(db, last, now)
    if reason is None:
        return dg.SkipReason("no new findings, no deliveries due")
    context.update_cursor(now.isoformat())
    return dg.RunRequest(run_key=f"dispatch:{now.isoformat()}", tags={"tripl/reason": reason})
