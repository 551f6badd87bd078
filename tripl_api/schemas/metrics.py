"""Shapes of the metrics tag: volume series, signals, overview, root cause, releases, distribution drifts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from tripl_core.warehouse import ScanInterval


class MetricPointOut(BaseModel):
    bucket: datetime
    count: int
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    z: float | None = None
    is_anomaly: bool = False
    direction: str | None = Field(None, description="spike, drop, or null")


class ForecastPoint(BaseModel):
    bucket: datetime
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None


class SignalOut(BaseModel):
    id: uuid.UUID
    scan_config_id: uuid.UUID
    scope_type: str
    scope_ref: uuid.UUID | None = None
    event_id: uuid.UUID | None = None
    event_type_id: uuid.UUID | None = None
    status: str
    direction: str
    since: datetime = Field(description="First anomalous bucket of the incident.")
    bucket: datetime = Field(description="Latest anomalous bucket.")
    bucket_count: int
    actual: float
    expected: float
    lower: float | None = None
    upper: float | None = None
    z: float
    peak_z: float
    closed_at: datetime | None = None
    forecast: list[ForecastPoint] = []


class MetricSeries(BaseModel):
    scope: str = Field(description="project_total, event_type, event, or events (a filtered set, summed).")
    scan_config_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None
    event_type_id: uuid.UUID | None = None
    interval: ScanInterval
    latest_signal: SignalOut | None = None
    data: list[MetricPointOut]
    forecast: list[ForecastPoint]
    learning: bool = Field(False, description="True while the series has less history than the project's "
                                              "min_history_buckets: its newest buckets are not scored and it "
                                              "raises no signal or alert yet.")


class WindowMetricsRequest(BaseModel):
    event_ids: list[uuid.UUID] = Field(max_length=10_000)
    time_from: datetime | None = None
    time_to: datetime | None = None


class WindowMetric(BaseModel):
    event_id: uuid.UUID
    time_from: datetime
    time_to: datetime
    count: int
    anomalies: int = Field(description="Anomalous buckets in the window.")
    last_bucket: datetime | None = Field(None, description="Newest bucket with volume in the window.")
    scan_config_id: uuid.UUID | None = None


class KpiDay(BaseModel):
    date: date
    active_events: int = Field(description="Plan events with volume that day.")
    volume: int = Field(description="Rows scanned that day (project totals).")
    anomalies: int = Field(description="Anomalous buckets that day (project total and events).")


class KpiSeries(BaseModel):
    days: int
    active_events: list[KpiDay]


class TopEvent(BaseModel):
    event_id: uuid.UUID
    name: str
    event_type_id: uuid.UUID
    event_type_name: str
    count: int
    previous_count: int
    change: float | None = Field(None, description="Relative change vs the previous window; null if it was 0.")
    anomalies: int
    last_bucket: datetime | None = None


class SignalsQuery(BaseModel):
    event_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10_000)


class Mover(BaseModel):
    column: str
    value: str | None = None
    is_other: bool
    bucket: datetime
    actual: float
    expected: float
    delta: float
    relative_change: float | None = None
    contribution: float | None = Field(None, description="Share of the bucket's total delta.")
    z: float = Field(description="Anscombe-scale z: 2(√(a+3/8) − √(e+3/8)).")


class HeatmapCell(BaseModel):
    weekday: int = Field(description="0 = Monday (UTC).")
    hour: int
    count: float
    buckets: int
    mean_count: float
    anomalies: int
    anomaly_density: float


class Heatmap(BaseModel):
    scan_config_id: uuid.UUID
    scope_type: str
    scope_ref: str | None = None
    cells: list[HeatmapCell]
    max_count: float
    total_count: float


class TimelinePoint(BaseModel):
    bucket: datetime
    count: int
    total: int = Field(description="The scope's count in the bucket.")
    share: float | None = None


class BreakdownTimeline(BaseModel):
    scan_config_id: uuid.UUID
    scope_type: str
    scope_ref: str | None = None
    breakdown_column: str
    breakdown_value: str | None = None
    is_other: bool
    interval: ScanInterval
    data: list[TimelinePoint]


class CountPoint(BaseModel):
    bucket: datetime
    count: int


class BreakdownSeries(BaseModel):
    value: str | None = None
    is_other: bool
    total: int
    data: list[CountPoint]


class EventBreakdowns(BaseModel):
    event_id: uuid.UUID
    scan_config_id: uuid.UUID | None = None
    interval: ScanInterval
    columns: list[str]
    selected_column: str | None = None
    series: list[BreakdownSeries]


class SharePoint(BaseModel):
    bucket: datetime
    count: int
    share: float | None = None


class VersionCount(BaseModel):
    app_version: str | None = None
    count: int


class VersionSeries(BaseModel):
    app_version: str | None = None
    is_other: bool
    total: int
    data: list[SharePoint]


class AppVersionSeries(BaseModel):
    scan_config_id: uuid.UUID
    scope_type: str
    scope_ref: str | None = None
    event_id: uuid.UUID | None = None
    event_type_id: uuid.UUID | None = None
    app_version_column: str | None = None
    interval: ScanInterval
    latest_version: str | None = None
    versions: list[VersionCount]
    series: list[VersionSeries]


class VersionTotal(BaseModel):
    app_version: str | None = None
    is_other: bool
    count: int
    share: float | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None


class AppVersionAdoption(AppVersionSeries):
    totals: list[VersionTotal]


class RegressionItem(BaseModel):
    id: uuid.UUID
    app_version: str
    baseline_versions: list[str]
    scope_type: str
    scope_ref: uuid.UUID | None = None
    event_id: uuid.UUID | None = None
    event_name: str | None = None
    event_type_id: uuid.UUID | None = None
    release_count: int
    release_total: int
    baseline_count: int
    baseline_total: int
    release_share: float
    baseline_share: float
    ratio: float | None = None
    expected_count: float
    z: float | None = None
    p_value: float | None = None
    direction: str
    is_regression: bool
    detected_at: datetime


class ReleaseRegressions(BaseModel):
    scan_config_id: uuid.UUID
    app_version_column: str | None = None
    latest_version: str | None = None
    items: list[RegressionItem]


class DriftFieldSummary(BaseModel):
    field: str
    days: int
    drift_days: int
    latest_window_start: datetime
    is_drift: bool
    chi2_p_value: float | None = None
    js_distance: float | None = None
    psi: float | None = None


class DriftDay(BaseModel):
    field: str
    window_start: datetime
    window_end: datetime
    baseline_start: datetime
    baseline_end: datetime
    current_count: int
    baseline_count: int
    chi2_p_value: float | None = None
    js_distance: float | None = Field(None, description="Jensen–Shannon distance, base 2.")
    psi: float | None = None
    is_drift: bool
    edges: list[Any]
    current_hist: list[Any]
    baseline_hist: list[Any]


class DistributionDrifts(BaseModel):
    scope: str
    scan_config_id: uuid.UUID | None = None
    event_type_id: uuid.UUID | None = None
    fields: list[DriftFieldSummary]
    data: list[DriftDay]


class DataSourceStats(BaseModel):
    """Get Data Source Stats (data-sources tag), computed from the scans (tripl_core.findings.stats)."""

    events_tracked: int = Field(description="Distinct plan events with volume in the window.")
    volume_window: int = Field(description="Rows scanned in the window.")
    window_hours: int
    throughput: list[CountPoint] = Field(description="Rows per hour, zero-filled.")
