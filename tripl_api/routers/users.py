from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from tripl_api.deps import DB, Owner, Viewer
from tripl_api.schemas.users import UpdateUserRoleRequest, UserListItem
from tripl_core import accounts, api_keys

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get("", summary="List Users", response_model=list[UserListItem])
def list_users(db: DB, _: Viewer, limit: int = Query(200, ge=1, le=1000), offset: int = Query(0, ge=0)):
    # Everyone may see who is on the instance (to pick owners and reviewers); only owners change roles.
    return accounts.list_users(db, limit, offset)


@router.patch("/{user_id}/role", summary="Update User Role", response_model=UserListItem)
def update_user_role(user_id: uuid.UUID, body: UpdateUserRoleRequest, db: DB, actor: Owner):
    api_keys.ensure_workspace_access(actor)
    return accounts.update_role(db, actor, user_id, body.role)
