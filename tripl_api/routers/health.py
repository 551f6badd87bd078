from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from tripl_api.deps import DB

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness")
def readyz(db: DB):
    """Ready when the database answers and carries the newest migrations."""
    from tripl_core.migrations import head_revisions

    try:
        current = set(db.scalars(text("select version_num from alembic_version")))
    except Exception as exc:  # noqa: BLE001 - any database failure means not ready
        return JSONResponse(status_code=503, content={"status": "unavailable", "detail": str(exc)[:200]})
    missing = head_revisions() - current
    if missing:
        return JSONResponse(status_code=503, content={"status": "migrating", "missing": sorted(missing)})
    return {"status": "ready"}
