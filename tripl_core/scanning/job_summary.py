"""The `result_summary` of a scan job, read from the stored rows (both executors: the in-process runner and the
Dagster progress hook). Its own module, below `jobs` and `runner`: `jobs` hands jobs to `runner`, and `runner`
needs these, so in `jobs` they made the two import each other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from tripl_core.db.models.scans import ScanJob, ScanJobKind
from tripl_core.db.models.sources import ScanConfig


def job_totals(db: Session, cfg: ScanConfig, start: datetime, end: datetime) -> dict[str, int]:
    """What a scan job's window [start, end) holds after the job, read from the stored rows — so the job's
    `result_summary` is the same for the same work whichever executor ran it, in whatever order or batching
    (sums of per-day step summaries counted a signal re-scored on later days once per day)."""
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
