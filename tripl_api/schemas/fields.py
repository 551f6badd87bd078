"""Field definitions (with data contracts) of event types."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field, FiniteFloat

from tripl_api.schemas.common import ORMModel
from tripl_core.db.models.plan import FieldType, Sensitivity

INT32 = 2**31 - 1


class FieldCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    display_name: str = Field(min_length=1, max_length=255)
    field_type: FieldType
    is_required: bool = False
    enum_options: list[str] | None = None
    description: str = ""
    order: int = Field(0, ge=-INT32 - 1, le=INT32)
    sensitivity: Sensitivity = Sensitivity.none
    contract_required_max_null_rate: float | None = Field(None, ge=0, le=1)
    contract_regex: str | None = None
    contract_min_value: FiniteFloat | None = None
    contract_max_value: FiniteFloat | None = None
    contract_max_bad_rate: float = Field(0, ge=0, le=1)


class FieldBulkCreate(BaseModel):
    fields: list[FieldCreate] = Field(min_length=1)


class FieldReorder(BaseModel):
    field_ids: list[uuid.UUID]


class FieldUpdate(BaseModel):
    """Keys sent are applied; null clears a contract (and enum_options); null elsewhere means unchanged."""

    display_name: str | None = Field(None, min_length=1, max_length=255)
    field_type: FieldType | None = None
    is_required: bool | None = None
    enum_options: list[str] | None = None
    description: str | None = None
    order: int | None = Field(None, ge=-INT32 - 1, le=INT32)
    sensitivity: Sensitivity | None = None
    contract_required_max_null_rate: float | None = Field(None, ge=0, le=1)
    contract_regex: str | None = None
    contract_min_value: FiniteFloat | None = None
    contract_max_value: FiniteFloat | None = None
    contract_max_bad_rate: float | None = Field(None, ge=0, le=1)


class FieldResponse(ORMModel):
    id: uuid.UUID
    event_type_id: uuid.UUID
    branch_id: uuid.UUID
    name: str
    display_name: str
    field_type: FieldType
    is_required: bool
    enum_options: list[str] | None
    description: str
    order: int
    sensitivity: Sensitivity
    contract_required_max_null_rate: float | None
    contract_regex: str | None
    contract_min_value: float | None
    contract_max_value: float | None
    contract_max_bad_rate: float
