from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from tripl_api.deps import DB, Owner, Viewer
from tripl_api.schemas.data_sources import (
    ColumnOut,
    DataSourceCreate,
    DataSourceResponse,
    DataSourceSchemaResponse,
    DataSourceTestResponse,
    DataSourceUpdate,
    TableOut,
)
from tripl_api.schemas.metrics import DataSourceStats
from tripl_core.db.models.sources import DataSource
from tripl_core.findings.stats import data_source_stats
from tripl_core.sources import data_sources

router = APIRouter(prefix="/api/v1/data-sources", tags=["data-sources"])


def out(ds: DataSource) -> DataSourceResponse:
    return DataSourceResponse(
        id=ds.id, name=ds.name, db_type=ds.db_type, host=ds.host, port=ds.port, database_name=ds.database_name,
        username=ds.username, password_set=data_sources.password_set(ds), timeout_seconds=ds.timeout_seconds,
        extra_params=data_sources.public_extra_params(ds), last_test_at=ds.last_test_at,
        last_test_status=ds.last_test_status, last_test_message=ds.last_test_message, created_at=ds.created_at,
        updated_at=ds.updated_at,
    )


@router.get("", summary="List Data Sources", response_model=list[DataSourceResponse])
def list_data_sources(db: DB, actor: Viewer):
    return [out(ds) for ds in data_sources.list_all(db)]


@router.post("", summary="Create Data Source", response_model=DataSourceResponse, status_code=201)
def create_data_source(body: DataSourceCreate, db: DB, actor: Owner):
    data = body.model_dump()
    if "port" not in body.model_fields_set:
        data["port"] = None  # the engine's usual port
    return out(data_sources.create(db, actor, data))


@router.get("/{ds_id}", summary="Get Data Source", response_model=DataSourceResponse)
def get_data_source(ds_id: uuid.UUID, db: DB, actor: Viewer):
    return out(data_sources.get(db, ds_id))


@router.patch("/{ds_id}", summary="Update Data Source", response_model=DataSourceResponse)
def update_data_source(ds_id: uuid.UUID, body: DataSourceUpdate, db: DB, actor: Owner):
    ds = data_sources.get(db, ds_id)
    return out(data_sources.update(db, actor, ds, body.model_dump(exclude_unset=True)))


@router.delete("/{ds_id}", summary="Delete Data Source", status_code=204)
def delete_data_source(ds_id: uuid.UUID, db: DB, actor: Owner) -> Response:
    data_sources.delete(db, actor, data_sources.get(db, ds_id))
    return Response(status_code=204)


@router.get("/{ds_id}/stats", summary="Get Data Source Stats", response_model=DataSourceStats)
def get_data_source_stats(ds_id: uuid.UUID, db: DB, actor: Viewer,
                          window_hours: Annotated[int, Query(ge=1, le=720)] = 48):
    return data_source_stats(db, data_sources.get(db, ds_id), window_hours)


@router.get("/{ds_id}/schema", summary="Get Data Source Schema", response_model=DataSourceSchemaResponse,
            response_model_by_alias=True)
def get_data_source_schema(ds_id: uuid.UUID, db: DB, actor: Viewer):
    tables = data_sources.schema(data_sources.get(db, ds_id))
    return DataSourceSchemaResponse(tables=[
        TableOut(name=t.name, schema_name=t.schema,
                 columns=[ColumnOut(name=c.name, type=c.type, nullable=c.nullable) for c in t.columns])
        for t in tables])


@router.post("/{ds_id}/test", summary="Test Data Source Connection", response_model=DataSourceTestResponse)
def test_data_source_connection(ds_id: uuid.UUID, db: DB, actor: Owner):
    ds = data_sources.get(db, ds_id)
    ok, message, tested_at = data_sources.test_connection(db, actor, ds)
    return DataSourceTestResponse(success=ok, message=message, tested_at=tested_at, data_source=out(ds))
