"""Shapes of the anomaly-settings tag. Bounds here give FastAPI's 422 for obvious nonsense; the domain
(`tripl_core.findings.anomaly_settings`) checks the merged state (e.g. history ≤ baseline window)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from tripl_api.schemas.common import ORMModel


class AnomalySettingsOut(ORMModel):
    id: uuid.UUID
    project_id: uuid.UUID
    anomaly_detection_enabled: bool
    detect_project_total: bool
    detect_event_types: bool
    detect_events: bool
    baseline_window_buckets: int
    min_history_buckets: int
    sigma_threshold: float
    min_expected_count: int
    created_at: datetime
    updated_at: datetime


class AnomalySettingsUpdate(BaseModel):
    anomaly_detection_enabled: bool | None = None
    detect_project_total: bool | None = None
    detect_event_types: bool | None = None
    detect_events: bool | None = None
    baseline_window_buckets: int | None = Field(None, ge=1, le=105_120)
    min_history_buckets: int | None = Field(None, ge=1, le=105_120)
    sigma_threshold: float | None = Field(None, gt=0, le=100, allow_inf_nan=False)
    min_expected_count: int | None = Field(None, ge=0, le=1_000_000_000)
