"""BigQuery through google-cloud-bigquery.

Connection values: `host` is the GCP project (or `extra_params.project`), `database_name` the default dataset;
`extra_params`: `location`, `credentials_json` (service-account JSON, string or object; write-only),
`api_endpoint` (override, e.g. an emulator or test server; without credentials it connects anonymously).
Every query is dry-run first (it must be a SELECT and fit `maximum_bytes_billed`), then run with
`maximum_bytes_billed` and a job timeout; BigQuery has no read-only session, so the parser check in
`safety.py` plus the dry run's statement type are the guard.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlglot import exp

from tripl_core import pinning
from tripl_core.warehouse.base import (
    ColumnInfo,
    ConnectionConfig,
    TableInfo,
    WarehouseError,
    WarehouseUnavailable,
)
from tripl_core.warehouse.roles import Privileges
from tripl_core.warehouse.sql import BuiltQuery, SqlBuilder, func, lit
from tripl_core.warehouse.util import check_outbound, scrub_message

_BQ_TYPES = {"timestamp": "TIMESTAMP", "int": "INT64", "float": "FLOAT64", "string": "STRING"}
# GCP project ids (with an optional `domain:` prefix) and dataset names; they are spliced into table paths.
NAME_RE = re.compile(r"^[A-Za-z0-9_.:\-]+$")
NAME_RULE = "may contain letters, digits, '_', '-', '.' and ':' only"


class BigQuerySql(SqlBuilder):
    dialect = "bigquery"

    def time_bucket(self, expr: exp.Expression, interval: Any) -> exp.Expression:
        seconds = lit(interval.seconds)
        return func("TIMESTAMP_SECONDS", exp.Mul(this=func("DIV", func("UNIX_SECONDS", expr), seconds),
                                                 expression=seconds.copy()))

    @staticmethod
    def _path(keys: tuple[str, ...]) -> exp.Expression:
        return lit("$." + ".".join(keys))

    def json_raw(self, column: exp.Expression, keys: tuple[str, ...]) -> exp.Expression:
        return func("JSON_QUERY", column, self._path(keys))

    def json_text(self, column: exp.Expression, keys: tuple[str, ...]) -> exp.Expression:
        return func("JSON_VALUE", column, self._path(keys))


def _guarded_http(creds: Any) -> Any:
    """The client's HTTP session when tripl holds the credentials: every request — the API endpoint (an
    `api_endpoint` override is the owner's) and the OAuth token refresh (`token_uri` comes from the
    service-account JSON, also the owner's) — is checked by the outbound policy and sent to the checked address
    (`pinning.GuardedAdapter`). None (Application Default Credentials of the host): google-auth's own session."""
    if creds is None:
        return None
    from google.auth.transport.requests import AuthorizedSession, Request

    return pinning.session(base=AuthorizedSession, credentials=creds,
                           auth_request=Request(session=pinning.session()))


