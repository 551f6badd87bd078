"""The project's anomaly settings as the scans use them (table `project_anomaly_settings`, defaults if absent)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core.db.models.scans import ProjectAnomalySettings
from tripl_core.detection.config import DEFAULTS, PROJECT_DEFAULTS, VolumeSettings


@dataclass(frozen=True)
class AnomalySettings:
    enabled: bool = True
    detect_project_total: bool = True
    detect_event_types: bool = True
    detect_events: bool = True
    volume: VolumeSettings = PROJECT_DEFAULTS

    def detects(self, scope_type: str) -> bool:
        return self.enabled and {"project_total": self.detect_project_total, "event_type": self.detect_event_types,
                                 "event": self.detect_events}[scope_type]


def anomaly_settings(db: Session, project_id: uuid.UUID) -> AnomalySettings:
    """The stored settings, or the defaults when the project never changed them (no row is created here)."""
    row = db.scalar(select(ProjectAnomalySettings).where(ProjectAnomalySettings.project_id == project_id))
    if row is None:
        return AnomalySettings()
    volume = VolumeSettings(baseline_window_buckets=row.baseline_window_buckets,
                            min_history_buckets=row.min_history_buckets, sigma_threshold=row.sigma_threshold,
                            min_expected_count=float(row.min_expected_count),
                            min_consecutive=DEFAULTS.min_consecutive, relative_floor=DEFAULTS.relative_floor)
    return AnomalySettings(row.anomaly_detection_enabled, row.detect_project_total, row.detect_event_types,
                           row.detect_events, volume)
