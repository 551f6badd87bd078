"""Step 1 (`warehouse_aggregates`): read one window of a scan config from the warehouse.

Per chunk of `replay_chunk_interval` (never shorter than the bucket interval) two statements run:
- the one-pass aggregate of `tripl_core.warehouse.aggregate` (counts per bucket × event-type value × event name,
  top-K breakdowns, app versions, field presence / nulls / JSON types for declared fields and json_value_paths,
  histograms for distribution_drift_fields);
- a random sample of at most `scan_row_limit / chunks` rows (default 10,000 per window) that finds new fields,
  observed types and contract breaches (enum, regex, min/max), estimated as rates of the sample.
The frames are stored in `scan_stages` (Parquet) for the next steps. The warehouse's own error (WarehouseError)
propagates unchanged: nothing is written when a chunk fails.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlglot import exp

from tripl_core.db.models.scans import ScanStage, ScanState
from tripl_core.db.models.sources import ScanConfig
from tripl_core.scanning.planmap import PlanIndex
from tripl_core.sources.data_sources import adapter_for
from tripl_core.warehouse import ScanInterval, WarehouseAdapter
from tripl_core.warehouse.aggregate import AggregateQuery, AggregateResult, AggregateSpec, build_aggregate
from tripl_core.warehouse.sql import (
    BuiltQuery,
    col,
    func,
    ident,
    lit,
    parse_field_ref,
    parse_name_format,
    utc_naive,
)

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_ROWS = 10_000
DEFAULT_BREAKDOWN_TOP_K = 10
HISTOGRAM_BINS = 10
CATEGORY_TOP_K = 50
FRAMES = ("counts", "breakdowns", "app_versions", "fields", "histograms", "sample_fields", "name_fields",
          "variables")
_JSON_TYPES = {str: "string", int: "number", float: "number", bool: "boolean", dict: "object", list: "array"}


@dataclass
class FieldPlan:
    """Which fields the pass observes and how their warehouse labels map to plan field names."""

    refs: list[str]  # `col` or `col.json.path`, for the aggregate
    json_columns: list[str]  # columns holding JSON documents (fields inside them are discovered from samples)
    skip_columns: set[str] = field(default_factory=set)  # infrastructure columns, never "fields"

    def field_name(self, label: str) -> str:
        """`properties.screen_name` → `screen_name` (the path inside the JSON column); plain columns as they are."""
        for jc in self.json_columns:
            if label.startswith(jc + "."):
                return label[len(jc) + 1:]
        return label


def field_plan(cfg: ScanConfig, plan: PlanIndex) -> FieldPlan:
    """Declared fields (of the config's event type, or of all types) located in the base query's output."""
    probed = {c["name"]: str(c.get("type", "")).lower() for c in (cfg.probed_columns or [])}
    json_cols: list[str] = []
    for ref in cfg.json_value_paths or []:
        column = parse_field_ref(ref, "json_value_paths").column
        if column not in json_cols:
            json_cols.append(column)
    json_cols += [c for c, t in probed.items() if "json" in t and c not in json_cols]
    refs: list[str] = list(dict.fromkeys(cfg.json_value_paths or []))
    type_ids = [cfg.event_type_id] if (cfg.event_type_id and not cfg.event_type_column) else list(plan.fields)
    for tid in type_ids:
        for fd in plan.fields.get(tid, []):
            if fd.name in probed:
                ref = fd.name
            elif json_cols:
                ref = f"{json_cols[0]}.{fd.name}"
            else:
                continue
            try:
                parse_field_ref(ref, "fields")
            except Exception:  # a plan field name that cannot be a column / JSON key is simply not observed
                continue
            if ref not in refs:
                refs.append(ref)
    declared = {fd.name for tid in type_ids for fd in plan.fields.get(tid, [])}
    skip = {c for c in (cfg.time_column, cfg.event_type_column) if c} | set(json_cols)
    skip |= infrastructure_columns(cfg) - declared  # a plain column the plan declares stays a field
    return FieldPlan(refs, json_cols, skip)


def infrastructure_columns(cfg: ScanConfig) -> set[str]:
    """Plain (non-JSON) output columns tripl itself reads: the columns of `event_name_format`, the event type,
    time and app version columns and the breakdowns. They describe the row, not the event, so they are never
    reported as `new_field` drifts (JSON paths are left alone: a key inside a JSON column is a field)."""
    refs: list[str] = [c for c in (cfg.time_column, cfg.event_type_column, cfg.app_version_column) if c]
    refs += list(cfg.metric_breakdown_columns or [])
    out: set[str] = set()
    for ref in refs:
        try:
            parsed = parse_field_ref(ref, "column")
        except Exception:  # noqa: BLE001 — an unparsable ref is not a column of the output
            continue
        if not parsed.is_json:
            out.add(parsed.column)
    if cfg.event_name_format:
        try:
            parts = parse_name_format(cfg.event_name_format)
        except Exception:  # noqa: BLE001 — a bad format is reported by verification, not here
            parts = []
        out |= {p.column for p in parts if not isinstance(p, str) and not p.is_json}
    return out


def variable_refs(plan: PlanIndex, fp: FieldPlan, cfg: ScanConfig) -> dict[str, uuid.UUID]:
    """Warehouse label of each plan variable's source (column or JSON key) → variable id."""
    probed = {c["name"] for c in (cfg.probed_columns or [])}
    out: dict[str, uuid.UUID] = {}
    for v in plan.variables:
        src = v.source_name or v.name
        ref = src if (src in probed or "." in src or not fp.json_columns) else f"{fp.json_columns[0]}.{src}"
        try:
            out[parse_field_ref(ref, "source_name").label] = v.id
        except Exception:  # a source that cannot be a column or JSON path is not observed
            continue
    return out


def chunks(start: datetime, end: datetime, cfg: ScanConfig) -> list[tuple[datetime, datetime]]:
    """[start, end) cut at multiples of max(replay_chunk_interval, interval) (aligned to the epoch)."""
    step = max(ScanInterval(cfg.replay_chunk_interval).seconds, ScanInterval(cfg.interval).seconds)
    out = []
    cur = start
    while cur < end:
        nxt_ts = (math.floor(cur.timestamp() / step) + 1) * step
        nxt = min(end, datetime.fromtimestamp(nxt_ts, tz=start.tzinfo))
        out.append((cur, nxt))
        cur = nxt
    return out


Window = tuple[datetime, datetime]


def _sample_columns(sql, cfg: ScanConfig, fp: FieldPlan) -> tuple[exp.Expression, exp.Expression, list[str]]:
    """The sample's event type and event name expressions, and the columns its row hash covers."""
    etype = sql.as_text(col(cfg.event_type_column)) if cfg.event_type_column else exp.Null()
    ename = (sql.as_text(sql.name_expr(parse_name_format(cfg.event_name_format)))
             if cfg.event_name_format else exp.Null())
    parts = [c for c in dict.fromkeys([cfg.time_column, cfg.event_type_column, *fp.json_columns]) if c]
    return etype, ename, parts


def _sample_condition(sql, cfg: ScanConfig, start: datetime, end: datetime, parts: list[str],
                      fraction: float | None, params: dict, types: dict) -> exp.Expression | None:
    """The sample's window filter, and the hash pre-filter that keeps about `fraction` of the rows."""
    cond = sql.window_filter(cfg.time_column, start, end, params, types)
    if fraction is not None and fraction < 1:
        pre = sql.sample_prefilter(cfg.time_column, parts, fraction)
        if pre is not None:
            cond = pre if cond is None else exp.and_(cond, pre)
    return cond


def _sample_query(adapter: WarehouseAdapter, cfg: ScanConfig, start: datetime, end: datetime,
                  limit: int, fp: FieldPlan, fraction: float | None = None) -> BuiltQuery:
    """Up to `limit` rows of the chunk, chosen by a hash of their content: spread over the chunk like a random
    sample, but the same rows every time, so re-scanning a window gives identical observations.

    With `fraction` (about 2 × limit / rows of the chunk), rows whose hash is above the matching quantile are
    dropped while the engine scans, so only ~2 × limit rows are sorted instead of the whole window; the k smallest
    hashes pass that filter, so the rows returned are the same (`read_window` re-runs without it in the
    unlikely case that fewer than `limit` rows passed)."""
    sql = adapter.sql
    params: dict = {}
    types: dict = {}
    etype, ename, parts = _sample_columns(sql, cfg, fp)
    tree = exp.select(exp.Star(), sql.time_bucket(col(cfg.time_column), ScanInterval(cfg.interval)).as_("__bucket"),
                      etype.as_("__event_type"), ename.as_("__event_name")).from_(sql.source(cfg.base_query))
    cond = _sample_condition(sql, cfg, start, end, parts, fraction, params, types)
    if cond is not None:
        tree = tree.where(cond)
    tree = tree.order_by(*sql.sample_keys(cfg.time_column, parts)).limit(lit(int(limit)))
    return BuiltQuery(sql.render(tree), params, types, max_rows=limit)


def _read_sample(adapter: WarehouseAdapter, cfg: ScanConfig, start: datetime, end: datetime, limit: int,
                 fp: FieldPlan, rows: int | None = None) -> pd.DataFrame:
    """The chunk's sample, pre-filtered by hash with the chunk's row count: known from the aggregate, or (before
    the first aggregate of a config) counted here, which costs far less than sorting every row of the chunk."""
    probe = adapter.sql.sample_prefilter(cfg.time_column, [cfg.time_column], 0.5)
    if rows is None and probe is not None:
        params: dict = {}
        types: dict = {}
        tree = exp.select(exp.Count(this=exp.Star()).as_("n")).from_(adapter.sql.source(cfg.base_query))
        cond = adapter.sql.window_filter(cfg.time_column, start, end, params, types)
        if cond is not None:
            tree = tree.where(cond)
        counted = adapter.query_df(BuiltQuery(adapter.sql.render(tree), params, types, max_rows=1))
        rows = int(counted["n"].iloc[0]) if len(counted) else None
    if rows == 0:
        return pd.DataFrame()
    fraction = None if rows is None else (2 * limit + 100) / rows
    samples = adapter.query_df(_sample_query(adapter, cfg, start, end, limit, fp, fraction))
    if fraction is not None and fraction < 1 and len(samples) < min(limit, rows or 0):
        samples = adapter.query_df(_sample_query(adapter, cfg, start, end, limit, fp))
    return samples


def _chunked_sample_query(adapter: WarehouseAdapter, cfg: ScanConfig, start: datetime, end: datetime, limit: int,
                          step: ScanInterval, fp: FieldPlan, fraction: float | None = None,
                          max_rows: int | None = None) -> BuiltQuery:
    """`_sample_query` for many chunks in one statement: rows numbered per chunk in the same hash order
    (`__rn`), at most `limit` per chunk; the caller keeps each chunk's own first n."""
    sql = adapter.sql
    params: dict = {}
    types: dict = {}
    etype, ename, parts = _sample_columns(sql, cfg, fp)
    rank = exp.Window(this=func("ROW_NUMBER"), partition_by=[sql.time_bucket(col(cfg.time_column), step)],
                      order=exp.Order(expressions=[exp.Ordered(this=k) for k in sql.sample_keys(cfg.time_column,
                                                                                                 parts)]))
    inner = exp.select(exp.Star(), sql.time_bucket(col(cfg.time_column), ScanInterval(cfg.interval))
                       .as_("__bucket"), etype.as_("__event_type"), ename.as_("__event_name"),
                       rank.as_("__rn")).from_(sql.source(cfg.base_query))
    cond = _sample_condition(sql, cfg, start, end, parts, fraction, params, types)
    if cond is not None:
        inner = inner.where(cond)
    tree = (exp.select(exp.Star()).from_(inner.subquery("__ranked"))
            .where(exp.LTE(this=ident("__rn"), expression=lit(int(limit)))))
    return BuiltQuery(sql.render(tree), params, types, max_rows=max_rows)


def _read_chunked_sample(adapter: WarehouseAdapter, cfg: ScanConfig,
                         batch: list[tuple[datetime, datetime, int, int]], step: ScanInterval, fp: FieldPlan,
                         counts: pd.DataFrame) -> pd.DataFrame:
    """The samples of every chunk of `batch` in one statement, each the rows `_read_sample` picks for the chunk
    alone (its first n by hash), in chunk order then hash order. The hash pre-filter is sized by the sparsest
    chunk (row counts from the aggregate); if a chunk still comes up short it re-runs unfiltered."""
    freq = f"{step.seconds}s"
    # keyed like the rows below: by the epoch-aligned step holding the chunk (`chunks` cuts at those multiples, so
    # one chunk per step). A window starting off the grid (a scheduled run's watermark − lookback) has a first
    # chunk starting mid-step; keyed by its own start, its rows matched no chunk and were all dropped.
    limits = {pd.Timestamp(c_start).tz_convert("UTC").floor(freq): n for c_start, _, n, _ in batch}
    per_chunk = (_utc(counts["bucket"]).dt.floor(freq).to_frame("chunk").assign(n=counts["count"].to_numpy())
                 .groupby("chunk")["n"].sum()) if len(counts) else pd.Series(dtype="int64")
    if per_chunk.sum() == 0:
        return pd.DataFrame()
    want = {c: min(limits.get(c, 0), int(n)) for c, n in per_chunk.items()}
    fraction = max((2 * limits.get(c, 0) + 100) / n for c, n in per_chunk.items() if n > 0)
    limit = max(limits.values())
    start, end = batch[0][0], batch[-1][1]
    max_rows = limit * len(batch)

    def run(frac: float | None) -> pd.DataFrame:
        df = adapter.query_df(_chunked_sample_query(adapter, cfg, start, end, limit, step, fp, frac, max_rows))
        if df.empty:
            return df
        chunk = _utc(df["__bucket"]).dt.floor(freq)
        keep = df["__rn"].astype("int64").to_numpy() <= chunk.map(limits).fillna(0).astype("int64").to_numpy()
        df = df[keep].assign(__chunk=chunk[keep]).sort_values(["__chunk", "__rn"], kind="stable")
        return df

    samples = run(fraction if fraction < 1 else None)
    if fraction < 1:
        got = samples.groupby("__chunk").size() if len(samples) else pd.Series(dtype="int64")
        if any(int(got.get(c, 0)) < n for c, n in want.items()):
            samples = run(None)
    return samples.drop(columns=["__chunk", "__rn"]).reset_index(drop=True) if len(samples) else samples


def _utc(series: pd.Series) -> pd.Series:
    s = pd.to_datetime(series, utc=True)
    return s.dt.as_unit("us")


def _flatten(samples: pd.DataFrame, fp: FieldPlan) -> pd.DataFrame:
    """Sample rows → one column per field label (JSON documents flattened to `col.key.key`)."""
    keys = samples[["__bucket", "__event_type", "__event_name"]].reset_index(drop=True)
    parts = [keys]
    for jc in fp.json_columns:
        if jc not in samples:
            continue
        docs = [json.loads(v) if isinstance(v, str | bytes) and v else v for v in samples[jc]]
        docs = [v if isinstance(v, dict) else {} for v in docs]
        nested = any(isinstance(x, dict) for d in docs for x in d.values())
        # flat documents (the usual case) need no recursive flattening: same frame, a fraction of the time
        flat = pd.json_normalize(docs, sep=".") if nested else pd.DataFrame(docs, index=range(len(docs)))
        flat.columns = [f"{jc}.{c}" for c in flat.columns]
        parts.append(flat)
    plain = [c for c in samples.columns if not c.startswith("__") and c not in fp.skip_columns]
    parts.append(samples[plain].reset_index(drop=True))
    return pd.concat(parts, axis=1)


def _value_type(values: pd.Series) -> pd.Series:
    types = _JSON_TYPES
    return pd.Series([types.get(type(v)) or ("number" if isinstance(v, int | float | np.number) else "string")
                      for v in values], index=values.index, dtype=object)


def profile_samples(samples: pd.DataFrame, fp: FieldPlan, plan: PlanIndex,
                    cfg: ScanConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per bucket × event-type value × field: sampled rows, present, types, breaches, a sample value; and the
    fields seen per (event type, name) for shadow candidates. Vectorised per field, never per row."""
    sample_cols = ["bucket", "event_type", "field", "sampled_rows", "present", "type_counts", "enum_breaches",
                   "regex_breaches", "range_breaches", "sample_value"]
    if samples.empty:
        return pd.DataFrame(columns=sample_cols), pd.DataFrame(columns=["event_type", "event_name", "field", "type"])
    flat = _flatten(samples, fp)
    flat["__bucket"] = _utc(flat["__bucket"])
    key = ["__bucket", "__event_type"]
    field_cols = [c for c in flat.columns if not c.startswith("__")]
    sizes = flat.groupby(key, dropna=False).size().rename("sampled_rows").reset_index()
    long = flat.melt(id_vars=["__bucket", "__event_type", "__event_name"], value_vars=field_cols,
                     var_name="field", value_name="value")
    values = long["value"].to_numpy(dtype=object)
    present = np.fromiter((not (v is None or (isinstance(v, float) and math.isnan(v))) for v in values),
                          dtype=bool, count=len(values))
    long = long[present].copy()
    values = values[present]
    long["type"] = _value_type(long["value"])
    long["text"] = [json.dumps(v) if isinstance(v, dict | list) else str(v) for v in values]
    long["num"] = pd.to_numeric(long["value"].where(long["type"] == "number"), errors="coerce")

    # contract breaches: one vectorised check per declared field with a contract
    long["enum_bad"] = False
    long["regex_bad"] = False
    long["range_bad"] = False
    type_ids = dict(zip(plan.types["type_name"], plan.types["event_type_id"], strict=True))
    for tid, fdefs in plan.fields.items():
        if cfg.event_type_column:
            tname = plan.type_name(tid)
            in_type = long["__event_type"] == tname
        else:
            in_type = pd.Series(tid == cfg.event_type_id, index=long.index)
        for fd in fdefs:
            labels = {fd.name} | {f"{jc}.{fd.name}" for jc in fp.json_columns}
            m = in_type & long["field"].isin(labels)
            if not m.any():
                continue
            if fd.enum_options:
                long.loc[m, "enum_bad"] = ~long.loc[m, "text"].isin([str(o) for o in fd.enum_options])
            if fd.contract_regex:
                try:
                    ok = long.loc[m, "text"].str.contains(fd.contract_regex, regex=True, na=False)
                    long.loc[m, "regex_bad"] = ~ok
                except Exception:  # an invalid stored regex breaches nothing rather than failing the scan
                    log.info("contract regex of field %s is not valid", fd.id)
            if fd.contract_min_value is not None or fd.contract_max_value is not None:
                num = long.loc[m, "num"]
                bad = pd.Series(False, index=num.index)
                if fd.contract_min_value is not None:
                    bad |= num < fd.contract_min_value
                if fd.contract_max_value is not None:
                    bad |= num > fd.contract_max_value
                long.loc[m, "range_bad"] = bad
    del type_ids

    grouped = long.groupby([*key, "field"], dropna=False)
    stats = grouped.agg(present=("value", "size"), enum_breaches=("enum_bad", "sum"),
                        regex_breaches=("regex_bad", "sum"), range_breaches=("range_bad", "sum"),
                        sample_value=("text", "first")).reset_index()
    tc = long.groupby([*key, "field", "type"], dropna=False).size().rename("n").reset_index()
    tc["pair"] = list(zip(tc["type"], tc["n"], strict=True))
    tmap = tc.groupby([*key, "field"], dropna=False)["pair"].agg(lambda p: {t: int(n) for t, n in p}).reset_index()
    stats = stats.merge(tmap.rename(columns={"pair": "type_counts"}), on=[*key, "field"], how="left")
    stats = stats.merge(sizes, on=key, how="left")
    stats = stats.rename(columns={"__bucket": "bucket", "__event_type": "event_type"})
    names = (long.groupby(["__event_type", "__event_name", "field"], dropna=False)["type"]
             .agg(lambda t: t.value_counts().index[0]).reset_index()
             .rename(columns={"__event_type": "event_type", "__event_name": "event_name"}))
    return stats[sample_cols], names


def _edges_frozen(db: Session, cfg: ScanConfig) -> bool:
    """Whether every distribution drift field already has its bins (then the sample no longer decides them)."""
    fields = cfg.distribution_drift_fields or []
    if not fields:
        return True
    current = db.execute(select(ScanState.histogram_edges).where(ScanState.scan_config_id == cfg.id)).first()
    return current is not None and all(f in (current[0] or {}) for f in fields)


def _decide_histograms(db: Session, cfg: ScanConfig, samples: pd.DataFrame) -> dict[str, dict]:
    """Numeric drift fields get quantile bin edges from the first sample that has values; text fields are
    treated as categories. The choice is frozen in scan_states so every window uses the same bins.

    Concurrent runs of one config (parallel Dagster partitions) race here: the state row is created idempotently
    and locked (FOR UPDATE, held to the run's commit), so the second run waits and reuses the first run's edges.
    The lock is taken only while some drift field still needs edges; once all are frozen, reads do not block."""
    fields = cfg.distribution_drift_fields or []
    current = db.execute(select(ScanState.histogram_edges).where(ScanState.scan_config_id == cfg.id)).first()
    if current is not None and all(f in (current[0] or {}) for f in fields):
        return dict(current[0] or {})
    state = lock_state(db, cfg.id)
    known = dict(state.histogram_edges or {})
    changed = False
    for ref_s in cfg.distribution_drift_fields or []:
        if ref_s in known or samples.empty:
            continue
        ref = parse_field_ref(ref_s, "distribution_drift_fields")
        if ref.column not in samples:
            continue
        values = samples[ref.column]
        if ref.is_json:
            docs = values.map(lambda v: json.loads(v) if isinstance(v, str | bytes) and v else v)
            for k in ref.keys:
                docs = docs.map(lambda d, k=k: d.get(k) if isinstance(d, dict) else None)
            values = docs
        values = values.dropna()
        if values.empty:
            continue
        numeric = values.map(lambda v: isinstance(v, int | float | np.number) and not isinstance(v, bool))
        if numeric.mean() >= 0.9:
            nums = pd.to_numeric(values[numeric]).to_numpy(dtype=float)
            edges = np.unique(np.quantile(nums, np.linspace(0, 1, HISTOGRAM_BINS + 1)[1:-1]))
            known[ref_s] = {"kind": "numeric", "edges": [float(e) for e in edges]}
        else:
            known[ref_s] = {"kind": "categorical"}
        changed = True
    if changed:
        state.histogram_edges = known
        db.flush()
    return known


def lock_state(db: Session, config_id: uuid.UUID) -> ScanState:
    """The config's scan_states row, created if missing (INSERT … ON CONFLICT DO NOTHING, so two runs never
    collide on pk_scan_states) and locked FOR UPDATE until the transaction ends."""
    db.execute(pg_insert(ScanState).values(scan_config_id=config_id, histogram_edges={})
               .on_conflict_do_nothing(index_elements=["scan_config_id"]))
    state = db.scalars(select(ScanState).where(ScanState.scan_config_id == config_id)
                       .with_for_update().execution_options(populate_existing=True)).one()
    return state


_AGG_CACHE: dict[tuple, AggregateQuery] = {}
_AGG_CACHE_SIZE = 64


def _aggregate_for(adapter: WarehouseAdapter, spec: AggregateSpec) -> AggregateQuery:
    """The aggregate statement for `spec`: built once per shape (building it costs far more than binding new
    window bounds), then reused with this chunk's start/end parameters."""
    key = (adapter.sql.dialect, repr(dataclasses.replace(spec, start=None, end=None)))
    cached = _AGG_CACHE.get(key)
    if cached is None:
        cached = build_aggregate(adapter.sql, spec)
        if len(_AGG_CACHE) >= _AGG_CACHE_SIZE:
            _AGG_CACHE.pop(next(iter(_AGG_CACHE)))
        _AGG_CACHE[key] = cached
    params = dict(cached.query.params)
    params.update({"start": utc_naive(spec.start), "end": utc_naive(spec.end)})
    return dataclasses.replace(cached, query=dataclasses.replace(cached.query, params=params))


@dataclass
class WindowResult:
    frames: dict[str, pd.DataFrame]
    rows: int
    chunks: int
    seconds: float


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=columns)


def chunk_interval(cfg: ScanConfig) -> ScanInterval:
    """The chunk length: max(replay_chunk_interval, interval) — every interval divides the longer ones."""
    return max(ScanInterval(cfg.replay_chunk_interval), ScanInterval(cfg.interval), key=lambda i: i.seconds)


def segments(windows: list[Window]) -> list[list[int]]:
    """Indexes of `windows` (sorted, disjoint) grouped into runs that touch end to start: one statement each."""
    out: list[list[int]] = []
    for i, (start, _) in enumerate(windows):
        if out and windows[out[-1][-1]][1] == start:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def read_window(db: Session, cfg: ScanConfig, start: datetime, end: datetime,
                adapter: WarehouseAdapter | None = None, plan: PlanIndex | None = None) -> WindowResult:
    """Run the passes over [start, end) and return the combined frames (nothing is written but scan_states)."""
    return read_windows(db, cfg, [(start, end)], adapter, plan)[0]


def read_windows(db: Session, cfg: ScanConfig, windows: list[Window],
                 adapter: WarehouseAdapter | None = None, plan: PlanIndex | None = None) -> list[WindowResult]:
    """The passes over several windows (a run's days, sorted and disjoint), one result per window, each equal to
    what reading that window alone gives. Windows that touch are read together: one aggregate and one sample
    statement per run of touching windows, ranked and sampled per chunk inside the statement (so a 7-day run is
    one aggregate, not 7 × chunks of them). Nothing is written but scan_states."""
    t0 = time.monotonic()
    if not cfg.time_column:
        from tripl_core.errors import Invalid

        raise Invalid("time_column", "A scan needs the config's time_column to bucket rows.")
    plan = plan or PlanIndex.load(db, cfg.project_id)
    fp = field_plan(cfg, plan)
    own = adapter is None
    adapter = adapter or adapter_for(cfg.data_source)
    var_refs = variable_refs(plan, fp, cfg)
    step = chunk_interval(cfg)
    row_limit = cfg.scan_row_limit or DEFAULT_SAMPLE_ROWS
    # (chunk start, chunk end, sample rows of the chunk, window index), in time order
    cuts: list[tuple[datetime, datetime, int, int]] = []
    for wi, (w_start, w_end) in enumerate(windows):
        w_chunks = chunks(w_start, w_end, cfg)
        per_chunk = max(1, math.ceil(row_limit / max(1, len(w_chunks))))
        cuts += [(c_start, c_end, per_chunk, wi) for c_start, c_end in w_chunks]
    parts: list[dict[str, list[pd.DataFrame]]] = [{k: [] for k in FRAMES} for _ in windows]
    sample_parts: list[list[pd.DataFrame]] = [[] for _ in windows]
    try:
        for seg in segments(windows):
            seg_cuts = [c for c in cuts if c[3] in seg]
            i = 0
            while i < len(seg_cuts):
                # The first scans of a config sample before aggregating, one chunk at a time: their sample sets
                # the histogram bins the aggregate uses. Afterwards the aggregate runs first over the rest of the
                # segment, and its row counts let the sample skip sorting every row (see `_sample_query`).
                early = not _edges_frozen(db, cfg)
                batch = seg_cuts[i:i + 1] if early else seg_cuts[i:]
                i += len(batch)
                b_start, b_end = batch[0][0], batch[-1][1]
                samples = _read_sample(adapter, cfg, b_start, b_end, batch[0][2], fp) if early else None
                hist = _decide_histograms(db, cfg, samples if samples is not None else pd.DataFrame())
                numeric = {f: h["edges"] for f, h in hist.items() if h.get("kind") == "numeric" and h.get("edges")}
                categorical = [f for f, h in hist.items() if h.get("kind") == "categorical"]
                spec = AggregateSpec(
                    base_query=cfg.base_query, time_column=cfg.time_column, interval=ScanInterval(cfg.interval),
                    start=b_start, end=b_end, event_type_column=cfg.event_type_column,
                    event_name_format=cfg.event_name_format,
                    breakdown_columns=list(dict.fromkeys([*(cfg.metric_breakdown_columns or []), *categorical,
                                                          *var_refs])),
                    breakdown_top_k=cfg.metric_breakdown_values_limit or DEFAULT_BREAKDOWN_TOP_K,
                    app_version_column=cfg.app_version_column, fields=fp.refs, histograms=numeric,
                    max_rows=cfg.metrics_row_limit * len(batch) if cfg.metrics_row_limit else None,
                    chunk_interval=step)
                agg = _aggregate_for(adapter, spec)
                res = agg.split(adapter.query_df(agg.query))
                if samples is None:
                    samples = _read_chunked_sample(adapter, cfg, batch, step, fp, res.counts)
                _distribute(cfg, windows, batch, res, samples, categorical, var_refs, parts, sample_parts)
    finally:
        if own:
            adapter.close()
    seconds = time.monotonic() - t0
    results = []
    for wi in range(len(windows)):
        sampled = [p for p in sample_parts[wi] if len(p)]
        sf, nf = profile_samples(pd.concat(sampled, ignore_index=True) if sampled else pd.DataFrame(), fp, plan,
                                 cfg)
        parts[wi]["sample_fields"].append(sf)
        parts[wi]["name_fields"].append(nf)
        frames = {k: _combine(k, v) for k, v in parts[wi].items()}
        rows = int(frames["counts"]["count"].sum()) if len(frames["counts"]) else 0
        results.append(WindowResult(frames, rows, sum(1 for c in cuts if c[3] == wi), 0.0))
    total = sum(r.rows for r in results) or 1
    for r in results:  # the statements served every window: their time is shared out by rows
        r.seconds = seconds * (r.rows / total if total else 1 / len(results))
    return results


def _in(frame: pd.DataFrame, column: str, start: datetime, end: datetime) -> pd.DataFrame:
    b = _utc(frame[column]) if len(frame) else frame[column]
    return frame[(b >= pd.Timestamp(start)) & (b < pd.Timestamp(end))] if len(frame) else frame


def _distribute(cfg: ScanConfig, windows: list[Window], batch: list[tuple[datetime, datetime, int, int]],
                res: AggregateResult, samples: pd.DataFrame, categorical: list[str], var_refs: dict[str, uuid.UUID],
                parts: list[dict[str, list[pd.DataFrame]]], sample_parts: list[list[pd.DataFrame]]) -> None:
    """Cut one statement's frames (over the batch's chunks) into the windows they belong to."""
    br = res.breakdowns
    cat_labels = {parse_field_ref(f, "distribution_drift_fields").label for f in categorical}
    conf_labels = {parse_field_ref(f, "metric_breakdown_columns").label for f in cfg.metric_breakdown_columns or []}
    cat = br[br["column"].isin(cat_labels)]
    hist_cat = pd.DataFrame({"field": cat["column"], "bucket": cat["bucket"], "event_type": cat["event_type"],
                             "event_name": cat["event_name"], "value": cat["value"].astype(object),
                             "is_other": cat["is_other"], "count": cat["count"]})
    hist_num = res.histograms.assign(value=res.histograms["bin"].astype("string").astype(object),
                                     is_other=False).drop(columns=["bin"])
    var = br[br["column"].isin(set(var_refs))]
    frames = {"variables": var.assign(variable_id=var["column"].map(var_refs).astype(str)).drop(columns=["column"]),
              "counts": res.counts, "breakdowns": br[br["column"].isin(conf_labels)],
              "app_versions": res.app_versions, "fields": res.fields,
              "histograms": pd.concat([hist_num, hist_cat], ignore_index=True)}
    for wi in dict.fromkeys(c[3] for c in batch):
        w_start, w_end = windows[wi]
        for name, df in frames.items():
            parts[wi][name].append(_in(df, "bucket", w_start, w_end))
        if len(samples):
            sample_parts[wi].append(_in(samples, "__bucket", w_start, w_end))


_SUM_KEYS = {
    "counts": ["bucket", "event_type", "event_name"],
    "breakdowns": ["column", "bucket", "event_type", "event_name", "value", "is_other"],
    "app_versions": ["bucket", "event_type", "event_name", "app_version", "is_other"],
    "histograms": ["field", "bucket", "event_type", "event_name", "value", "is_other"],
    "variables": ["variable_id", "bucket", "event_type", "event_name", "value", "is_other"],
}


def _combine(name: str, parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if p is not None and len(p)]
    if not parts:
        return _empty(_SUM_KEYS.get(name, []) + (["count"] if name in _SUM_KEYS else []))
    df = pd.concat(parts, ignore_index=True)
    if "bucket" in df:
        df["bucket"] = _utc(df["bucket"])
    for c in ("event_type", "event_name", "value", "app_version"):
        if c in df:
            df[c] = df[c].astype(object).where(df[c].notna(), None)
            df[c] = df[c].map(lambda v: v if v is None else str(v))
    if name in _SUM_KEYS:  # a bucket longer than a chunk is split across chunks: add the parts up
        df = df.groupby(_SUM_KEYS[name], dropna=False, sort=False)["count"].sum().reset_index()
    elif name == "fields":
        num = [c for c in df.columns if c not in ("field", "bucket", "event_type", "event_name")]
        df = df.groupby(["field", "bucket", "event_type", "event_name"], dropna=False, sort=False)[num].sum()
        df = df.reset_index()
    return df


# --- staging in Postgres ------------------------------------------------------------------------------------

def _to_parquet(df: pd.DataFrame) -> bytes:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object and out[c].map(lambda v: isinstance(v, dict | list)).any():
            out[c] = out[c].map(lambda v: None if v is None else json.dumps(v))
    buf = io.BytesIO()
    out.to_parquet(buf, index=False)
    return buf.getvalue()


def store_stage(db: Session, cfg: ScanConfig, start: datetime, end: datetime, result: WindowResult) -> None:
    """Replace the staged frames of the day holding `start` (one staged window per config and day)."""
    day_start, day_end = day_bounds(start)
    db.execute(delete(ScanStage).where(ScanStage.scan_config_id == cfg.id, ScanStage.window_start >= day_start,
                                       ScanStage.window_start < day_end))
    for name, df in result.frames.items():
        db.add(ScanStage(scan_config_id=cfg.id, window_start=start, window_end=end, frame=name, rows=len(df),
                         data=_to_parquet(df)))
    db.flush()


def drop_stage(db: Session, cfg: ScanConfig, day: datetime) -> None:
    """Forget the staged window of the day holding `day` (a re-scan found nothing observed in it)."""
    day_start, day_end = day_bounds(day)
    db.execute(delete(ScanStage).where(ScanStage.scan_config_id == cfg.id, ScanStage.window_start >= day_start,
                                       ScanStage.window_start < day_end))


def load_stage(db: Session, cfg: ScanConfig, day: datetime
               ) -> tuple[dict[str, pd.DataFrame], datetime | None, datetime | None]:
    """The staged frames of the config's window in `day`, with the window's bounds (None when nothing staged)."""
    day_start, day_end = day_bounds(day)
    rows = db.query(ScanStage).filter(ScanStage.scan_config_id == cfg.id, ScanStage.window_start >= day_start,
                                      ScanStage.window_start < day_end).all()
    if not rows:
        return {}, None, None
    frames = {r.frame: pd.read_parquet(io.BytesIO(r.data)) for r in rows}
    if "sample_fields" in frames and len(frames["sample_fields"]):
        frames["sample_fields"]["type_counts"] = frames["sample_fields"]["type_counts"].map(
            lambda v: json.loads(v) if isinstance(v, str) else (v or {}))
    for df in frames.values():
        if "bucket" in df:
            df["bucket"] = _utc(df["bucket"])
    return frames, rows[0].window_start.astimezone(UTC), rows[0].window_end.astimezone(UTC)


def day_bounds(day: datetime) -> tuple[datetime, datetime]:
    start = day.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)
