"""Build the per-dialect allow-lists of functions a user's `base_query` may call.

    .venv/bin/python tools/warehouse_functions.py        # rewrites tripl_core/warehouse/functions/*.json

The lists come from the engines' own catalogues, filtered by rules that say why a function is unsafe:

- PostgreSQL: `pg_proc` of the embedded server (pgserver, PostgreSQL 16), schema `pg_catalog` only. A name is
  allowed when *every* overload is a plain function or aggregate/window (no procedure), immutable or stable (a
  volatile function may change state; a few harmless volatile ones are listed in PG_VOLATILE_OK), takes and returns
  no pseudo-type of the executor (`internal`, `trigger`, handlers), is not an admin function (`pg_*`, `lo_*`,
  `binary_upgrade_*`, …) and does not take SQL text or a table by name (`ts_stat`, `ts_rewrite`, `query_to_xml*`,
  `table_to_xml*`, `cursor_to_xml*`, `dblink*`, …).
- ClickHouse: `system.functions` of chdb (aliases included when their target is). Whole categories are out
  (Dictionary, Embedded Dictionary, Internal, Introspection, Machine Learning, AI, Time Series, Other — the
  latter holds the server/session/file functions: `file`, `getSetting`, `joinGet`, `sleep`, `hostName`, …;
  CH_OTHER_OK lists the harmless ones kept). Table functions (`system.table_functions`: `file`, `url`, `s3`,
  `remote`, `mysql`, `view`, …) are refused except the generators in CH_TABLE_FUNCTIONS_OK.
- BigQuery: no catalogue is queryable without a project, so BIGQUERY_DOCUMENTED transcribes the documented
  function list (https://cloud.google.com/bigquery/docs/reference/standard-sql/functions-and-operators), without
  `EXTERNAL_QUERY`, `EXTERNAL_OBJECT_TRANSFORM`, `ML.*`/`AI.*`/`VECTOR_SEARCH`, `APPENDS`/`CHANGES` and the
  `KEYS.*`/`AEAD.*` key functions.

Names are stored lowercase (PostgreSQL folds, BigQuery ignores case; ClickHouse is case-sensitive, but a wrong case
is the engine's error, not a way around the list).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tripl_core" / "warehouse" / "functions"

# --- PostgreSQL --------------------------------------------------------------------------------------------------

PG_VOLATILE_OK = {"random", "random_normal", "gen_random_uuid", "clock_timestamp", "timeofday"}
PG_ALLOWED_PREFIXED = {"pg_typeof", "pg_column_size"}
PG_EXCLUDED_PREFIXES = ("pg_", "lo_", "binary_upgrade_", "dblink", "brin_", "gin_", "txid_", "inet_client",
                        "inet_server", "has_", "current_setting", "set_config", "row_security_active")
# Functions that run SQL given as text, read a table/cursor named by a string, or reveal server settings/paths.
PG_EXCLUDED = {
    "ts_stat", "ts_rewrite", "query_to_xml", "query_to_xml_and_xmlschema", "query_to_xmlschema", "cursor_to_xml",
    "cursor_to_xmlschema", "table_to_xml", "table_to_xml_and_xmlschema", "table_to_xmlschema", "schema_to_xml",
    "schema_to_xml_and_xmlschema", "schema_to_xmlschema", "database_to_xml", "database_to_xml_and_xmlschema",
    "database_to_xmlschema", "currval", "nextval", "setval", "lastval", "setseed", "current_schemas",
    "obj_description", "col_description", "shobj_description", "to_regclass", "to_regproc", "to_regprocedure",
    "to_regoper", "to_regoperator", "to_regtype", "to_regtypemod", "to_regrole", "to_regnamespace",
    "to_regcollation", "to_regconfig", "to_regdictionary", "format_type", "satisfies_hash_partition",
    "acldefault", "aclexplode", "makeaclitem", "aclitemin", "aclitemout", "aclcontains", "aclinsert", "aclremove",
    "version", "xmlexists", "xpath", "xpath_exists",
}
PG_BAD_TYPES = {"internal", "trigger", "event_trigger", "language_handler", "fdw_handler", "index_am_handler",
                "tsm_handler", "table_am_handler", "cstring"}

PG_CATALOG_SQL = """
select p.proname, p.prokind, p.provolatile,
       array(select format_type(t, null) from unnest(p.proargtypes::oid[] || p.prorettype) t) as types
