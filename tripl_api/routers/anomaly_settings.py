"""Anomaly-settings tag: the project's volume-anomaly settings, applied by the next scan."""

from __future__ import annotations

from fastapi import APIRouter

from tripl_api.deps import DB, ProjectRead, ProjectWrite
from tripl_api.schemas.anomaly_settings import AnomalySettingsOut, AnomalySettingsUpdate
from tripl_core.findings import anomaly_settings

router = APIRouter(prefix="/api/v1/projects/{slug}/anomaly-settings", tags=["anomaly-settings"])


@router.get("", summary="Get Project Anomaly Settings", response_model=AnomalySettingsOut)
def get_project_anomaly_settings(db: DB, ctx: ProjectRead):
    return anomaly_settings.get(db, ctx.project)


@router.patch("", summary="Update Project Anomaly Settings", response_model=AnomalySettingsOut)
def update_project_anomaly_settings(body: AnomalySettingsUpdate, db: DB, ctx: ProjectWrite):
    return anomaly_settings.update(db, ctx.actor, ctx.project, body.model_dump(exclude_unset=True))
