"""Project-wide meta fields of events."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from tripl_api.schemas.common import ORMModel
from tripl_api.schemas.fields import INT32
from tripl_core.db.models.plan import MetaFieldType, Sensitivity


class MetaFieldCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    display_name: str = Field(min_length=1, max_length=255)
    field_type: MetaFieldType
    is_required: bool = False
    enum_options: list[str] | None = None
    default_value: str | None = None
    link_template: str | None = Field(None, description="A URL with the placeholder {value}, e.g. "
                                                        "https://jira.example.com/browse/{value}.")
    order: int = Field(0, ge=-INT32 - 1, le=INT32)
    sensitivity: Sensitivity = Sensitivity.none


class MetaFieldUpdate(BaseModel):
    """Keys sent are applied; null clears enum_options, default_value and link_template."""

    display_name: str | None = Field(None, min_length=1, max_length=255)
    field_type: MetaFieldType | None = None
    is_required: bool | None = None
    enum_options: list[str] | None = None
    default_value: str | None = None
    link_template: str | None = None
    order: int | None = Field(None, ge=-INT32 - 1, le=INT32)
    sensitivity: Sensitivity | None = None


class MetaFieldResponse(ORMModel):
    id: uuid.UUID
    project_id: uuid.UUID
    branch_id: uuid.UUID
    name: str
    display_name: str
    field_type: MetaFieldType
    is_required: bool
    enum_options: list[str] | None
    default_value: str | None
    link_template: str | None
    order: int
    sensitivity: Sensitivity
