"""Dead events (part of the `reconciliation` step): planned events that were regular and have been silent far
longer than their usual gap.

Why a finding of its own: the volume detector sees an event die as a drop, but only for a while — a lasting change
becomes the new level, the signal closes, and List Dead Events' `days` filter (30 by default) hid an event silent
for 10 days. Here, per event scope of the config, over the HISTORY_DAYS before the config's newest observed
bucket (`metric_points`, one grouped query): an event is *regular* when it had volume in at least
MIN_ACTIVE_BUCKETS buckets on at least MIN_ACTIVE_DAYS days; its *usual gap* is the longest gap between two of
those buckets; it is *dead* when it has been silent (from the end of its last bucket with volume to the end of
observed time) for more than max(GAP_FACTOR × usual gap, MIN_SILENCE). Only implemented/live events count (an
archived event is expected to be silent). A dead event stays open until it sends again, then closes; dying again
later is a new occurrence for alerting (its `last_seen_at` differs). Deadness is about now: every window inside
the HISTORY_DAYS before the newest observed bucket re-judges it (one grouped query), whatever order the runs finish
in, and silence counts only over buckets that were scanned (days a replay has not reached yet are unknown).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from tripl_core.db.models.dead_events import DeadEvent
from tripl_core.db.models.sources import ScanConfig
from tripl_core.scanning import store
from tripl_core.warehouse import ScanInterval

HISTORY_DAYS = 35
MIN_ACTIVE_BUCKETS = 12
MIN_ACTIVE_DAYS = 3
GAP_FACTOR = 4.0
MIN_SILENCE = timedelta(days=1)

_ACTIVITY = """
WITH a AS (
    SELECT scope_ref, bucket, count,
           bucket - lag(bucket) OVER (PARTITION BY scope_ref ORDER BY bucket) AS gap
    FROM metric_points
    WHERE scan_config_id = :c AND scope_type = 'event' AND count > 0 AND bucket >= :h AND bucket < :u)
SELECT a.scope_ref AS event_id, e.event_type_id, MAX(a.bucket) AS last_bucket, COUNT(*) AS active,
       COUNT(DISTINCT date_trunc('day', a.bucket AT TIME ZONE 'UTC')) AS days,
       COALESCE(EXTRACT(EPOCH FROM MAX(a.gap)), 0) AS max_gap, AVG(a.count) AS typical
FROM a JOIN events e ON e.id = a.scope_ref
WHERE e.status IN ('implemented', 'live')
GROUP BY a.scope_ref, e.event_type_id
"""


def observed_until(db: Session, cfg: ScanConfig) -> datetime | None:
    """End of the config's newest observed bucket (every observed bucket has a project_total row)."""
    last = db.execute(text("SELECT MAX(bucket) FROM metric_points WHERE scan_config_id = :c "
                           "AND scope_type = 'project_total'"), {"c": cfg.id}).scalar()
    return None if last is None else last + ScanInterval(cfg.interval).delta


def _observed_throughout(db: Session, cfg: ScanConfig, start: datetime, end: datetime, step: timedelta) -> bool:
    """Whether every bucket of [start, end) was scanned: silence over days not scanned yet is unknown, not death."""
    seen = db.execute(text("SELECT COUNT(*) FROM metric_points WHERE scan_config_id = :c "
                           "AND scope_type = 'project_total' AND bucket >= :s AND bucket < :e"),
                      {"c": cfg.id, "s": start, "e": end}).scalar() or 0
    return seen >= round((end - start) / step)


def detect_dead_events(db: Session, cfg: ScanConfig, day_end: datetime) -> dict[str, Any]:
    until = observed_until(db, cfg)
    # Any window inside the history re-judges "now": under Dagster today's run may finish before the replay of the
    # days before it, and a rule that looked only at the newest day never saw the history (a dead event was found
    # or not depending on the order the runs finished in).
    if until is None or day_end < until - timedelta(days=HISTORY_DAYS):
        return {"dead_events": 0}
    step = ScanInterval(cfg.interval).delta
    act = pd.read_sql_query(text(_ACTIVITY), db.connection(),
                            params={"c": cfg.id, "h": until - timedelta(days=HISTORY_DAYS), "u": until})
    act["last_seen"] = pd.to_datetime(act["last_bucket"], utc=True) + step
    open_rows = {r.event_id: r for r in db.query(DeadEvent).filter(DeadEvent.scan_config_id == cfg.id,
                                                                   DeadEvent.status == "open")}
    dead = 0
    seen = set()
    for r in act.itertuples(index=False):  # plan events with volume (bounded by the plan), not rows
        seen.add(r.event_id)
        last_seen = r.last_seen.to_pydatetime()
        silent = until - last_seen
        limit = max(timedelta(seconds=GAP_FACTOR * float(r.max_gap)), MIN_SILENCE)
        regular = int(r.active) >= MIN_ACTIVE_BUCKETS and int(r.days) >= MIN_ACTIVE_DAYS
        prior = open_rows.get(r.event_id)
        if regular and silent > limit and _observed_throughout(db, cfg, last_seen, until, step):
            values = {"id": store.finding_id("dead", cfg.id, r.event_id), "project_id": cfg.project_id,
                      "scan_config_id": cfg.id, "event_id": r.event_id, "event_type_id": r.event_type_id,
                      "status": "open", "last_seen_at": last_seen, "detected_at": last_seen + limit,
                      "observed_until": until, "usual_gap_seconds": float(r.max_gap),
                      "silent_seconds": silent.total_seconds(), "active_buckets": int(r.active),
                      "typical_count": float(r.typical)}
            stmt = insert(DeadEvent).values(**values)
            db.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={
                **{k: stmt.excluded[k] for k in values if k != "id"}, "updated_at": stmt.excluded.updated_at}))
            dead += 1
        elif prior is not None and last_seen > prior.last_seen_at:  # it sent again: the death is over
            prior.status, prior.observed_until = "closed", until
        elif prior is not None:  # still silent, history too short now to re-judge: keep it open, refresh
            prior.observed_until, prior.silent_seconds = until, (until - prior.last_seen_at).total_seconds()
            dead += 1
    for event_id, prior in open_rows.items():  # silent for longer than the history read: still dead
        if event_id not in seen:
            prior.observed_until, prior.silent_seconds = until, (until - prior.last_seen_at).total_seconds()
            dead += 1
    db.flush()
    return {"dead_events": dead}
