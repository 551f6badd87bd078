"""Scan-config and preview-job shapes (run/replay/job shapes are added by the pipelines)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from tripl_core.db.models.scans import ScanJobStatus
from tripl_core.db.models.sources import PreviewStatus
from tripl_core.warehouse import ScanInterval

_COLUMN = Field(None, min_length=1, max_length=255)


class ScanConfigCreate(BaseModel):
    data_source_id: uuid.UUID
    event_type_id: uuid.UUID | None = None
    name: str = Field(min_length=1, max_length=255)
    base_query: str = Field(min_length=1, max_length=100_000,
                            description="One SELECT (WITH allowed) in the source's SQL dialect.")
    event_type_column: str | None = _COLUMN
    time_column: str | None = _COLUMN
    event_name_format: str | None = Field(None, min_length=1, max_length=1000,
                                          description="Template over columns/JSON paths, e.g. {screen}.{action}.")
    json_value_paths: list[str] = Field(default_factory=list, max_length=500,
                                        description="JSON paths as column.key[.key…], treated as fields.")
    event_group_rules: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)
    metric_breakdown_columns: list[str] = Field(default_factory=list, max_length=50)
    metric_breakdown_values_limit: int | None = Field(None, ge=1, le=10_000)
    distribution_drift_fields: list[str] = Field(default_factory=list, max_length=200)
    cardinality_threshold: int = Field(100, ge=1, le=1_000_000)
    interval: ScanInterval | None = Field(ScanInterval.m15)
    replay_chunk_interval: ScanInterval | None = Field(ScanInterval.h1)
    scan_lookback_hours: int | None = Field(None, ge=1, le=24 * 90)
    scan_row_limit: int | None = Field(None, ge=1, le=100_000_000)
    metrics_row_limit: int | None = Field(None, ge=1, le=100_000_000)
    app_version_column: str | None = _COLUMN
    app_version_keep_releases: int | None = Field(None, ge=1, le=1000)


class ScanConfigUpdate(BaseModel):
    event_type_id: uuid.UUID | None = None
    name: str | None = Field(None, min_length=1, max_length=255)
    base_query: str | None = Field(None, min_length=1, max_length=100_000)
    event_type_column: str | None = _COLUMN
    time_column: str | None = _COLUMN
    event_name_format: str | None = Field(None, min_length=1, max_length=1000)
    json_value_paths: list[str] | None = Field(None, max_length=500)
    event_group_rules: list[dict[str, Any]] | None = Field(None, max_length=1000)
    metric_breakdown_columns: list[str] | None = Field(None, max_length=50)
    metric_breakdown_values_limit: int | None = Field(None, ge=1, le=10_000)
    distribution_drift_fields: list[str] | None = Field(None, max_length=200)
    cardinality_threshold: int | None = Field(None, ge=1, le=1_000_000)
    interval: ScanInterval | None = None
    replay_chunk_interval: ScanInterval | None = None
    scan_lookback_hours: int | None = Field(None, ge=1, le=24 * 90)
    scan_row_limit: int | None = Field(None, ge=1, le=100_000_000)
    metrics_row_limit: int | None = Field(None, ge=1, le=100_000_000)
    app_version_column: str | None = _COLUMN
    app_version_keep_releases: int | None = Field(None, ge=1, le=1000)


class ScanConfigResponse(BaseModel):
    model_config = {"from_attributes": True}

    id: uuid.UUID
    data_source_id: uuid.UUID
    project_id: uuid.UUID
    event_type_id: uuid.UUID | None
    name: str
    base_query: str
    event_type_column: str | None
    time_column: str | None
    event_name_format: str | None
    json_value_paths: list[str]
    event_group_rules: list[dict[str, Any]]
    metric_breakdown_columns: list[str]
    metric_breakdown_values_limit: int | None
    distribution_drift_fields: list[str]
    cardinality_threshold: int
    interval: ScanInterval
    replay_chunk_interval: ScanInterval
    scan_lookback_hours: int | None
    scan_row_limit: int | None
    metrics_row_limit: int | None
    app_version_column: str | None
    app_version_keep_releases: int | None
    verification_status: str = Field(description="verified: the zero-row probe passed; unverified: the source "
                                                 "was unreachable when the config was saved.")
    verification_message: str | None = None
    verified_at: datetime | None = None
    probed_columns: list[dict[str, Any]] | None = Field(None, description="Output columns of the base query.")
    created_at: datetime
    updated_at: datetime


class ScanPreviewRequest(BaseModel):
    data_source_id: uuid.UUID
    base_query: str = Field(min_length=1, max_length=100_000)
    limit: int = Field(10, ge=1, le=50)
    json_value_paths: list[str] = Field(default_factory=list, max_length=500)  # as Create Scan Config
    time_column: str | None = _COLUMN
    scan_lookback_hours: int | None = Field(None, ge=1, le=24 * 90)
    include_json_paths: bool = False


class ScanPreviewJobResponse(BaseModel):
    model_config = {"from_attributes": True}

    id: uuid.UUID
    status: PreviewStatus
    started_at: datetime | None
    completed_at: datetime | None
    result_summary: dict[str, Any] | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime


class ScanReplayRequest(BaseModel):
    time_from: datetime = Field(description="Start of the replay; every whole UTC day it overlaps is recomputed.")
    time_to: datetime = Field(description="End (exclusive); after time_from, at most 400 days later.")


class ScanJobResponse(BaseModel):
    """A scan job (pipelines): run / replay / apply_event_groups, executed by Dagster or in-process."""

    model_config = {"from_attributes": True}

    id: uuid.UUID
    scan_config_id: uuid.UUID
    status: ScanJobStatus
    started_at: datetime | None
    completed_at: datetime | None
    result_summary: dict[str, Any] | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime
