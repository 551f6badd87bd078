from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from tripl_api.deps import DB, Viewer, ViewerWrite
from tripl_api.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyResponse
from tripl_core import api_keys

router = APIRouter(prefix="/api/v1/api-keys", tags=["api-keys"])


@router.get("", summary="List Api Keys", response_model=list[ApiKeyResponse])
def list_api_keys(db: DB, actor: Viewer):
    return api_keys.list_for(db, actor)


@router.post("", summary="Create Api Key", response_model=ApiKeyCreated, status_code=201)
def create_api_key(body: ApiKeyCreate, db: DB, actor: ViewerWrite):
    minted = api_keys.create(db, actor, body.name, body.scope, body.expires_in_days, body.project_slug)
    listed = ApiKeyResponse.model_validate(minted.key)
    return ApiKeyCreated(**listed.model_dump(), token=minted.token)


@router.delete("/{key_id}", summary="Revoke Api Key", status_code=204)
def revoke_api_key(key_id: uuid.UUID, db: DB, actor: ViewerWrite) -> Response:
    api_keys.revoke(db, actor, key_id)
    return Response(status_code=204)
