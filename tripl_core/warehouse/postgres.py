"""PostgreSQL through psycopg 3: each call opens a read-only session with statement_timeout and UTC time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
from sqlglot import exp

from tripl_core.warehouse.base import (
    ColumnInfo,
    ConnectionConfig,
    TableInfo,
    WarehouseError,
    WarehouseUnavailable,
)
from tripl_core.warehouse.roles import POSTGRES_PRIVILEGES_SQL, Privileges
from tripl_core.warehouse.sql import SRC, BuiltQuery, FieldRef, SqlBuilder, case, col, func, lit
from tripl_core.warehouse.util import check_outbound, scrub_message

_CONNECT_SQLSTATES = ("08", "28", "3D")  # connection exceptions, invalid authorization, unknown database


def _bind(params: dict[str, Any] | None) -> dict[str, Any]:
    """Datetimes go as untyped ISO text with +00 so PostgreSQL reads them as the compared column's own type;
    a typed `timestamp` parameter against a `timestamptz` column costs a conversion per row."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if isinstance(value, datetime):
            value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
        out[key] = value
    return out


class PostgresSql(SqlBuilder):
    dialect = "postgres"
    # GROUPING SETS are never parallel, and hashed only when the (over-)estimated groups fit in work_mem; the
    # pre-aggregate, read once per set, is materialised once (a few thousand rows) and each set hashes it.
    union_grouping_sets = True

    def time_bucket(self, expr: exp.Expression, interval: Any) -> exp.Expression:
        # date_bin with untyped literals resolves to the column's own type (timestamp or timestamptz).
        return func("date_bin", lit(f"{interval.seconds} seconds"), expr, lit("1970-01-01 00:00:00"))

    def json_raw(self, column: exp.Expression, keys: tuple[str, ...]) -> exp.Expression:
        doc = exp.Cast(this=column, to=exp.DataType.build("jsonb"))
        return exp.Cast(this=func("jsonb_extract_path", doc, *[lit(k) for k in keys]),
                        to=exp.DataType.build("text"))

    def json_text(self, column: exp.Expression, keys: tuple[str, ...]) -> exp.Expression:
        doc = exp.Cast(this=column, to=exp.DataType.build("jsonb"))
        if len(keys) == 1:  # `->>`
            return func("jsonb_object_field_text", doc, lit(keys[0]))
        return func("jsonb_extract_path_text", doc, *[lit(k) for k in keys])

    # Added by the pipelines (scan_overhead bench): the portable forms classify JSON by re-serialising the value
    # to text a dozen times per row; jsonb_typeof on the extracted node is one cheap call (~10x faster scans).
    def _node(self, ref: FieldRef) -> exp.Expression:
        doc = exp.Cast(this=col(ref.column), to=exp.DataType.build("jsonb"))
        if len(ref.keys) == 1:  # the function behind `->`: no path array to take apart on every row
            return func("jsonb_object_field", doc, lit(ref.keys[0]))
        return func("jsonb_extract_path", doc, *[lit(k) for k in ref.keys])

    def presence(self, ref: FieldRef) -> tuple[exp.Expression, exp.Expression, exp.Expression | None]:
        if not ref.is_json:
            return super().presence(ref)
        typ = exp.Coalesce(this=func("jsonb_typeof", self._node(ref)), expressions=[lit("missing")])
        present = case([(exp.Is(this=self._node(ref), expression=exp.Null()), lit(0))], lit(1))
        null = case([(exp.In(this=typ.copy(), expressions=[lit("missing"), lit("null")]), lit(1))], lit(0))
        return present, null, typ

    def as_float(self, ref: FieldRef) -> exp.Expression:
        if not ref.is_json:
            return super().as_float(ref)
        number = exp.EQ(this=func("jsonb_typeof", self._node(ref)), expression=lit("number"))
        return case([(number, exp.Cast(this=self.json_text(col(ref.column), ref.keys),
                                       to=exp.DataType.build("double")))])

    def bin_index(self, value: exp.Expression, edges: list[float]) -> exp.Expression:
        """width_bucket over the sorted edges: same bins as the portable CASE, with one evaluation per row."""
        array = exp.Cast(this=exp.Array(expressions=[lit(float(e)) for e in edges]),
                         to=exp.DataType.build("double precision[]", dialect="postgres"))
        return func("width_bucket", value, array)

    # The portable md5(ts::text || type || json::text) serialises every JSON document of the window (~1 µs/row);
    # hashing the time's epoch (and the type for ties) is ~20x cheaper. int4 hashes span [-2^31, 2^31).
    def _epoch_hash(self, time_column: str) -> exp.Expression:
        return func("hashfloat8", func("date_part", lit("epoch"), col(time_column)))

    def sample_keys(self, time_column: str, parts: list[str]) -> list[exp.Expression]:
        keys = [self._epoch_hash(time_column)]
        keys += [func("hashtext", exp.Coalesce(this=self.as_text(col(c)), expressions=[lit("")]))
                 for c in parts if c != time_column][:1]
        # ties (same second and type) are broken by the whole row's text, so every statement — one chunk, or a
        # run's days ranked per chunk — picks the same rows; computed only for the rows the pre-filter keeps
        keys.append(func("hashtext", exp.Cast(this=col(SRC), to=exp.DataType.build("text"))))
        return keys

    def sample_prefilter(self, time_column: str, parts: list[str], fraction: float) -> exp.Expression | None:
        threshold = -2**31 + int(min(1.0, fraction) * 2**32)
        return exp.LT(this=self._epoch_hash(time_column), expression=lit(threshold))

    def aggregate_settings(self) -> dict[str, str]:
        """The planner estimates GROUP BY time-bucket × … as one group per row (a bucket expression inherits the
        time column's ndistinct), so it sorts millions of rows to disk (~10x slower than hashing the few thousand
        real groups). Without sorts it hashes; hash aggregation still spills to disk if the groups do not fit.

        The same over-estimate makes a parallel plan look useless (no partial aggregation pays when every row is
        its own group), so the per-row work — JSON field lookups, bucketing — ran in one process. With a free
        Gather the scan and the expressions run in the server's parallel workers (up to its own
        max_parallel_workers_per_gather; 0 keeps it serial) and the leader hashes: 1.7x faster on 2 cores."""
        return {"enable_sort": "off", "work_mem": "64MB", "parallel_setup_cost": "0", "parallel_tuple_cost": "0"}

    def render(self, tree: exp.Expression) -> str:
        """psycopg reads `%` as a placeholder marker: double it in literals and identifiers, use mod() for `%`."""

        def escape(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Literal) and node.is_string and "%" in node.this and not _time_format(node):
                return exp.Literal.string(node.this.replace("%", "%%"))
            if isinstance(node, exp.Identifier) and "%" in node.this:
                return exp.Identifier(this=node.this.replace("%", "%%"), quoted=node.args.get("quoted"))
            if isinstance(node, exp.Mod):
                return func("mod", node.this, node.expression)
            if isinstance(node, exp.CTE) and node.alias == "__rows" and isinstance(node.this, exp.Select) \
                    and not node.this.args.get("offset"):
                # OFFSET 0 keeps PostgreSQL from inlining the per-row projection into the aggregate, which
                # would evaluate each JSON expression once per reference instead of once per row.
                return exp.CTE(this=node.this.offset(0), alias=node.args.get("alias"))
            return node

        return tree.copy().transform(escape).sql(dialect=self.dialect, comments=False)


