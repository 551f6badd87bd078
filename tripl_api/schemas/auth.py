from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, EmailStr, Field

from tripl_api.schemas.common import ORMModel
from tripl_core.db.models.auth import UserRole


class RegisterRequest(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=255)
    name: str | None = Field(None, max_length=255)


class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=8, max_length=255)


class UserResponse(ORMModel):
    id: uuid.UUID
    email: str
    name: str | None
    role: UserRole
    created_at: datetime
    updated_at: datetime
