"""What every warehouse adapter shares: connection config, errors, result shapes, the adapter protocol.

Adapters differ only in their client and their SQL dialect; everything a caller needs is on
`WarehouseAdapter`, so the API (previews, probes) and the pipelines (aggregate passes) never branch on engine.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

# Re-exported: it lives in `intervals` so that `sql` can use it without importing this module (a cycle).
from tripl_core.warehouse.intervals import ScanInterval as ScanInterval

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from tripl_core.warehouse.roles import Privileges
    from tripl_core.warehouse.sql import BuiltQuery, SqlBuilder


class DBType(enum.StrEnum):
    clickhouse = "clickhouse"
    postgres = "postgres"
    bigquery = "bigquery"


# Keys of extra_params that hold credentials: stored encrypted, never returned (responses list them as `<key>_set`).
SECRET_EXTRA_KEYS = frozenset({
    "credentials", "credentials_json", "service_account_json", "service_account", "private_key", "password",
    "token", "access_token", "secret", "api_key", "client_secret", "sslkey", "sslpassword",
})


def is_secret_key(key: str) -> bool:
    low = key.lower()
    return low in SECRET_EXTRA_KEYS or any(m in low for m in ("password", "secret", "token", "private_key",
                                                                "credentials"))


@dataclass(frozen=True)
class ConnectionConfig:
    """Plain connection parameters (secrets already decrypted); built from a DataSource row or by hand."""

    db_type: DBType
    host: str
    database: str
    port: int = 8123
    username: str = ""
    password: str = ""
    timeout_seconds: int = 30
    extra_params: dict[str, Any] = field(default_factory=dict)
    max_result_rows: int = 1_000_000
    maximum_bytes_billed: int | None = None

    @property
    def is_chdb(self) -> bool:
        return self.db_type == DBType.clickhouse and self.host.startswith("chdb:")


class WarehouseError(Exception):
    """The warehouse refused or failed a query; the message is the driver's, with secrets removed."""


class WarehouseUnavailable(WarehouseError):
    """Cannot connect or authenticate (host down, wrong password): the source is not reachable now."""


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    nullable: bool | None = None


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: list[ColumnInfo]
    schema: str | None = None


@runtime_checkable
class WarehouseAdapter(Protocol):
    """One warehouse connection. Thread-safe for sequential use; cheap to create except chdb (cached).

    Every query runs read-only with the source's timeout and row cap. Results are pandas frames (or arrow
    tables) built by the driver in bulk, never row by row.
    """

    config: ConnectionConfig
    sql: SqlBuilder

    def test_connection(self) -> str:
        """Round-trip to the server; return a human message (server version). Raises WarehouseUnavailable."""
        ...

    def list_schema(self) -> list[TableInfo]:
        """Tables of the configured database with their columns and types."""
        ...

    def privileges(self) -> Privileges:
        """What the connecting role may do (superuser, writes): Test Data Source Connection refuses a role that
        can write. Raises WarehouseError when the warehouse cannot be asked."""
        ...

    def probe(self, base_query: str) -> list[ColumnInfo]:
        """Output columns of a (validated) base query, from a zero-row execution or a dry run."""
        ...

    def query_df(self, query: BuiltQuery) -> pd.DataFrame:
        """Run a built query read-only and return a frame."""
        ...

    def query_arrow(self, query: BuiltQuery) -> pa.Table:
        """Run a built query read-only and return an arrow table."""
        ...

    def close(self) -> None:
        ...
