from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from tripl_api.deps import DB, ProjectRead, ProjectWrite
from tripl_api.schemas.scans import (
    ScanConfigCreate,
    ScanConfigResponse,
    ScanConfigUpdate,
    ScanJobResponse,
    ScanPreviewJobResponse,
    ScanPreviewRequest,
    ScanReplayRequest,
)
from tripl_core.db.models.scans import ScanJobKind
from tripl_core.scanning import jobs as scan_jobs
from tripl_core.sources import previews, scan_configs

router = APIRouter(prefix="/api/v1/projects/{slug}/scans", tags=["scans"])


@router.get("", summary="List Scan Configs", response_model=list[ScanConfigResponse])
def list_scan_configs(db: DB, ctx: ProjectRead):
    return scan_configs.list_for_project(db, ctx.project)


@router.post("", summary="Create Scan Config", response_model=ScanConfigResponse, status_code=201)
def create_scan_config(body: ScanConfigCreate, db: DB, ctx: ProjectWrite):
    data = body.model_dump()
    data["interval"] = data["interval"] or "15m"
    data["replay_chunk_interval"] = data["replay_chunk_interval"] or "1h"
    return scan_configs.create(db, ctx.actor, ctx.project, data)


@router.post("/preview", summary="Preview Scan Config", response_model=ScanPreviewJobResponse, status_code=202)
def preview_scan_config(body: ScanPreviewRequest, db: DB, ctx: ProjectWrite):
    return previews.enqueue(db, ctx.actor, ctx.project, body.model_dump(mode="json"))


@router.get("/preview-jobs/{job_id}", summary="Get Scan Preview Job", response_model=ScanPreviewJobResponse)
def get_scan_preview_job(job_id: uuid.UUID, db: DB, ctx: ProjectRead):
    return previews.get(db, ctx.project, job_id)


@router.get("/{scan_id}", summary="Get Scan Config", response_model=ScanConfigResponse)
def get_scan_config(scan_id: uuid.UUID, db: DB, ctx: ProjectRead):
    return scan_configs.get(db, ctx.project, scan_id)


@router.patch("/{scan_id}", summary="Update Scan Config", response_model=ScanConfigResponse)
def update_scan_config(scan_id: uuid.UUID, body: ScanConfigUpdate, db: DB, ctx: ProjectWrite):
    cfg = scan_configs.get(db, ctx.project, scan_id)
    return scan_configs.update(db, ctx.actor, ctx.project, cfg, body.model_dump(exclude_unset=True))


@router.delete("/{scan_id}", summary="Delete Scan Config", status_code=204)
def delete_scan_config(scan_id: uuid.UUID, db: DB, ctx: ProjectWrite) -> Response:
    scan_configs.delete(db, ctx.actor, ctx.project, scan_configs.get(db, ctx.project, scan_id))
    return Response(status_code=204)


@router.post("/{scan_id}/run", summary="Run Scan", response_model=ScanJobResponse, status_code=202)
def run_scan(scan_id: uuid.UUID, db: DB, ctx: ProjectWrite):
    cfg = scan_configs.get(db, ctx.project, scan_id)
    return scan_jobs.enqueue(db, ctx.actor, ctx.project, cfg, ScanJobKind.run)


@router.post("/{scan_id}/apply-event-groups", summary="Apply Scan Event Groups", response_model=ScanJobResponse,
             status_code=202)
def apply_scan_event_groups(scan_id: uuid.UUID, db: DB, ctx: ProjectWrite):
    cfg = scan_configs.get(db, ctx.project, scan_id)
    return scan_jobs.enqueue(db, ctx.actor, ctx.project, cfg, ScanJobKind.apply_event_groups)


@router.post("/{scan_id}/replay", summary="Replay Scan Metrics", response_model=ScanJobResponse, status_code=202)
def replay_scan_metrics(scan_id: uuid.UUID, body: ScanReplayRequest, db: DB, ctx: ProjectWrite):
    cfg = scan_configs.get(db, ctx.project, scan_id)
    return scan_jobs.enqueue(db, ctx.actor, ctx.project, cfg, ScanJobKind.replay, body.time_from, body.time_to)


@router.get("/{scan_id}/jobs", summary="List Scan Jobs", response_model=list[ScanJobResponse])
def list_scan_jobs(scan_id: uuid.UUID, db: DB, ctx: ProjectRead):
    return scan_jobs.list_jobs(db, ctx.project, scan_configs.get(db, ctx.project, scan_id))


@router.get("/{scan_id}/jobs/{job_id}", summary="Get Scan Job", response_model=ScanJobResponse)
def get_scan_job(scan_id: uuid.UUID, job_id: uuid.UUID, db: DB, ctx: ProjectRead):
    return scan_jobs.get_job(db, ctx.project, scan_configs.get(db, ctx.project, scan_id), job_id)


@router.post("/{scan_id}/jobs/{job_id}/cancel", summary="Cancel Scan Job", response_model=ScanJobResponse)
def cancel_scan_job(scan_id: uuid.UUID, job_id: uuid.UUID, db: DB, ctx: ProjectWrite):
    cfg = scan_configs.get(db, ctx.project, scan_id)
    return scan_jobs.cancel(db, ctx.actor, ctx.project, cfg, scan_jobs.get_job(db, ctx.project, cfg, job_id))