class BigQueryAdapter:
    """A BigQuery project/dataset."""

    def __init__(self, config: ConnectionConfig):
        self.config = config
        self.sql = BigQuerySql()
        self._client: Any = None
        extra = config.extra_params or {}
        self.project = str(extra.get("project") or config.host)
        self.dataset = config.database
        if not NAME_RE.match(self.project) or not NAME_RE.match(self.dataset):
            raise WarehouseUnavailable(f"BigQuery project and dataset {NAME_RULE}.")

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        extra = self.config.extra_params or {}
        check_outbound(self.config)
        creds: Any = None
        raw = extra.get("credentials_json") or extra.get("service_account_json") or extra.get("credentials")
        try:
            if raw:
                from google.oauth2 import service_account

                info = raw if isinstance(raw, dict) else json.loads(raw)
                creds = service_account.Credentials.from_service_account_info(info)
            elif extra.get("api_endpoint"):
                creds = AnonymousCredentials()
            options = ClientOptions(api_endpoint=extra["api_endpoint"]) if extra.get("api_endpoint") else None
            return bigquery.Client(project=self.project, credentials=creds, location=extra.get("location"),
                                   client_options=options, _http=_guarded_http(creds))
        except Exception as exc:
            raise WarehouseUnavailable(scrub_message(exc, self.config)) from exc

    def _job_config(self, query: BuiltQuery, dry_run: bool) -> Any:
        from google.cloud import bigquery

        params = [bigquery.ScalarQueryParameter(name, _BQ_TYPES[query.types.get(name, "string")], value)
                  for name, value in (query.params or {}).items()]
        cfg = bigquery.QueryJobConfig(query_parameters=params, dry_run=dry_run, use_query_cache=not dry_run,
                                      default_dataset=f"{self.project}.{self.dataset}")
        if self.config.maximum_bytes_billed:
            cfg.maximum_bytes_billed = self.config.maximum_bytes_billed
        if not dry_run:
            cfg.job_timeout_ms = self.config.timeout_seconds * 1000
        return cfg

    def _job(self, query: BuiltQuery) -> Any:
        """Dry run (statement type, bytes), then the real job; returns the finished job."""
        try:
            dry = self.client.query(query.sql, job_config=self._job_config(query, True),
                                    timeout=self.config.timeout_seconds)
            if dry.statement_type and dry.statement_type != "SELECT":
                raise WarehouseError(f"Only SELECT queries may run; this is {dry.statement_type}.")
            cap = self.config.maximum_bytes_billed
            if cap and (dry.total_bytes_processed or 0) > cap:
                raise WarehouseError(f"The query would process {dry.total_bytes_processed} bytes, more than "
                                     f"maximum_bytes_billed ({cap}).")
            return self.client.query(query.sql, job_config=self._job_config(query, False),
                                     timeout=self.config.timeout_seconds)
        except WarehouseError:
            raise
        except Exception as exc:
            message = scrub_message(exc, self.config)
            if any(s in message for s in ("Connection", "401", "403 ", "Unauthorized", "credentials",
                                          "outbound call refused")):
                raise WarehouseUnavailable(message) from exc
            raise WarehouseError(message) from exc

    def _rows(self, query: BuiltQuery) -> Any:
        job = self._job(query)
        cap = query.max_rows if query.max_rows is not None else self.config.max_result_rows
        try:
            rows = job.result(timeout=self.config.timeout_seconds)
            if rows.total_rows is not None and rows.total_rows > cap:
                raise WarehouseError(f"The result has more than {cap} rows (the row cap).")
            return rows
        except WarehouseError:
            raise
        except Exception as exc:
            raise WarehouseError(scrub_message(exc, self.config)) from exc

    def query_arrow(self, query: BuiltQuery) -> pa.Table:
        rows = self._rows(query)
        try:
            return rows.to_arrow(create_bqstorage_client=False)
        except Exception as exc:
            raise WarehouseError(scrub_message(exc, self.config)) from exc

    def query_df(self, query: BuiltQuery) -> pd.DataFrame:
        return self.query_arrow(query).to_pandas()

    def test_connection(self) -> str:
        self.query_df(BuiltQuery("SELECT 1 AS ok", max_rows=1))
        return f"Connected to BigQuery project {self.project}, dataset {self.dataset}."

    def privileges(self) -> Privileges:
        """IAM roles are not visible through SQL; what keeps BigQuery read-only is that every job is dry-run first
        and refused unless it is a SELECT (and bounded by maximum_bytes_billed)."""
        creds = getattr(self.client, "_credentials", None)
        who = getattr(creds, "service_account_email", None) or "anonymous"
        return Privileges(role=str(who), note="BigQuery roles are not visible through SQL; tripl runs only jobs "
                          "whose dry run is a SELECT (grant roles/bigquery.dataViewer and jobUser only)")

    def list_schema(self) -> list[TableInfo]:
        table = f"`{self.project}.{self.dataset}.INFORMATION_SCHEMA.COLUMNS`"
        df = self.query_df(BuiltQuery(
            f"SELECT table_name, column_name, data_type, is_nullable FROM {table} "
            "ORDER BY table_name, ordinal_position", max_rows=self.config.max_result_rows))
        return [TableInfo(name=str(t), schema=self.dataset, columns=[
            ColumnInfo(c, ty, n == "YES") for c, ty, n in zip(g["column_name"], g["data_type"], g["is_nullable"],
                                                              strict=True)])
            for t, g in df.groupby("table_name", sort=True)]

    def probe(self, base_query: str) -> list[ColumnInfo]:
        """A dry run reveals the output schema without reading data (and costs nothing)."""
        query = self.sql.probe(base_query)
        try:
            dry = self.client.query(query.sql, job_config=self._job_config(query, True),
                                    timeout=self.config.timeout_seconds)
        except Exception as exc:
            message = scrub_message(exc, self.config)
            raise (WarehouseUnavailable if "Connection" in message else WarehouseError)(message) from exc
        return [ColumnInfo(f.name, f.field_type, f.mode != "REQUIRED") for f in (dry.schema or [])]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None
