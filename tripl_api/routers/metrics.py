"""Metrics tag: volume series, overview, signals, root cause, releases, distribution drifts (tripl_core.findings).

Metrics are keyed by the project's main-branch events and event types; `from`/`to` are bucket-aligned (see
tripl_core.findings.common for the defaults).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import TypeAdapter

from tripl_api.deps import DB, ProjectRead
from tripl_api.schemas.metrics import (
    AppVersionAdoption,
    AppVersionSeries,
    BreakdownTimeline,
    DistributionDrifts,
    EventBreakdowns,
    Heatmap,
    KpiSeries,
    MetricSeries,
    Mover,
    ReleaseRegressions,
    SignalOut,
    SignalsQuery,
    TopEvent,
    WindowMetric,
    WindowMetricsRequest,
)
from tripl_core.db.models.plan import EventStatus, PlanBranch
from tripl_core.findings import drifts, overview, releases, rootcause, series, signals, totals
from tripl_core.findings.common import main_branch_id
from tripl_core.plan.common import PlanScope
from tripl_core.plan.event_queries import EventFilters

router = APIRouter(prefix="/api/v1/projects/{slug}", tags=["metrics"])

From = Annotated[datetime | None, Query(alias="from", description="Window start (default: `to` minus 7 days).")]
To = Annotated[datetime | None, Query(alias="to", description="Window end (default: now).")]
ScopeTypeQ = Annotated[str, Query(description="project_total, event_type or event.")]
ScopeRefQ = Annotated[str, Query(description="Event type or event id; ignored for project_total.")]
_SERIES = TypeAdapter(MetricSeries)


def _series_json(out: dict) -> Response:
    """A series (672 points by default) validated and serialised by pydantic-core in one pass: FastAPI's own
    path (validate, dump to Python objects, json.dumps) costs several times more per request. The routes still
    declare response_model=MetricSeries, so /openapi.json documents the same schema."""
    return Response(_SERIES.dump_json(_SERIES.validate_python(out)), media_type="application/json")


@router.get("/metrics/events", summary="Get Events Metrics", response_model=MetricSeries)
def get_events_metrics(
    db: DB, ctx: ProjectRead,
    event_type_id: uuid.UUID | None = None,
    search: Annotated[str | None, Query(description="Case-insensitive substring of name or description.")] = None,
    tag: str | None = None,
    status: Annotated[list[EventStatus] | None, Query(description="Any of these statuses (repeatable).")] = None,
    time_from: From = None, time_to: To = None,
):
    scope = PlanScope(ctx.project, db.get(PlanBranch, main_branch_id(db, ctx.project)))
    filters = EventFilters(event_type_id=event_type_id, search=search, statuses=status or [], tag=tag)
    return _series_json(series.events_series(db, scope, filters, time_from, time_to))


@router.post("/metrics/events/window", summary="Get Events Window Metrics", response_model=list[WindowMetric])
def get_events_window_metrics(body: WindowMetricsRequest, db: DB, ctx: ProjectRead):
    return overview.window_metrics(db, ctx.project, body.event_ids, body.time_from, body.time_to)


@router.get("/metrics/overview/kpis", summary="Get Overview Kpi Series", response_model=KpiSeries)
def get_overview_kpi_series(db: DB, ctx: ProjectRead, days: Annotated[int, Query(ge=1, le=365)] = 14):
    return overview.kpi_series(db, ctx.project, days)


@router.get("/metrics/overview/top-events", summary="Get Overview Top Events", response_model=list[TopEvent])
def get_overview_top_events(db: DB, ctx: ProjectRead, window_hours: Annotated[int, Query(ge=1, le=720)] = 48,
                            limit: Annotated[int, Query(ge=1, le=100)] = 6):
    return overview.top_events(db, ctx.project, window_hours, limit)


@router.get("/metrics/total", summary="Get Project Total Metrics", response_model=MetricSeries,
            description="The project's total across its scan configs; `scan_config_id` gives one config's.")
def get_project_total_metrics(db: DB, ctx: ProjectRead, scan_config_id: uuid.UUID | None = None,
                              time_from: From = None, time_to: To = None):
    if scan_config_id is not None:
        return _series_json(series.total_series(db, ctx.project, scan_config_id, time_from, time_to))
    return _series_json(totals.project_total(db, ctx.project, time_from, time_to))


@router.get("/metrics/events/{event_id}", summary="Get Event Metrics", response_model=MetricSeries)
def get_event_metrics(event_id: uuid.UUID, db: DB, ctx: ProjectRead, time_from: From = None, time_to: To = None):
    return _series_json(series.event_series(db, ctx.project, event_id, time_from, time_to))


@router.get("/metrics/events/{event_id}/breakdowns", summary="Get Event Metric Breakdowns",
            response_model=EventBreakdowns)
def get_event_metric_breakdowns(event_id: uuid.UUID, db: DB, ctx: ProjectRead, column: str | None = None,
                                time_from: From = None, time_to: To = None):
    return rootcause.event_breakdowns(db, ctx.project, event_id, column, time_from, time_to)


@router.get("/metrics/event-types/{event_type_id}", summary="Get Event Type Metrics", response_model=MetricSeries)
def get_event_type_metrics(event_type_id: uuid.UUID, db: DB, ctx: ProjectRead, time_from: From = None,
                           time_to: To = None):
    return _series_json(series.event_type_series(db, ctx.project, event_type_id, time_from, time_to))


@router.get("/anomalies/signals", summary="Get Active Signals", response_model=list[SignalOut],
            description="Cacheable no-args variant. For a long event-id list prefer POST /anomalies/signals/query.")
def get_active_signals(db: DB, ctx: ProjectRead,
                       event_id: Annotated[list[uuid.UUID] | None, Query(max_length=10_000)] = None):
    return signals.active_signals(db, ctx.project, event_id, field="event_id")


@router.post("/anomalies/signals/query", summary="Query Active Signals", response_model=list[SignalOut])
def query_active_signals(body: SignalsQuery, db: DB, ctx: ProjectRead):
    return signals.active_signals(db, ctx.project, body.event_ids, field="event_ids")


@router.get("/scans/{scan_config_id}/top-movers", summary="Get Top Movers", response_model=list[Mover],
            description='Top-N breakdown rows that "moved" a given anomaly bucket, |z| desc.')
def get_top_movers(scan_config_id: uuid.UUID, db: DB, ctx: ProjectRead, scope_type: ScopeTypeQ,
                   scope_ref: ScopeRefQ, bucket: datetime, limit: Annotated[int, Query(ge=1, le=100)] = 10):
    return rootcause.movers(db, ctx.project, scan_config_id, scope_type, scope_ref, bucket, limit)


@router.get("/scans/{scan_config_id}/seasonality", summary="Get Seasonality Heatmap", response_model=Heatmap,
            description="7×24 hour-of-day × weekday heatmap of volume and anomaly density.")
def get_seasonality_heatmap(scan_config_id: uuid.UUID, db: DB, ctx: ProjectRead, scope_type: ScopeTypeQ,
                            scope_ref: ScopeRefQ, time_from: From = None, time_to: To = None):
    return rootcause.heatmap(db, ctx.project, scan_config_id, scope_type, scope_ref, time_from, time_to)


@router.get("/scans/{scan_config_id}/breakdown-timeline", summary="Get Breakdown Timeline",
            response_model=BreakdownTimeline,
            description="Per-bucket count timeline for one breakdown_value (drill-down).")
def get_breakdown_timeline(scan_config_id: uuid.UUID, db: DB, ctx: ProjectRead, scope_type: ScopeTypeQ,
                           scope_ref: ScopeRefQ, breakdown_column: str, breakdown_value: str,
                           is_other: bool = False, time_from: From = None, time_to: To = None):
    return rootcause.breakdown_timeline(db, ctx.project, scan_config_id, scope_type, scope_ref, breakdown_column,
                                        breakdown_value, is_other, time_from, time_to)


@router.get("/scans/{scan_config_id}/app-versions", summary="Get App Version Series", response_model=AppVersionSeries)
def get_app_version_series(scan_config_id: uuid.UUID, db: DB, ctx: ProjectRead,
                           scope_type: Annotated[str, Query()] = "project_total", scope_ref: str | None = None,
                           time_from: From = None, time_to: To = None):
    return releases.version_series(db, ctx.project, scan_config_id, scope_type, scope_ref, time_from, time_to)


@router.get("/scans/{scan_config_id}/app-versions/adoption", summary="Get App Version Adoption",
            response_model=AppVersionAdoption)
def get_app_version_adoption(scan_config_id: uuid.UUID, db: DB, ctx: ProjectRead, time_from: From = None,
                             time_to: To = None):
    return releases.adoption(db, ctx.project, scan_config_id, time_from, time_to)


@router.get("/scans/{scan_config_id}/release-regressions", summary="Get Release Regressions",
            response_model=ReleaseRegressions)
def get_release_regressions(scan_config_id: uuid.UUID, db: DB, ctx: ProjectRead, scope_type: str | None = None):
    return releases.regressions(db, ctx.project, scan_config_id, scope_type)


@router.get("/distribution-drifts", summary="Get Distribution Drifts", response_model=DistributionDrifts)
def get_distribution_drifts(db: DB, ctx: ProjectRead, scope_type: ScopeTypeQ, scope_ref: ScopeRefQ,
                            scan_config_id: uuid.UUID | None = None, time_from: From = None, time_to: To = None):
    return drifts.distribution_drifts(db, ctx.project, scope_type, scope_ref, scan_config_id, time_from, time_to)
