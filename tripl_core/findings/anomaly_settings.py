"""Get / update a project's anomaly settings (table `project_anomaly_settings`, read by the next scan through
`tripl_core.scanning.settings.anomaly_settings`).

The row is created on first read with `tripl_core.detection.config.PROJECT_DEFAULTS` (the one source of the
defaults).
An update applies the keys sent (null = unchanged) and is validated as a whole by building the detector's
`VolumeSettings` from the result, plus the API's own bounds: windows are positive (at least one bucket),
`min_history_buckets` cannot exceed `baseline_window_buckets`, `sigma_threshold` > 0.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.projects import Project
from tripl_core.db.models.scans import ProjectAnomalySettings
from tripl_core.detection.config import PROJECT_DEFAULTS, VolumeSettings
from tripl_core.errors import Invalid

FIELDS = ["anomaly_detection_enabled", "detect_project_total", "detect_event_types", "detect_events",
          "baseline_window_buckets", "min_history_buckets", "sigma_threshold", "min_expected_count"]
MAX_WINDOW_BUCKETS = 105_120  # a year of 5-minute buckets
MAX_SIGMA = 100.0


def defaults() -> dict[str, Any]:
    return {"anomaly_detection_enabled": True, "detect_project_total": True, "detect_event_types": True,
            "detect_events": True, "baseline_window_buckets": PROJECT_DEFAULTS.baseline_window_buckets,
            "min_history_buckets": PROJECT_DEFAULTS.min_history_buckets,
            "sigma_threshold": PROJECT_DEFAULTS.sigma_threshold,
            "min_expected_count": int(PROJECT_DEFAULTS.min_expected_count)}


def get(db: Session, project: Project) -> ProjectAnomalySettings:
    """The project's row, created with the defaults if absent (concurrent first reads are harmless)."""
    query = select(ProjectAnomalySettings).where(ProjectAnomalySettings.project_id == project.id)
    row = db.scalar(query)
    if row is None:
        db.execute(insert(ProjectAnomalySettings).values(project_id=project.id, **defaults())
                   .on_conflict_do_nothing(index_elements=["project_id"]))
        db.commit()
        row = db.scalar(query)
    assert row is not None
    return row


def _check(state: dict[str, Any]) -> None:
    for key in ("baseline_window_buckets", "min_history_buckets"):
        if not 1 <= state[key] <= MAX_WINDOW_BUCKETS:
            raise Invalid(key, f"{key} must be between 1 and {MAX_WINDOW_BUCKETS}.")
    if state["min_history_buckets"] > state["baseline_window_buckets"]:
        raise Invalid("min_history_buckets", "min_history_buckets cannot exceed baseline_window_buckets.")
    if not 0 < state["sigma_threshold"] <= MAX_SIGMA:
        raise Invalid("sigma_threshold", f"sigma_threshold must be greater than 0 and at most {MAX_SIGMA:g}.")
    if state["min_expected_count"] < 0:
        raise Invalid("min_expected_count", "min_expected_count must not be negative.")
    VolumeSettings(baseline_window_buckets=state["baseline_window_buckets"],
                   min_history_buckets=state["min_history_buckets"], sigma_threshold=state["sigma_threshold"],
                   min_expected_count=float(state["min_expected_count"]))


def update(db: Session, actor: audit.Actor, project: Project, changes: dict[str, Any]) -> ProjectAnomalySettings:
    row = get(db, project)
    before = audit.snapshot(row, FIELDS)
    state = {k: getattr(row, k) for k in FIELDS}
    state.update({k: v for k, v in changes.items() if k in FIELDS and v is not None})
    _check(state)
    for key, value in state.items():
        setattr(row, key, value)
    b, a = audit.changed(before, audit.snapshot(row, FIELDS))
    if a:
        audit.record(db, actor, "anomaly_settings.update", "anomaly_settings", row.id, project.slug,
                     project=project, before=b, after=a,
                     message=f"{actor.label} updated the anomaly settings of '{project.name}' "
                             f"({', '.join(sorted(a))})")
    db.commit()
    return row