from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where n.nspname = 'pg_catalog'
"""


def postgres_functions() -> tuple[list[str], str]:
    import pgserver
    import psycopg

    with tempfile.TemporaryDirectory() as tmp:
        server = pgserver.get_server(tmp, cleanup_mode="stop")
        try:
            with psycopg.connect(server.get_uri()) as conn:
                version = conn.execute("show server_version").fetchone()[0]
                rows = conn.execute(PG_CATALOG_SQL).fetchall()
        finally:
            server.cleanup()
    bad: set[str] = set()
    names: set[str] = set()
    for name, kind, volatile, types in rows:
        names.add(name)
        if (kind == "p" or (volatile == "v" and name not in PG_VOLATILE_OK) or set(types) & PG_BAD_TYPES
                or name in PG_EXCLUDED
                or (name.startswith(PG_EXCLUDED_PREFIXES) and name not in PG_ALLOWED_PREFIXED)):
            bad.add(name)
    return sorted(names - bad), f"pg_proc of PostgreSQL {version} (pgserver)"


# --- ClickHouse --------------------------------------------------------------------------------------------------

CH_EXCLUDED_CATEGORIES = {"Dictionary", "Embedded Dictionary", "Internal", "Introspection", "Machine Learning", "AI",
                          "Time Series", "Other"}
CH_OTHER_OK = {
    "bar", "byteSize", "countDigits", "finalizeAggregation", "formatReadableDecimalSize", "formatReadableQuantity",
    "formatReadableSize", "formatReadableTimeDelta", "identity", "ignore", "indexHint", "initializeAggregation",
    "isConstant", "isDecimalOverflow", "materialize", "neighbor", "parseReadableSize", "parseReadableSizeOrNull",
    "parseReadableSizeOrZero", "parseTimeDelta", "parseISO8601Duration", "runningAccumulate", "runningDifference",
    "runningDifferenceStartingWithFirstValue", "throwIf", "toColumnTypeName", "toTypeName", "transform",
    "variantElement", "variantType", "visibleWidth", "MACNumToString", "MACStringToNum", "MACStringToOUI",
    "minSampleSizeContinuous", "minSampleSizeConversion", "defaultValueOfArgumentType", "defaultValueOfTypeName",
    "getSizeOfEnumType", "getSubcolumn", "flipCoordinates", "digits", "blockSize", "rowNumberInBlock",
    "rowNumberInAllBlocks", "blockNumber",
}
CH_EXCLUDED = {"file", "getSetting", "getSettingOrDefault", "sleep", "sleepEachRow", "hasColumnInTable",
               "generateRandomStructure", "formatQuery", "formatQueryOrNull", "formatQuerySingleLine",
               "formatQuerySingleLineOrNull", "parseQueryToJSON", "normalizeQuery", "evalMLMethod"}
CH_TABLE_FUNCTIONS_OK = ["numbers", "numbers_mt", "zeros", "zeros_mt", "generate_series", "generateSeries", "values",
                         "null", "primes"]


def clickhouse_functions() -> tuple[list[str], list[str], str]:
    import chdb

    def rows(sql: str) -> list[list[str]]:
        text = chdb.query(sql, "TSV").bytes().decode()
        return [line.split("\t") for line in text.splitlines() if line]

    version = rows("SELECT version()")[0][0]
    funcs = rows("SELECT name, alias_to, categories FROM system.functions")
    allowed: set[str] = set()
    for name, alias_to, category in funcs:
        if alias_to or name in CH_EXCLUDED or name.startswith("_"):
            continue
        if category in CH_EXCLUDED_CATEGORIES and name not in CH_OTHER_OK:
            continue
        if category == "" and name not in CH_OTHER_OK:  # uncategorised: not documented, not allowed
            continue
        allowed.add(name)
    allowed |= {name for name, alias_to, _ in funcs if alias_to and alias_to in allowed}
    combinators = [r[0] for r in rows("SELECT name FROM system.aggregate_function_combinators")]
    names = sorted({n.lower() for n in allowed})
    return names, sorted(c.lower() for c in combinators), f"system.functions of ClickHouse {version} (chdb)"


# --- BigQuery ----------------------------------------------------------------------------------------------------

BIGQUERY_DOCUMENTED = """
# aggregate
ANY_VALUE ARRAY_AGG ARRAY_CONCAT_AGG AVG BIT_AND BIT_OR BIT_XOR COUNT COUNTIF GROUPING LOGICAL_AND LOGICAL_OR MAX
MAX_BY MIN MIN_BY STRING_AGG SUM
# approximate aggregate, HLL
APPROX_COUNT_DISTINCT APPROX_QUANTILES APPROX_TOP_COUNT APPROX_TOP_SUM HLL_COUNT.EXTRACT HLL_COUNT.INIT
HLL_COUNT.MERGE HLL_COUNT.MERGE_PARTIAL
# statistical aggregate
CORR COVAR_POP COVAR_SAMP STDDEV STDDEV_POP STDDEV_SAMP VAR_POP VAR_SAMP VARIANCE
# navigation, numbering
FIRST_VALUE LAST_VALUE NTH_VALUE LEAD LAG PERCENTILE_CONT PERCENTILE_DISC CUME_DIST DENSE_RANK NTILE PERCENT_RANK
RANK ROW_NUMBER
# array
ARRAY ARRAY_CONCAT ARRAY_FIRST ARRAY_LAST ARRAY_LENGTH ARRAY_REVERSE ARRAY_SLICE ARRAY_TO_STRING GENERATE_ARRAY
GENERATE_DATE_ARRAY GENERATE_TIMESTAMP_ARRAY ARRAY_INCLUDES ARRAY_INCLUDES_ALL ARRAY_INCLUDES_ANY ARRAY_FILTER
ARRAY_TRANSFORM ARRAY_IS_DISTINCT UNNEST OFFSET ORDINAL SAFE_OFFSET SAFE_ORDINAL
# bit, conversion
BIT_COUNT CAST SAFE_CAST PARSE_BIGNUMERIC PARSE_NUMERIC BOOL FLOAT64 INT64 STRING LAX_BOOL LAX_FLOAT64 LAX_INT64
LAX_STRING
# date, datetime, time, timestamp, interval
CURRENT_DATE DATE DATE_ADD DATE_DIFF DATE_FROM_UNIX_DATE DATE_SUB DATE_TRUNC DATE_BUCKET EXTRACT FORMAT_DATE
LAST_DAY PARSE_DATE UNIX_DATE CURRENT_DATETIME DATETIME DATETIME_ADD DATETIME_DIFF DATETIME_SUB DATETIME_TRUNC
DATETIME_BUCKET FORMAT_DATETIME PARSE_DATETIME CURRENT_TIME TIME TIME_ADD TIME_DIFF TIME_SUB TIME_TRUNC FORMAT_TIME
PARSE_TIME CURRENT_TIMESTAMP FORMAT_TIMESTAMP PARSE_TIMESTAMP STRING TIMESTAMP TIMESTAMP_ADD TIMESTAMP_DIFF
TIMESTAMP_MICROS TIMESTAMP_MILLIS TIMESTAMP_SECONDS TIMESTAMP_SUB TIMESTAMP_TRUNC TIMESTAMP_BUCKET UNIX_MICROS
UNIX_MILLIS UNIX_SECONDS GENERATE_RANGE_ARRAY RANGE RANGE_CONTAINS RANGE_END RANGE_INTERSECT RANGE_OVERLAPS
RANGE_SESSIONIZE RANGE_START JUSTIFY_DAYS JUSTIFY_HOURS JUSTIFY_INTERVAL MAKE_INTERVAL
# hash, encoding, uuid
FARM_FINGERPRINT MD5 SHA1 SHA256 SHA512 GENERATE_UUID FROM_BASE32 FROM_BASE64 FROM_HEX TO_BASE32 TO_BASE64 TO_HEX
# json
BOOL JSON_ARRAY JSON_ARRAY_APPEND JSON_ARRAY_INSERT JSON_EXTRACT JSON_EXTRACT_ARRAY JSON_EXTRACT_SCALAR
JSON_EXTRACT_STRING_ARRAY JSON_KEYS JSON_OBJECT JSON_QUERY JSON_QUERY_ARRAY JSON_REMOVE JSON_SET JSON_STRIP_NULLS
JSON_TYPE JSON_VALUE JSON_VALUE_ARRAY LAX_BOOL LAX_DOUBLE LAX_INT64 LAX_STRING PARSE_JSON TO_JSON TO_JSON_STRING
DOUBLE
# math
ABS ACOS ACOSH ASIN ASINH ATAN ATAN2 ATANH CBRT CEIL CEILING COS COSH COSINE_DISTANCE COT COTH CSC CSCH DIV EXP
EUCLIDEAN_DISTANCE FLOOR GREATEST IEEE_DIVIDE IS_INF IS_NAN LEAST LN LOG LOG10 MOD POW POWER RAND RANGE_BUCKET
ROUND SAFE_ADD SAFE_DIVIDE SAFE_MULTIPLY SAFE_NEGATE SAFE_SUBTRACT SEC SECH SIGN SIN SINH SQRT TAN TANH TRUNC
# net
NET.HOST NET.IP_FROM_STRING NET.IP_NET_MASK NET.IP_TO_STRING NET.IP_TRUNC NET.IPV4_FROM_INT64 NET.IPV4_TO_INT64
NET.PUBLIC_SUFFIX NET.REG_DOMAIN NET.SAFE_IP_FROM_STRING
# string
ASCII BYTE_LENGTH CHAR_LENGTH CHARACTER_LENGTH CHR CODE_POINTS_TO_BYTES CODE_POINTS_TO_STRING COLLATE CONCAT
CONTAINS_SUBSTR EDIT_DISTANCE ENDS_WITH FORMAT INITCAP INSTR LEFT LENGTH LOWER LPAD LTRIM NORMALIZE
NORMALIZE_AND_CASEFOLD OCTET_LENGTH REGEXP_CONTAINS REGEXP_EXTRACT REGEXP_EXTRACT_ALL REGEXP_INSTR REGEXP_REPLACE
REGEXP_SUBSTR REPEAT REPLACE REVERSE RIGHT RPAD RTRIM SAFE_CONVERT_BYTES_TO_STRING SOUNDEX SPLIT STARTS_WITH STRPOS
SUBSTR SUBSTRING TO_CODE_POINTS TRANSLATE TRIM UNICODE UPPER
# conditional
COALESCE IF IFNULL NULLIF NULLIFZERO ZEROIFNULL IIF ERROR
# geography (the common ones)
ST_AREA ST_ASBINARY ST_ASGEOJSON ST_ASTEXT ST_BOUNDARY ST_BUFFER ST_CENTROID ST_CONTAINS ST_COVEREDBY ST_COVERS
ST_DIFFERENCE ST_DIMENSION ST_DISJOINT ST_DISTANCE ST_DWITHIN ST_EQUALS ST_GEOGFROM ST_GEOGFROMGEOJSON
ST_GEOGFROMTEXT ST_GEOGFROMWKB ST_GEOGPOINT ST_GEOGPOINTFROMGEOHASH ST_GEOHASH ST_INTERSECTION ST_INTERSECTS
ST_ISEMPTY ST_LENGTH ST_MAKELINE ST_MAKEPOLYGON ST_NPOINTS ST_PERIMETER ST_SIMPLIFY ST_UNION ST_UNION_AGG ST_WITHIN
ST_X ST_Y
# security, session (read-only facts)
SESSION_USER
"""


def bigquery_functions() -> tuple[list[str], str]:
    words = re.findall(r"[A-Z0-9_.]+", "\n".join(line for line in BIGQUERY_DOCUMENTED.splitlines()
                                                   if not line.startswith("#")))
    return sorted({w.lower() for w in words}), \
        "documented list: cloud.google.com/bigquery/docs/reference/standard-sql/functions-and-operators"


def write(dialect: str, source: str, functions: list[str], **more: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    doc = {"dialect": dialect, "source": source, "generated_by": "tools/warehouse_functions.py",
           "functions": functions, **more}
    (OUT / f"{dialect}.json").write_text(json.dumps(doc, indent=0) + "\n")
    print(f"{dialect}: {len(functions)} functions from {source}")


def main() -> None:
    names, source = postgres_functions()
    write("postgres", source, names)
    names, combinators, source = clickhouse_functions()
    write("clickhouse", source, names, aggregate_combinators=combinators,
          table_functions=sorted(n.lower() for n in CH_TABLE_FUNCTIONS_OK))
    names, source = bigquery_functions()
    write("bigquery", source, names, table_functions=["unnest"])


if __name__ == "__main__":
    main()
