"""Event photos, Figma specs and photo comments (reference tag `event-photos`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from tripl_core.db.models.plan_extras import PhotoKind, PhotoStorageBackend


class PhotoResponse(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    project_id: uuid.UUID
    kind: PhotoKind
    original_filename: str
    title: str
    content_type: str | None
    size_bytes: int
    storage_backend: PhotoStorageBackend
    sort_order: int
    url: str = Field(description="Where to fetch it: the download route (local) or the external link.")
    external_url: str | None
    uploaded_by_user_id: uuid.UUID | None
    created_at: datetime


class PhotoReorder(BaseModel):
    photo_ids: list[uuid.UUID] = Field(description="Photos in their new order; unlisted ones follow.")


class FigmaAttach(BaseModel):
    url: str = Field(min_length=1, max_length=2000)
    title: str = Field("", max_length=500)


class PhotoCommentCreate(BaseModel):
    body: str = Field(min_length=1, max_length=4000)
    parent_id: uuid.UUID | None = None


class PhotoCommentResponse(BaseModel):
    id: uuid.UUID
    photo_id: uuid.UUID
    parent_id: uuid.UUID | None
    user_id: uuid.UUID | None
    user_name: str | None = None
    user_email: str | None = None
    body: str
    created_at: datetime
    updated_at: datetime
