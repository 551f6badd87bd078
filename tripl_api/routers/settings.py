"""Instance settings: owner only. PUT and PATCH are the same partial upsert (the reference explains why)."""

from __future__ import annotations

from fastapi import APIRouter

from tripl_api.deps import DB, Owner, OwnerRead
from tripl_api.schemas.settings import (
    AiSettingsResponse,
    AiSettingsUpdate,
    AiTestRequest,
    AiTestResponse,
    ServiceSettingsResponse,
    ServiceSettingsUpdate,
)
from tripl_core import service_settings
from tripl_core.ai import client as ai_client

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])


@router.get("", summary="Get Service Settings", response_model=ServiceSettingsResponse)
def get_service_settings(db: DB, _: OwnerRead):
    return service_settings.describe(service_settings.effective(db))


def _upsert(db: DB, actor: Owner, body: ServiceSettingsUpdate) -> dict:  # type: ignore[valid-type]
    changes = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
    return service_settings.describe(service_settings.update(db, actor, changes))


@router.put("", summary="Put Service Settings", response_model=ServiceSettingsResponse,
            description="Upsert service overrides. Intentionally identical to PATCH: unset fields are left "
                        "untouched (partial update), not reset. An explicit null removes an override.")
def put_service_settings(body: ServiceSettingsUpdate, db: DB, actor: Owner):  # type: ignore[valid-type]
    return _upsert(db, actor, body)


@router.patch("", summary="Patch Service Settings", response_model=ServiceSettingsResponse)
def patch_service_settings(body: ServiceSettingsUpdate, db: DB, actor: Owner):  # type: ignore[valid-type]
    return _upsert(db, actor, body)


@router.get("/ai", summary="Get Ai Settings", response_model=AiSettingsResponse)
def get_ai_settings(db: DB, _: OwnerRead):
    return service_settings.describe(service_settings.effective(db), sections=("ai",))


@router.put("/ai", summary="Put Ai Settings", response_model=AiSettingsResponse,
            description="Upsert AI overrides (partial: only fields present in the body are applied).")
def put_ai_settings(body: AiSettingsUpdate, db: DB, actor: Owner):  # type: ignore[valid-type]
    changes = {"ai": body.model_dump(exclude_unset=True)}  # type: ignore[attr-defined]
    return service_settings.describe(service_settings.update(db, actor, changes), sections=("ai",))


@router.post("/ai/test", summary="Test Ai Settings", response_model=AiTestResponse)
def test_ai_settings(body: AiTestRequest, db: DB, _: Owner):
    ok, message = ai_client.test_connection(service_settings.effective(db), body.prompt)
    return AiTestResponse(ok=ok, message=message)