def _time_format(node: exp.Expression) -> bool:
    """A date/time format argument (`to_char(ts, 'YYYY')`): sqlglot keeps it as strftime text ('%Y') and renders
    it back as PostgreSQL's ('YYYY'), so its `%` are not in the SQL sent and must not be doubled (a doubled one
    rendered as '%YYYY')."""
    return node.arg_key == "format" and isinstance(node.parent, exp.Func)


class PostgresAdapter:
    """A PostgreSQL warehouse (also works for the embedded server's `warehouse` database)."""

    def __init__(self, config: ConnectionConfig):
        self.config = config
        self.sql = PostgresSql()

    def _connect(self) -> psycopg.Connection:
        cfg = self.config
        extra = {k: v for k, v in (cfg.extra_params or {}).items()
                 if k in ("sslmode", "sslrootcert", "sslcert", "sslkey", "application_name")}
        timeout_ms = max(1, cfg.timeout_seconds) * 1000
        checked = check_outbound(cfg)  # before every connection (DNS answers change)
        # libpq connects to the checked address and keeps the name for TLS and .pgpass (no DNS rebinding); for a
        # multi-host list one address per host, an empty one where libpq must use the host itself (a Unix-socket
        # directory, a name that did not resolve here)
        addresses = [checked.get(h.strip(), "") for h in cfg.host.split(",")]
        if any(addresses):
            extra["hostaddr"] = ",".join(addresses)
        try:
            conn = psycopg.connect(
                host=cfg.host, port=cfg.port, dbname=cfg.database, user=cfg.username or None,
                password=cfg.password or None, connect_timeout=max(1, min(cfg.timeout_seconds, 30)),
                options=f"-c statement_timeout={timeout_ms} -c default_transaction_read_only=on -c TimeZone=UTC",
                **extra,
            )
        except psycopg.Error as exc:
            raise WarehouseUnavailable(scrub_message(exc, cfg)) from exc
        conn.read_only = True
        return conn

    def _execute(self, query: BuiltQuery) -> tuple[list[Any], list[tuple[Any, ...]], psycopg.Connection]:
        cap = query.max_rows if query.max_rows is not None else self.config.max_result_rows
        conn = self._connect()
        try:
            for name, value in (query.settings or {}).items():  # SET LOCAL: this statement's transaction only
                conn.execute("SELECT set_config(%s, %s, true)", (name, value))
            cur = conn.execute(query.sql, _bind(query.params))
            desc = list(cur.description or [])
            rows = cur.fetchmany(cap + 1) if desc else []
            if len(rows) > cap:
                raise WarehouseError(f"The result has more than {cap} rows (the row cap).")
            return desc, rows, conn
        except psycopg.Error as exc:
            conn.close()
            message = scrub_message(exc, self.config)
            if (exc.sqlstate or "").startswith(_CONNECT_SQLSTATES):
                raise WarehouseUnavailable(message) from exc
            raise WarehouseError(message) from exc
        except Exception:
            conn.close()
            raise

    def query_df(self, query: BuiltQuery) -> pd.DataFrame:
        desc, rows, conn = self._execute(query)
        conn.close()
        return pd.DataFrame.from_records(rows, columns=[d.name for d in desc])

    def query_arrow(self, query: BuiltQuery) -> pa.Table:
        return pa.Table.from_pandas(self.query_df(query), preserve_index=False)

    def test_connection(self) -> str:
        df = self.query_df(BuiltQuery("SELECT version() AS v", max_rows=1))
        version = str(df["v"].iloc[0]).split(" on ")[0]
        return f"Connected to {version} at {self.config.host}:{self.config.port}, database {self.config.database}."

    def privileges(self) -> Privileges:
        df = self.query_df(BuiltQuery(POSTGRES_PRIVILEGES_SQL, max_rows=1))
        if df.empty:
            return Privileges(role=self.config.username, verified=False, note="the role is not in pg_roles")
        row = df.iloc[0]
        return Privileges(role=str(row["role"]), superuser=bool(row["superuser"]), writes=list(row["writes"]))

    def list_schema(self) -> list[TableInfo]:
        q = BuiltQuery(
            "SELECT table_schema, table_name, column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg_toast%%' "
            "ORDER BY table_schema, table_name, ordinal_position", max_rows=self.config.max_result_rows)
        df = self.query_df(q)
        out = []
        for (schema, table), g in df.groupby(["table_schema", "table_name"], sort=True):
            name = table if schema == "public" else f"{schema}.{table}"
            out.append(TableInfo(name=str(name), schema=str(schema), columns=[
                ColumnInfo(c, t, n == "YES") for c, t, n in zip(g["column_name"], g["data_type"], g["is_nullable"],
                                                                strict=True)]))
        return out

    def probe(self, base_query: str) -> list[ColumnInfo]:
        desc, _, conn = self._execute(self.sql.probe(base_query))
        try:
            out = []
            for d in desc:
                info = conn.adapters.types.get(d.type_code)
                out.append(ColumnInfo(d.name, info.name if info else f"oid:{d.type_code}"))
            return out
        finally:
            conn.close()

    def close(self) -> None:
        """Connections are per call; nothing to release."""
