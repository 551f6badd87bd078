"""The scan aggregate's two plans (pre-aggregated two-level, and the one-level fallback of the guard) give the same
frames on both engines, and the cheap per-dialect JSON forms keep the portable semantics."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pandas as pd
import pytest

from tests.warehouse.conftest import START
from tripl_core.warehouse import BuiltQuery, ScanInterval
from tripl_core.warehouse.aggregate import PREFOLD_MAX_OPEN_DIMS, AggregateSpec, build_aggregate

ADAPTERS = ["ch_adapter", "pg_adapter"]


@pytest.fixture(params=ADAPTERS)
def adapter(request):
    return request.getfixturevalue(request.param)


def spec(**kw) -> AggregateSpec:
    base = dict(base_query="SELECT * FROM events", time_column="ts", interval=ScanInterval.h1, start=START,
                end=START + timedelta(hours=8), event_type_column="event", event_name_format="{event}:{props.screen}",
                breakdown_columns=["country", "props.screen"], breakdown_top_k=2, app_version_column="app_version",
                fields=["amount", "country", "props.opt", "props.maybe", "props.nested", "props.nested.flag",
                        "props.price", "props.absent"],
                histograms={"amount": [10, 25], "props.price": [20, 50, 80]})
    base.update(kw)
    return AggregateSpec(**base)


def frames(adapter, s: AggregateSpec) -> dict[str, pd.DataFrame]:
    agg = build_aggregate(adapter.sql, s)
    res = agg.split(adapter.query_df(agg.query))
    out = {}
    for name in ("counts", "breakdowns", "app_versions", "fields", "histograms"):
        df = getattr(res, name).copy()
        df["bucket"] = pd.to_datetime(df["bucket"], utc=True)
        keys = [c for c in df.columns if c not in ("count", "rows", "present", "nulls") and not c.startswith("type_")]
        out[name] = df.astype({c: object for c in keys if df[c].dtype != "datetime64[ns, UTC]"}).sort_values(
            keys, key=lambda s: s.astype(str)).reset_index(drop=True)
    return out


def test_two_level_and_one_level_plans_agree(adapter):
    two = frames(adapter, spec(prefold=True))
    one = frames(adapter, spec(prefold=False))
    for name in two:
        assert len(two[name]) > 0, name
        pd.testing.assert_frame_equal(two[name], one[name][two[name].columns], check_dtype=False, obj=name)
    fields = two["fields"].groupby("field")[["rows", "present", "nulls", "type_object", "type_boolean"]].sum()
    assert int(fields.loc["props.nested", "type_object"]) == int(fields.loc["props.nested", "rows"])
    assert int(fields.loc["props.nested.flag", "type_boolean"]) == int(fields.loc["props.nested.flag", "rows"])
    assert int(fields.loc["props.absent", "present"]) == 0
    assert int(fields.loc["props.absent", "nulls"]) == int(fields.loc["props.absent", "rows"])
    assert int(fields.loc["country", "present"]) == int(fields.loc["country", "rows"])


def test_guard_keeps_the_one_level_plan_for_many_open_dimensions(adapter):
    many = spec(breakdown_columns=["country", "props.screen", "event", "props.price", "props.opt"][
        :PREFOLD_MAX_OPEN_DIMS], app_version_column="app_version")
    assert "__pre" not in build_aggregate(adapter.sql, many).query.sql
    assert "__pre" in build_aggregate(adapter.sql, spec()).query.sql
    two = frames(adapter, dataclasses.replace(many, prefold=True))
    one = frames(adapter, many)
    for name in two:
        pd.testing.assert_frame_equal(two[name], one[name][two[name].columns], check_dtype=False, obj=name)


def test_postgres_aggregate_hashes_instead_of_sorting_to_disk(pg_adapter):
    """The settings ride with the statement (this transaction only) and the plan has no Sort below the
    pre-aggregate."""
    agg = build_aggregate(pg_adapter.sql, spec())
    assert agg.query.settings.get("enable_sort") == "off"
    plan = pg_adapter.query_df(dataclasses.replace(agg.query, sql="EXPLAIN " + agg.query.sql, max_rows=1000))
    text = "\n".join(plan.iloc[:, 0])
    pre = text[text.index("CTE __pre"):]
    assert "HashAggregate" in pre.splitlines()[1]
    after = pg_adapter.query_df(BuiltQuery("SELECT current_setting('enable_sort') AS s", max_rows=1))
    assert after["s"].iloc[0] == "on"


def test_clickhouse_json_forms_parse_once_and_keep_semantics(ch_adapter):
    sql = ch_adapter.sql
    from tripl_core.warehouse.sql import col, parse_field_ref

    doc = json.dumps({"s": "a\"b\u00e9", "n": 1.5, "z": None, "o": {"k": [1, 2], "t": "x"}, "b": False,
                      "u": "héllo wörld"}, ensure_ascii=False)
    refs = ["d.s", "d.n", "d.z", "d.o", "d.o.k", "d.o.t", "d.b", "d.missing", "d.o.missing", "d.u"]
    cols = []
    for i, r in enumerate(refs):
        ref = parse_field_ref(r, "test")
        present, null, typ = sql.presence(ref)
        cols += [sql.render(sql.json_text(col(ref.column), ref.keys)) + f" AS t{i}",
                 sql.render(typ) + f" AS y{i}", sql.render(null) + f" AS n{i}"]
    q = BuiltQuery(f"SELECT {', '.join(cols)} FROM (SELECT {{doc:String}} AS d)", {"doc": doc}, max_rows=1)
    row = ch_adapter.query_df(q).iloc[0]
    got = [(None if pd.isna(row[f"t{i}"]) else row[f"t{i}"], row[f"y{i}"], int(row[f"n{i}"]))
           for i in range(len(refs))]
    assert got == [('a"bé', "string", 0), ("1.5", "number", 0), (None, "null", 1),
                   ('{"k":[1,2],"t":"x"}', "object", 0), ("[1,2]", "array", 0), ("x", "string", 0),
                   ("false", "boolean", 0), (None, "missing", 1), (None, "missing", 1),
                   ("héllo wörld", "string", 0)]
