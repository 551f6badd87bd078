"""Active signals: the open volume incidents (`anomaly_signals.status = open`) of a project, newest first.

An incident is consecutive anomalous buckets of one scope in one direction (see docs/pipelines.md); `since` is its
first bucket, `bucket` its latest, `actual`/`expected`/`z` those of the latest bucket and `peak_z` the strongest.
Filtering by events returns the incidents of those events' scopes only.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core.db.models.findings import AnomalySignal, SignalStatus
from tripl_core.db.models.metrics import ScopeType
from tripl_core.db.models.projects import Project
from tripl_core.errors import Invalid

MAX_EVENT_IDS = 10_000
MAX_SIGNALS = 1000


def signal_dict(s: AnomalySignal) -> dict[str, Any]:
    return {
        "id": s.id, "scan_config_id": s.scan_config_id, "scope_type": s.scope_type.value,
        "scope_ref": s.scope_ref, "event_id": s.scope_ref if s.scope_type == ScopeType.event else None,
        "event_type_id": s.event_type_id, "status": s.status.value, "direction": s.direction, "since": s.since,
        "bucket": s.bucket, "bucket_count": s.bucket_count, "actual": s.actual, "expected": s.expected,
        "lower": s.lower, "upper": s.upper, "z": s.z, "peak_z": s.peak_z, "closed_at": s.closed_at,
        "forecast": list(s.forecast or []),
    }


def active_signals(db: Session, project: Project, event_ids: list[uuid.UUID] | None = None,
                   field: str = "event_id") -> list[dict[str, Any]]:
    """Open incidents, newest bucket first, strongest first within a bucket (at most MAX_SIGNALS)."""
    q = select(AnomalySignal).where(AnomalySignal.project_id == project.id,
                                    AnomalySignal.status == SignalStatus.open)
    if event_ids:
        if len(event_ids) > MAX_EVENT_IDS:
            raise Invalid(field, f"Give at most {MAX_EVENT_IDS} event ids.")
        q = q.where(AnomalySignal.scope_type == ScopeType.event, AnomalySignal.scope_ref.in_(set(event_ids)))
    rows = db.scalars(q.order_by(AnomalySignal.bucket.desc(), func.abs(AnomalySignal.peak_z).desc(),
                                 AnomalySignal.id).limit(MAX_SIGNALS))
    return [signal_dict(s) for s in rows]
