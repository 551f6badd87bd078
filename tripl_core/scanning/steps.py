"""The scan steps, one function per Dagster asset, each working on one (scan config, day) partition.

The caller owns the transaction: the Dagster assets commit after each step, the in-process runner after the
whole day. Each step returns a small JSON-able summary (the heavy data stays in Postgres).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tripl_core.db.models.scans import ScanState
from tripl_core.db.models.sources import ScanConfig
from tripl_core.errors import NotFound
from tripl_core.scanning import deadness, findings, horizon, passes, signals
from tripl_core.scanning.metrics import bucket_range, write_metrics
from tripl_core.scanning.planmap import PlanIndex
from tripl_core.scanning.settings import anomaly_settings
from tripl_core.sources.data_sources import adapter_for
from tripl_core.warehouse import ScanInterval, WarehouseAdapter

STEPS = ("warehouse_aggregates", "event_metrics", "anomaly_signals", "schema_drifts", "distribution_drifts",
         "release_regressions", "reconciliation")
DEFAULT_LOOKBACK_HOURS = 2
DAYS_PER_READ = 7  # days read from the warehouse together (as a Dagster run of the BackfillPolicy does)


def load_config(db: Session, scan_config_id: uuid.UUID | str) -> ScanConfig:
    cfg = db.get(ScanConfig, uuid.UUID(str(scan_config_id)))
    if cfg is None:
        raise NotFound(f"Scan config '{scan_config_id}' not found.")
    return cfg


def day_of(value: datetime) -> datetime:
    return passes.day_bounds(value.astimezone(UTC))[0]


def full_day_window(day: datetime, until: datetime | None = None) -> tuple[datetime, datetime]:
    """The whole UTC day of `day`, cut at `until` (a replay's time_to): a replay never scans past the end asked
    for, whichever executor runs it (the in-process runner and the Dagster assets both call this)."""
    start, end = passes.day_bounds(day)
    return (start, min(end, until.astimezone(UTC))) if until is not None else (start, end)


def incremental_window(db: Session, cfg: ScanConfig, day: datetime, now: datetime | None = None
                       ) -> tuple[datetime, datetime] | None:
    """The part of `day` a scheduled run recomputes: from watermark − scan_lookback_hours to the last complete
    bucket (never past now). None when nothing in that day is due."""
    now = now or datetime.now(UTC)
    day_start, day_end = passes.day_bounds(day)
    step = ScanInterval(cfg.interval).seconds
    done = datetime.fromtimestamp((int(now.timestamp()) // step) * step, tz=UTC)
    state = db.get(ScanState, cfg.id)
    lookback = timedelta(hours=cfg.scan_lookback_hours or DEFAULT_LOOKBACK_HOURS)
    start = day_start if state is None or state.watermark is None else max(day_start, state.watermark - lookback)
    end = min(day_end, done)
    start, _ = bucket_range(start, start, cfg)
    return (start, end) if start < end else None


def warehouse_aggregates(db: Session, cfg: ScanConfig, start: datetime, end: datetime,
                         adapter: WarehouseAdapter | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Read [start, end) clipped to observed time (`horizon`: never past now's bucket or the newest data);
    a window with nothing observed stages nothing (the later steps skip the day)."""
    return warehouse_aggregates_range(db, cfg, [(start, end)], adapter, now)[0]


def warehouse_aggregates_range(db: Session, cfg: ScanConfig, windows: list[tuple[datetime, datetime]],
                               adapter: WarehouseAdapter | None = None, now: datetime | None = None
                               ) -> list[dict[str, Any]]:
    """`warehouse_aggregates` for a run's windows (one per day, sorted) with one newest-data probe, and one
    aggregate and one sample statement per run of touching windows (`passes.read_windows`), each day staged as
    if read alone. One summary per window."""
    now = now or datetime.now(UTC)
    bounded = [bucket_range(start, end, cfg) for start, end in windows]
    out: list[dict[str, Any]] = [{} for _ in bounded]
    if not bounded:
        return out
    own = adapter is None
    adapter = adapter or adapter_for(cfg.data_source)
    try:
        newest = horizon.newest_rows(adapter, cfg, bounded)
        seen: list[tuple[int, datetime, datetime]] = []
        for i, (start, asked) in enumerate(bounded):
            end = horizon.observed_end(cfg, asked, now, newest[i], start)
            if end <= start:
                passes.drop_stage(db, cfg, start)
                out[i] = {"skipped": "no observed data", "window_start": start.isoformat(),
                          "unobserved_from": start.isoformat(), "asked_end": asked.isoformat()}
            else:
                seen.append((i, start, end))
        results = passes.read_windows(db, cfg, [(s, e) for _, s, e in seen], adapter=adapter) if seen else []
    finally:
        if own:
            adapter.close()
    for (i, start, end), result in zip(seen, results, strict=True):
        passes.store_stage(db, cfg, start, end, result)
        out[i] = {"window_start": start.isoformat(), "window_end": end.isoformat(), "rows": result.rows,
                  "chunks": result.chunks, "warehouse_seconds": round(result.seconds, 3)}
        if end < bounded[i][1]:
            out[i]["unobserved_from"] = end.isoformat()
    return out


def event_metrics(db: Session, cfg: ScanConfig, day: datetime) -> dict[str, Any]:
    frames, start, end = passes.load_stage(db, cfg, day)
    if start is None:
        return {"skipped": "nothing staged"}
    plan = PlanIndex.load(db, cfg.project_id)
    fp = passes.field_plan(cfg, plan)
    s = write_metrics(db, cfg, start, end, frames, plan, fp, anomaly_settings(db, cfg.project_id))
    return {"buckets": s.buckets, "metric_points": s.metric_points, "matched_rows": s.matched_rows,
            "unmatched_rows": s.unmatched_rows,
            "rescored_until": s.rescored_until.isoformat() if s.rescored_until else None}


def _window(db: Session, cfg: ScanConfig, day: datetime) -> tuple[datetime | None, datetime | None]:
    from sqlalchemy import select

    from tripl_core.db.models.scans import ScanStage

    row = db.execute(select(ScanStage.window_start, ScanStage.window_end).where(
        ScanStage.scan_config_id == cfg.id, ScanStage.window_start >= passes.day_bounds(day)[0],
        ScanStage.window_start < passes.day_bounds(day)[1]).limit(1)).first()
    return (row[0].astimezone(UTC), row[1].astimezone(UTC)) if row else (None, None)


def anomaly_signals(db: Session, cfg: ScanConfig, day: datetime) -> dict[str, Any]:
    start, _ = _window(db, cfg, day)
    if start is None:
        return {"skipped": "nothing staged"}
    return signals.update_signals(db, cfg, start, anomaly_settings(db, cfg.project_id))


def schema_drifts(db: Session, cfg: ScanConfig, day: datetime) -> dict[str, Any]:
    start, end = _window(db, cfg, day)
    if start is None:
        return {"skipped": "nothing staged"}
    return findings.detect_schema_drifts(db, cfg, start, end, PlanIndex.load(db, cfg.project_id))


def distribution_drifts(db: Session, cfg: ScanConfig, day: datetime) -> dict[str, Any]:
    day_start, day_end = passes.day_bounds(day)
    return findings.detect_distribution_drifts(db, cfg, day_start, day_end)


def distribution_drifts_days(db: Session, cfg: ScanConfig, days: list[datetime]) -> dict[datetime, dict[str, Any]]:
    """`distribution_drifts` of a run's days, each affected day judged once (after the run's metrics)."""
    return findings.detect_distribution_drifts_days(db, cfg, [passes.day_bounds(d)[0] for d in days])


def release_regressions(db: Session, cfg: ScanConfig, day: datetime) -> dict[str, Any]:
    _, end = _window(db, cfg, day)
    return findings.detect_release_regressions(db, cfg, end or passes.day_bounds(day)[1])


def reconciliation(db: Session, cfg: ScanConfig, day: datetime) -> dict[str, Any]:
    frames, start, _ = passes.load_stage(db, cfg, day)
    out = findings.update_shadow_events(db, cfg, frames.get("name_fields"))
    return {**out, **deadness.detect_dead_events(db, cfg, passes.day_bounds(day)[1])}


def advance_watermark(db: Session, cfg: ScanConfig, end: datetime | None, job_id: uuid.UUID | None = None) -> None:
    """After a run: the watermark only moves forward (replays of old days leave it alone), to the end of what was
    observed (None: nothing was, only the run is recorded). The row is created idempotently and locked, so
    concurrent runs neither collide on its key nor move the watermark back."""
    state = passes.lock_state(db, cfg.id)
    if end is not None and (state.watermark is None or end > state.watermark):
        state.watermark = end
    state.last_run_at = datetime.now(UTC)
    state.last_job_id = job_id


def run_day(db: Session, cfg: ScanConfig, start: datetime, end: datetime,
            adapter: WarehouseAdapter | None = None, now: datetime | None = None) -> dict[str, Any]:
    """All steps for one window inside one day, in one transaction (committed by the caller)."""
    return run_after_read(db, cfg, day_of(start), warehouse_aggregates(db, cfg, start, end, adapter, now))


def run_after_read(db: Session, cfg: ScanConfig, day: datetime, read: dict[str, Any]) -> dict[str, Any]:
    """The steps after `warehouse_aggregates` for a day whose window is staged (`read` is its summary)."""
    out: dict[str, Any] = {"warehouse_aggregates": read}
    for name in STEPS[1:]:
        out[name] = globals()[name](db, cfg, day)
    return out
