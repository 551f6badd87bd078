"""The alert dispatch sensor: findings → rules → deliveries → channels (tripl_core.alerting.dispatch).

A sensor rather than an asset: dispatch is a small database operation plus HTTP calls, must run every minute
whatever produced the findings (scheduled scans, replays, backfills from the Dagster UI), and keeps its own
effectively-once ledger in Postgres, so no Dagster run or cursor is needed for correctness. The cursor only
records the last evaluation (for the Dagster UI).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg

from tripl_core.alerting import dispatch
from tripl_core.db.session import new_session

INTERVAL_SECONDS = 30


def evaluate(context: dg.SensorEvaluationContext) -> dg.SkipReason | None:
    """One dispatch cycle; the summary goes to the sensor log and the cursor."""
    now = datetime.now(UTC)
    db = new_session()
    try:
        report = dispatch.run(db, now)
    finally:
        db.close()
    summary = report.as_dict()
    context.update_cursor(json.dumps({"evaluated_at": now.isoformat(), **summary}))
    if not (report.deliveries or report.sent or report.failed or report.matched):
        return dg.SkipReason(f"no new alerts ({report.candidates} recent findings)")
    context.log.info("alert dispatch: %s", summary)
    return None


@dg.sensor(minimum_interval_seconds=INTERVAL_SECONDS, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Matches new findings to alert rules, writes deliveries and sends them (with retries).")
def alert_dispatch(context: dg.SensorEvaluationContext) -> dg.SkipReason | None:
    return evaluate(context)
