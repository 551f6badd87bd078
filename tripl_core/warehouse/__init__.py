"""Warehouse adapters behind one protocol: ClickHouse (HTTP or embedded chdb), PostgreSQL, BigQuery.

`connect(config)` returns the adapter for a `ConnectionConfig`; `tripl_core.sources.adapter_for(source)` builds
one from a stored data source. Query shapes live in `sql.SqlBuilder` (per dialect: `adapter.sql`) and the
one-pass scan aggregate in `aggregate`.
"""

from __future__ import annotations

from tripl_core.warehouse.base import (
    ColumnInfo,
    ConnectionConfig,
    DBType,
    ScanInterval,
    TableInfo,
    WarehouseAdapter,
    WarehouseError,
    WarehouseUnavailable,
)
from tripl_core.warehouse.sql import BuiltQuery, FieldRef, parse_field_ref

__all__ = [
    "BuiltQuery", "ColumnInfo", "ConnectionConfig", "DBType", "FieldRef", "ScanInterval", "TableInfo",
    "WarehouseAdapter", "WarehouseError", "WarehouseUnavailable", "connect", "dialect_for", "parse_field_ref",
]

_DIALECTS = {DBType.clickhouse: "clickhouse", DBType.postgres: "postgres", DBType.bigquery: "bigquery"}


def dialect_for(db_type: DBType | str) -> str:
    """The sqlglot dialect of a source type."""
    return _DIALECTS[DBType(db_type)]


def connect(config: ConnectionConfig) -> WarehouseAdapter:
    """The adapter for `config` (no network round-trip until the first query)."""
    if config.db_type == DBType.clickhouse:
        from tripl_core.warehouse.clickhouse import ClickHouseAdapter

        return ClickHouseAdapter(config)
    if config.db_type == DBType.postgres:
        from tripl_core.warehouse.postgres import PostgresAdapter

        return PostgresAdapter(config)
    from tripl_core.warehouse.bigquery import BigQueryAdapter

    return BigQueryAdapter(config)
