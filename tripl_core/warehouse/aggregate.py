"""The scan's one-pass aggregate: everything a scan needs from one chunk of raw events, in one statement.

Per time bucket × event-type value × event name the pass computes, reading the raw rows once:

- `counts`      — rows;
- `breakdowns`  — rows per value of each breakdown column, top-K values per column plus one `is_other` row;
- `app_versions`— rows per app version (top-K, the rest as `is_other`);
- `fields`      — per observed field: rows, present, nulls, and for JSON paths the observed JSON types;
- `histograms`  — per numeric field: rows per bin of fixed edges (for distribution drift).

SQL shape (two levels, the default): `__proj` projects bucket/type/name, one text "dimension" per breakdown, app
version and histogram field, and one value per field (its JSON type, or a column's null flag); `__pre` is a plain
GROUP BY over all of them with COUNT(*) — each per-row expression is evaluated once, the engine may hash and
parallelise it, and it leaves a few thousand rows; `__agg` groups `__pre` by GROUPING SETS (the base key, then base
key + each dimension; PostgreSQL: UNION ALL of plain GROUP BYs, `SqlBuilder.union_grouping_sets`) turning type
counts into present / nulls / type_* sums. When key × all dimensions could blow up (more than
`PREFOLD_MAX_OPEN_DIMS` unbounded dimensions or `PREFOLD_MAX_FIELDS` fields) the one-level shape is kept: `__rows`
with 0/1 field flags grouped by GROUPING SETS directly. Both shapes give the same frames. A final stage ranks each
dimension's values over the whole chunk (window functions on the already aggregated rows) and folds values past
top-K into one `is_other` row. `AggregateQuery.split()` turns the single long result into the frames above with
vectorised pandas. Dialect planner settings for the statement ride in `BuiltQuery.settings`.

Usage (pipelines)::

    spec = AggregateSpec(base_query=cfg.base_query, time_column=cfg.time_column, interval=ScanInterval.m15,
                         start=chunk_start, end=chunk_end, event_type_column=cfg.event_type_column,
                         breakdown_columns=cfg.metric_breakdown_columns, breakdown_top_k=10,
                         fields=["properties.screen", "country"], histograms={"properties.price": edges})
    agg = build_aggregate(adapter.sql, spec)
    result = agg.split(adapter.query_df(agg.query))
    result.counts, result.breakdowns, result.app_versions, result.fields, result.histograms
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlglot import exp

from tripl_core.warehouse.base import ScanInterval
from tripl_core.warehouse.sql import (
    JSON_TYPES,
    BuiltQuery,
    FieldRef,
    SqlBuilder,
    case,
    col,
    func,
    ident,
    lit,
    parse_field_ref,
    parse_name_format,
)

KEY = ("bucket", "event_type", "event_name")


@dataclass
class AggregateSpec:
    """What one pass over [start, end) computes. Field references are `col` or `col.json.path`."""

    base_query: str
    time_column: str
    interval: ScanInterval
    start: datetime | None = None
    end: datetime | None = None
    event_type_column: str | None = None
    event_name_format: str | None = None
    breakdown_columns: list[str] = field(default_factory=list)
    breakdown_top_k: int = 10
    app_version_column: str | None = None
    app_version_top_k: int = 50
    fields: list[str] = field(default_factory=list)
    histograms: dict[str, list[float]] = field(default_factory=dict)
    max_rows: int | None = None
    prefold: bool | None = None  # two-level plan (see PREFOLD_*): None decides by the guard, True/False forces it
    # top-K ranks values per chunk of this length (epoch-aligned, a multiple of `interval`), not over the whole
    # [start, end): one statement over a run's days returns what one statement per chunk would (None: one chunk)
    chunk_interval: ScanInterval | None = None


@dataclass(frozen=True)
class _Dim:
    kind: str  # breakdown | app_version | histogram
    name: str
    top_k: int | None


@dataclass
class AggregateResult:
    counts: pd.DataFrame
    breakdowns: pd.DataFrame
    app_versions: pd.DataFrame
    fields: pd.DataFrame
    histograms: pd.DataFrame


@dataclass
class AggregateQuery:
    query: BuiltQuery
    dims: list[_Dim]
    fields: list[FieldRef]

    def split(self, df: pd.DataFrame) -> AggregateResult:
        """Cut the long result of `query` into per-purpose frames (no per-row Python)."""
        df = df.rename(columns={"__bucket": "bucket", "__event_type": "event_type", "__event_name": "event_name",
                                "__count": "count", "__dim": "value", "__is_other": "is_other"})
        if "is_other" in df:
            df["is_other"] = df["is_other"].fillna(0).astype(bool)
        else:
            df["is_other"] = False
        df["count"] = df["count"].astype("int64")
        base = df[df["__set"] == 0]
        counts = base[list(KEY) + ["count"]].reset_index(drop=True)

        set_ids = np.arange(1, len(self.dims) + 1)
        kinds = pd.Series([d.kind for d in self.dims], index=set_ids)
        names = pd.Series([d.name for d in self.dims], index=set_ids)
        dimmed = df[df["__set"] > 0].assign(kind=lambda f: f["__set"].map(kinds),
                                             column=lambda f: f["__set"].map(names))
        cols = ["column", *KEY, "value", "is_other", "count"]
        breakdowns = dimmed[dimmed["kind"] == "breakdown"][cols].reset_index(drop=True)
        app_versions = (dimmed[dimmed["kind"] == "app_version"][cols[1:]]
                        .rename(columns={"value": "app_version"}).reset_index(drop=True))
        hist = dimmed[dimmed["kind"] == "histogram"]
        histograms = pd.DataFrame({
            "field": hist["column"], **{k: hist[k] for k in KEY},
            "bin": pd.to_numeric(hist["value"], errors="coerce").astype("Int64"), "count": hist["count"],
        }).reset_index(drop=True)

        parts = []
        for j, ref in enumerate(self.fields):
            part = pd.DataFrame({"field": ref.label, **{k: base[k] for k in KEY}, "rows": base["count"],
                                 "present": base[f"__p{j}"].astype("int64"),
                                 "nulls": base[f"__n{j}"].astype("int64")})
            for t in JSON_TYPES:
                name = f"__t{j}_{t}"
                part[f"type_{t}"] = base[name].astype("int64") if name in base else 0
            parts.append(part)
        fields = (pd.concat(parts, ignore_index=True) if parts else
                  pd.DataFrame(columns=["field", *KEY, "rows", "present", "nulls"]))
        return AggregateResult(counts, breakdowns, app_versions, fields, histograms)


# Guard of the two-level plan: the pre-aggregation groups by the key × every dimension × every field's type, so
# its size grows with the product of their cardinalities. Histogram bins and JSON types are bounded (≤ 12, ≤ 7
# values); breakdown and app-version values are not, so past these counts the pass keeps the one-level shape.
PREFOLD_MAX_OPEN_DIMS = 4
PREFOLD_MAX_FIELDS = 24


def _use_prefold(spec: AggregateSpec, open_dims: int, n_fields: int) -> bool:
    if spec.prefold is not None:
        return spec.prefold
    return open_dims <= PREFOLD_MAX_OPEN_DIMS and n_fields <= PREFOLD_MAX_FIELDS


def build_aggregate(sql: SqlBuilder, spec: AggregateSpec) -> AggregateQuery:
    """Build the one-pass statement for `spec` in `sql`'s dialect (see the module docstring)."""
    params: dict[str, Any] = {}
    types: dict[str, str] = {}
    text = sql.as_text

    # __rows / __proj: one projection per key, dimension and field
    etype = text(col(spec.event_type_column)) if spec.event_type_column else text(exp.Null())
    ename = (text(sql.name_expr(parse_name_format(spec.event_name_format)))
             if spec.event_name_format else text(exp.Null()))
    rows: list[exp.Expression] = [sql.time_bucket(col(spec.time_column), spec.interval).as_("__bucket"),
                                  etype.as_("__event_type"), ename.as_("__event_name")]
    dims: list[_Dim] = []
    for ref_s in spec.breakdown_columns:
        ref = parse_field_ref(ref_s, "metric_breakdown_columns")
        rows.append(text(sql.field_expr(ref)).as_(f"__d{len(dims)}"))
        dims.append(_Dim("breakdown", ref.label, max(1, spec.breakdown_top_k)))
    if spec.app_version_column:
        ref = parse_field_ref(spec.app_version_column, "app_version_column")
        rows.append(text(sql.field_expr(ref)).as_(f"__d{len(dims)}"))
        dims.append(_Dim("app_version", ref.label, max(1, spec.app_version_top_k)))
    open_dims = len(dims)
    for ref_s, edges in spec.histograms.items():
        ref = parse_field_ref(ref_s, "distribution_drift_fields")
        rows.append(text(sql.bin_index(sql.as_float(ref), sorted(float(e) for e in edges))).as_(f"__d{len(dims)}"))
        dims.append(_Dim("histogram", ref.label, None))
    refs = [parse_field_ref(f, "json_value_paths") for f in spec.fields]
    prefold = _use_prefold(spec, open_dims, len(refs))
    for j, ref in enumerate(refs):
        present, null, typ = sql.presence(ref)
        if prefold:
            # one per-row value per field (its JSON type, or the column's null flag): the pre-aggregation
            # groups by it, so every JSON expression is evaluated once per row and counted, not summed
            rows.append((typ if typ is not None else null).as_(f"__f{j}"))
        else:
            rows += [present.as_(f"__p{j}_r"), null.as_(f"__n{j}_r")]
            if typ is not None:
                rows.append(typ.as_(f"__t{j}_r"))
    inner = exp.select(*rows).from_(sql.source(spec.base_query))
    cond = sql.window_filter(spec.time_column, spec.start, spec.end, params, types)
    if cond is not None:
        inner = inner.where(cond)

    key = [ident("__bucket"), ident("__event_type"), ident("__event_name")]
    dim_ids = [ident(f"__d{i}") for i in range(len(dims))]
    # Each stage gets its own column names: ClickHouse resolves a SELECT alias before a same-named column.
    measures: list[exp.Expression]
    if prefold:
        # __pre: a plain GROUP BY (parallel and hashed where the engine can) over key × all dimensions × field
        # types; the GROUPING SETS below then run over its few rows instead of over the raw rows.
        fvals = [ident(f"__f{j}") for j in range(len(refs))]
        pre_cols = [*key, *dim_ids, *fvals]
        pre = exp.select(*[c.copy() for c in pre_cols], exp.Count(this=exp.Star()).as_("__n")).from_("__proj")
        pre = pre.group_by(*[c.copy() for c in pre_cols])
        n = ident("__n")

        def counted(cond: exp.Expression) -> exp.Expression:
            return exp.Sum(this=case([(cond, n.copy())], lit(0)))

        measures = [exp.Sum(this=n.copy()).as_("__count_a")]
        for j, ref in enumerate(refs):
            f = fvals[j]
            if ref.is_json:
                measures += [counted(exp.NEQ(this=f.copy(), expression=lit("missing"))).as_(f"__p{j}_a"),
                             counted(exp.In(this=f.copy(), expressions=[lit("missing"), lit("null")]))
                             .as_(f"__n{j}_a")]
                measures += [counted(exp.EQ(this=f.copy(), expression=lit(t))).as_(f"__t{j}_{t}_a")
                             for t in JSON_TYPES]
            else:
                measures += [exp.Sum(this=n.copy()).as_(f"__p{j}_a"),
                             counted(exp.EQ(this=f.copy(), expression=lit(1))).as_(f"__n{j}_a")]
        agg_from = "__pre"
    else:
        measures = [exp.Count(this=exp.Star()).as_("__count_a")]
        for j, ref in enumerate(refs):
            measures += [exp.Sum(this=ident(f"__p{j}_r")).as_(f"__p{j}_a"),
                         exp.Sum(this=ident(f"__n{j}_r")).as_(f"__n{j}_a")]
            if ref.is_json:
                measures += [exp.Sum(this=case([(exp.EQ(this=ident(f"__t{j}_r"), expression=lit(t)), lit(1))],
                                               lit(0))).as_(f"__t{j}_{t}_a") for t in JSON_TYPES]
        agg_from = "__rows"

    # __agg: GROUPING SETS over the base key and base key + each dimension
    set_expr = case([(exp.EQ(this=func("GROUPING", d.copy()), expression=lit(0)), lit(i + 1))
                     for i, d in enumerate(dim_ids)], lit(0)) if dims else lit(0)
    dim_expr = case([(exp.EQ(this=func("GROUPING", d.copy()), expression=lit(0)), d.copy())
                     for d in dim_ids]) if dims else text(exp.Null())
    agg: exp.Query
    if prefold and sql.union_grouping_sets:
        # one plain GROUP BY per set over the (materialised, small) pre-aggregate, see `union_grouping_sets`
        branches = [exp.select(*[k.copy() for k in key], lit(i).as_("__set"),
                               (d.copy() if d is not None else text(exp.Null())).as_("__dim"),
                               *[m.copy() for m in measures]).from_(agg_from)
                    .group_by(*[k.copy() for k in key], *([d.copy()] if d is not None else []))
                    for i, d in enumerate([None, *dim_ids])]
        agg = branches[0]
        for b in branches[1:]:
            agg = exp.union(agg, b, distinct=False)
    else:
        agg = exp.select(*[k.copy() for k in key], set_expr.as_("__set"), dim_expr.as_("__dim"),
                         *measures).from_(agg_from)
        sets: list[exp.Expression] = [exp.Tuple(expressions=[k.copy() for k in key])]
        sets += [exp.Tuple(expressions=[*[k.copy() for k in key], d.copy()]) for d in dim_ids]
        agg.set("group", exp.Group(expressions=[exp.GroupingSets(expressions=sets)]) if dims else
                exp.Group(expressions=[k.copy() for k in key]))

    agg_names = [m.alias for m in measures]
    carried = [ident(n) for n in ("__bucket", "__event_type", "__event_name", "__set", *agg_names)]
    topk = [(i + 1, d.top_k) for i, d in enumerate(dims) if d.top_k is not None]
    other: exp.Expression = (exp.or_(*[exp.and_(exp.EQ(this=ident("__set"), expression=lit(s)),
                                                exp.GT(this=ident("__rank"), expression=lit(k)))
                                       for s, k in topk]) if topk else exp.false())
    # ranks are per chunk: the chunk of a bucket is the bucket floored to the chunk length (both epoch-aligned)
    chunk = ([sql.time_bucket(ident("__bucket"), spec.chunk_interval)]
             if spec.chunk_interval is not None and spec.chunk_interval.seconds > spec.interval.seconds else
             [ident("__bucket")] if spec.chunk_interval is not None else [])
    tot = exp.select(*[c.copy() for c in carried], ident("__dim"),
                     exp.Window(this=exp.Sum(this=ident("__count_a")),
                                partition_by=[ident("__set"), ident("__dim"), *[c.copy() for c in chunk]])
                     .as_("__dim_total")).from_("__agg")
    rank = exp.Window(this=func("DENSE_RANK"), partition_by=[ident("__set"), *[c.copy() for c in chunk]],
                      order=exp.Order(expressions=[
        exp.Ordered(this=ident("__dim_total"), desc=True), exp.Ordered(this=ident("__dim"), nulls_first=True)]))
    ranked = exp.select(*[c.copy() for c in carried], ident("__dim"), rank.as_("__rank")).from_("__tot")
    folded = exp.select(*[c.copy() for c in carried], case([(other, exp.Null())], ident("__dim")).as_("__value"),
                        case([(other.copy(), lit(1))], lit(0)).as_("__other")).from_(ranked.subquery("__r"))
    final = (exp.select(*[k.copy() for k in key], ident("__set"), exp.alias_(ident("__value"), "__dim"),
                        exp.alias_(ident("__other"), "__is_other"),
                        *[exp.Sum(this=ident(n)).as_(n[:-2]) for n in agg_names])
             .from_("__folded")
             .group_by(*[k.copy() for k in key], ident("__set"), ident("__value"), ident("__other")))
    tree = (final.with_("__proj", as_=inner).with_("__pre", as_=pre) if prefold else
            final.with_("__rows", as_=inner))
    tree = tree.with_("__agg", as_=agg).with_("__tot", as_=tot).with_("__folded", as_=folded)
    return AggregateQuery(BuiltQuery(sql.render(tree), params, types, max_rows=spec.max_rows,
                                     settings=sql.aggregate_settings() if prefold else {}), dims, refs)
