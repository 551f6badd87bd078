"""Data-source shapes. Secrets are accepted on input and never returned (`password_set`, `<key>_set`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from tripl_core.warehouse import DBType


class DataSourceCreate(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    db_type: DBType
    host: str = Field(min_length=1, max_length=500,
                      description="Server host; for ClickHouse `chdb:///abs/path` is the embedded engine; for "
                                  "BigQuery the project id.")
    port: int = Field(8123, ge=1, le=65535,
                      description="Omitted: 8123 for ClickHouse, 5432 for Postgres, 443 for BigQuery.")
    database_name: str = Field(min_length=1, max_length=255, description="Database (BigQuery: dataset).")
    username: str = ""
    password: str = Field("", description="Write-only; responses say password_set.")
    timeout_seconds: int | None = Field(None, ge=1, le=3600)
    extra_params: dict[str, Any] | None = Field(
        None, description="Driver extras (BigQuery: location, credentials_json, api_endpoint; ClickHouse: secure, "
                          "verify; Postgres: sslmode…). Credential keys are write-only (shown as `<key>_set`).")


class DataSourceUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=255)
    db_type: DBType | None = None
    host: str | None = Field(None, min_length=1, max_length=500)
    port: int | None = Field(None, ge=1, le=65535)
    database_name: str | None = Field(None, min_length=1, max_length=255)
    username: str | None = None
    password: str | None = Field(None, description="null/absent: keep; \"\": clear; a value: replace.")
    timeout_seconds: int | None = Field(None, ge=1, le=3600)
    extra_params: dict[str, Any] | None = Field(None, description="Merged key by key; a null value removes a key.")


class DataSourceResponse(BaseModel):
    id: uuid.UUID
    name: str
    db_type: DBType
    host: str
    port: int
    database_name: str
    username: str
    password_set: bool
    timeout_seconds: int
    extra_params: dict[str, Any]
    last_test_at: datetime | None = None
    last_test_status: str | None = Field(None, description="success | failed")
    last_test_message: str | None = None
    created_at: datetime
    updated_at: datetime


class DataSourceTestResponse(BaseModel):
    success: bool
    message: str
    tested_at: datetime
    data_source: DataSourceResponse


class ColumnOut(BaseModel):
    name: str
    type: str
    nullable: bool | None = None


class TableOut(BaseModel):
    name: str
    schema_name: str | None = Field(None, alias="schema", serialization_alias="schema")
    columns: list[ColumnOut]

    model_config = {"populate_by_name": True}


class DataSourceSchemaResponse(BaseModel):
    tables: list[TableOut]
