from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from tripl_api.schemas.common import ORMModel
from tripl_core.db.models.auth import UserRole


class UserListItem(ORMModel):
    id: uuid.UUID
    email: str
    name: str | None
    role: UserRole
    created_at: datetime


class UpdateUserRoleRequest(BaseModel):
    role: UserRole
