"""Step 2 (`event_metrics`): map a window's staged aggregates onto the plan and write the per-bucket tables.

Everything is rewritten per (scan config, bucket range) — delete, then COPY — in the caller's transaction, so a
window materialised twice leaves identical rows. Volume series are scored here (they are stored with their
band), under a per-config advisory lock, from the first bucket of the window **to the newest stored bucket**:
the detector is online, so a late or out-of-order day (a backfill running partitions in any order) also
refreshes the verdicts after it, and the final rows equal an in-order replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from tripl_core.db.models.sources import ScanConfig
from tripl_core.detection.volume import score_frame
from tripl_core.scanning import forecasts, store
from tripl_core.scanning.passes import FieldPlan
from tripl_core.scanning.planmap import PlanIndex, map_pairs
from tripl_core.scanning.settings import AnomalySettings
from tripl_core.warehouse import ScanInterval

SCOPES = ("project_total", "event_type", "event")
_PER_BUCKET = ("observed_names", "breakdown_points", "app_version_points", "field_observations", "histogram_points",
               "variable_observations")


@dataclass
class MetricsSummary:
    buckets: int
    metric_points: int
    rescored_until: datetime | None
    matched_rows: int
    unmatched_rows: int


def _mapping(frames: dict[str, pd.DataFrame], plan: PlanIndex, cfg: ScanConfig) -> pd.DataFrame:
    counts = frames["counts"]
    pairs = counts[["event_type", "event_name"]] if len(counts) else pd.DataFrame(
        columns=["event_type", "event_name"])
    return map_pairs(pairs, plan, cfg)


def _attach(df: pd.DataFrame, mapping: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df.assign(event_type_id=pd.Series(dtype=object), event_id=pd.Series(dtype=object))
    m = mapping[["event_type", "event_name", "event_type_id", "event_id"]]
    return df.merge(m, on=["event_type", "event_name"], how="left")


def _scoped(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sum `count` per scope (project total, event type, event) × bucket × keys."""
    parts = []
    for scope, ref in (("project_total", None), ("event_type", "event_type_id"), ("event", "event_id")):
        src = df if ref is None else df[df[ref].notna()]
        if src.empty:
            continue
        by = ["bucket", *keys] if ref is None else ["bucket", ref, *keys]
        g = src.groupby(by, dropna=False, sort=False)["count"].sum().reset_index()
        g["scope_type"] = scope
        g["scope_ref"] = None if ref is None else g[ref]
        parts.append(g.drop(columns=[ref] if ref else []))
    if not parts:
        return pd.DataFrame(columns=["bucket", *keys, "count", "scope_type", "scope_ref"])
    return pd.concat(parts, ignore_index=True)


def _field_observations(frames: dict[str, pd.DataFrame], cfg: ScanConfig, plan: PlanIndex,
                        fp: FieldPlan) -> pd.DataFrame:
    cols = ["bucket", "event_type_value", "event_type_id", "field", "declared", "rows", "present", "nulls",
            "type_counts", "sampled_rows", "enum_breaches", "regex_breaches", "range_breaches", "sample_value"]
    agg, smp = frames.get("fields", pd.DataFrame()), frames.get("sample_fields", pd.DataFrame())
    if agg.empty and smp.empty:
        return pd.DataFrame(columns=cols)
    key = ["bucket", "event_type", "field"]
    if len(agg):
        tcols = [c for c in agg.columns if c.startswith("type_")]
        a = agg.groupby(key, dropna=False, sort=False)[["rows", "present", "nulls", *tcols]].sum().reset_index()
        if tcols:
            t = a[tcols].rename(columns=lambda c: c[5:])
            a["agg_types"] = [{k: int(v) for k, v in r.items() if v} for r in t.to_dict("records")]
        else:
            a["agg_types"] = [{} for _ in range(len(a))]
        a = a.drop(columns=tcols)
    else:
        a = pd.DataFrame(columns=[*key, "rows", "present", "nulls", "agg_types"])
    s = smp.rename(columns={"present": "s_present", "type_counts": "s_types"}) if len(smp) else pd.DataFrame(
        columns=[*key, "sampled_rows", "s_present", "s_types", "enum_breaches", "regex_breaches", "range_breaches",
                 "sample_value"])
    # without an event_type_column the key is all-null, read back as float64 on one side and object on the other:
    # give both sides the same dtype so the merge works
    a, s = a.astype({"event_type": object}), s.astype({"event_type": object})
    df = a.merge(s, on=key, how="outer")
    for c in ("rows", "present", "nulls", "sampled_rows", "enum_breaches", "regex_breaches", "range_breaches"):
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype("int64")
    in_agg = df["agg_types"].notna()
    # exact JSON types from the aggregate; the sample's types for fields only the sample saw (or plain columns)
    df["type_counts"] = [at if isinstance(at, dict) and at else (st if isinstance(st, dict) else {})
                         for at, st in zip(df["agg_types"], df["s_types"], strict=True)]
    df.loc[~in_agg, "present"] = pd.to_numeric(df.loc[~in_agg, "s_present"], errors="coerce").fillna(0)
    df.loc[~in_agg, "rows"] = df.loc[~in_agg, "sampled_rows"]
    df["field"] = df["field"].map(fp.field_name)
    if cfg.event_type_column:
        df = df.merge(plan.types.rename(columns={"type_name": "event_type"}), on="event_type", how="left")
    else:
        df["event_type_id"] = cfg.event_type_id
    declared = {(tid, f.name) for tid, fds in plan.fields.items() for f in fds}
    df["declared"] = [(t, f) in declared for t, f in zip(df["event_type_id"], df["field"], strict=True)]
    df = df.rename(columns={"event_type": "event_type_value"})
    df["event_type_id"] = df["event_type_id"].astype(object).where(df["event_type_id"].notna(), None)
    df["sample_value"] = df["sample_value"].astype(object).where(df["sample_value"].notna(), None)
    return df[cols]


def _score(db: Session, cfg: ScanConfig, settings: AnomalySettings, start: datetime, end: datetime,
           scoped: pd.DataFrame) -> tuple[pd.DataFrame, datetime, pd.DataFrame, pd.DataFrame]:
    """Counts of [start, end) plus stored history and later buckets → rows to write for [start, rewrite_end),
    with the scored counts (grid × scope) and the stored rows read, which the stored forecasts are made from."""
    step = ScanInterval(cfg.interval).delta
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    history = settings.volume.baseline_window_buckets + settings.volume.min_history_buckets
    hist_start = start - step * history
    stored = pd.read_sql_query(
        text("SELECT scope_type::text AS scope_type, scope_ref, bucket, count FROM metric_points "
             "WHERE scan_config_id = :c AND bucket >= :a AND (bucket < :s OR bucket >= :e)"),
        db.connection(), params={"c": cfg.id, "a": hist_start, "s": start, "e": end})
    stored["bucket"] = pd.to_datetime(stored["bucket"], utc=True).dt.as_unit("us")
    new = scoped[["scope_type", "scope_ref", "bucket", "count"]]
    allrows = pd.concat([stored, new], ignore_index=True) if len(stored) else new.copy()
    rewrite_end = end
    if len(stored) and (stored["bucket"] >= end).any():
        rewrite_end = max(end, stored.loc[stored["bucket"] >= end, "bucket"].max().to_pydatetime() + step)
    if allrows.empty:
        return pd.DataFrame(columns=["scope_type", "scope_ref", "bucket", "count"]), rewrite_end, pd.DataFrame(), stored
    allrows["scope_ref"] = allrows["scope_ref"].map(lambda v: "" if v is None or v != v else str(v))
    wide = allrows.pivot_table(index="bucket", columns=["scope_type", "scope_ref"], values="count",
                               aggfunc="sum", fill_value=0)
    if ("project_total", "") not in wide.columns:  # the total marks observed buckets, even when all were silent
        wide[("project_total", "")] = 0
    first = min(wide.index.min(), pd.Timestamp(start))
    grid = pd.date_range(first, pd.Timestamp(rewrite_end) - step, freq=step)
    wide = wide.reindex(grid, fill_value=0).astype("float64")
    observed = _observed(grid, stored, start, end)
    wide.loc[~observed] = np.nan  # never scanned: unknown, not zero (neither learned nor judged nor stored)
    out_mask = (wide.index >= pd.Timestamp(start)) & observed
    scored = score_frame(wide, settings.volume) if len(wide.columns) else None
    frames = {"count": wide[out_mask]}
    if scored is not None:
        learning = _learning(wide, observed, settings.volume.min_history_buckets)
        for k in ("expected", "lower", "upper", "z", "is_anomaly", "direction"):
            frames[k] = scored[k].mask(learning, np.nan if k != "is_anomaly" else False)[out_mask]
    long = pd.DataFrame({k: v.stack(level=[0, 1], future_stack=True) for k, v in frames.items()})
    long.index.names = ["bucket", "scope_type", "scope_ref"]
    long = long.reset_index()
    detect = long["scope_type"].map(settings.detects).astype(bool)
    for k in ("expected", "lower", "upper", "z"):
        long[k] = long[k].where(detect & long[k].notna())
    long["is_anomaly"] = (long["is_anomaly"].fillna(False).astype(bool) & detect) if "is_anomaly" in long else False
    codes = long["direction"].fillna(0).astype(int) if "direction" in long else pd.Series(0, index=long.index)
    long["direction"] = np.where(long["is_anomaly"], np.where(codes > 0, "spike", np.where(codes < 0, "drop", None)),
                                 None)
    long["count"] = long["count"].round().astype("int64")
    long["scope_ref"] = long["scope_ref"].map(lambda v: v or None)
    return long, rewrite_end, wide, stored


def _observed(grid: pd.DatetimeIndex, stored: pd.DataFrame, start: datetime, end: datetime) -> np.ndarray:
    """Buckets some scan observed: this window's, and stored ones (every observed bucket has a project_total
    row, zero included). The rest of the grid — days not replayed yet, hours not happened yet — is unknown."""
    seen = grid >= pd.Timestamp(start)
    seen &= grid < pd.Timestamp(end)
    if len(stored):
        totals = stored.loc[stored["scope_type"] == "project_total", "bucket"]
        seen |= grid.isin(pd.DatetimeIndex(totals).as_unit(grid.unit) if len(totals) else totals)
    return np.asarray(seen)


def _learning(wide: pd.DataFrame, observed: np.ndarray, min_history: int) -> pd.DataFrame:
    """True where a series has fewer than `min_history` observed buckets since its first non-zero one before the
    bucket: it is still learning, so the bucket gets no verdict (docs/detection.md, "No score without history")."""
    x = wide.to_numpy()
    started = np.maximum.accumulate(np.nan_to_num(x, nan=0.0) > 0, axis=0)
    seen = started & observed[:, None]
    before = np.cumsum(seen, axis=0) - seen  # observed buckets strictly before t
    return pd.DataFrame(before < min_history, index=wide.index, columns=wide.columns)


def write_metrics(db: Session, cfg: ScanConfig, start: datetime, end: datetime, frames: dict[str, pd.DataFrame],
                  plan: PlanIndex, fp: FieldPlan, settings: AnomalySettings) -> MetricsSummary:
    """Write every per-bucket table for [start, end) (and rescored later buckets); the caller commits."""
    store.advisory_lock(db, cfg.id)
    mapping = _mapping(frames, plan, cfg)
    counts = _attach(frames["counts"], mapping)
    for table in _PER_BUCKET:
        store.delete_range(db, table, cfg.id, start, end)

    if len(counts):
        names = counts.assign(scan_config_id=cfg.id).rename(columns={"event_type": "event_type_value"})
        store.copy_frame(db, "observed_names", names[["scan_config_id", "bucket", "event_type_value", "event_name",
                                                      "event_type_id", "event_id", "count"]])
    scoped = _scoped(counts, [])
    points, rewrite_end, wide, stored = _score(db, cfg, settings, start, end, scoped)
    store.delete_range(db, "metric_points", cfg.id, start, rewrite_end)
    n_points = store.copy_frame(db, "metric_points", points.assign(scan_config_id=cfg.id)[
        ["scan_config_id", "scope_type", "scope_ref", "bucket", "count", "expected", "lower", "upper", "z",
         "is_anomaly", "direction"]]) if len(points) else 0
    if n_points:
        forecasts.store_forecasts(db, cfg, settings, wide, stored, start.astimezone(UTC),
                                  ScanInterval(cfg.interval).delta)

    br = _attach(frames["breakdowns"], mapping)
    if len(br):
        b = _scoped(br, ["column", "value", "is_other"]).assign(scan_config_id=cfg.id)
        store.copy_frame(db, "breakdown_points", b[["scan_config_id", "scope_type", "scope_ref", "bucket", "column",
                                                    "value", "is_other", "count"]])
    av = _attach(frames["app_versions"], mapping)
    if len(av):
        a = _scoped(av, ["app_version", "is_other"]).assign(scan_config_id=cfg.id)
        store.copy_frame(db, "app_version_points", a[["scan_config_id", "scope_type", "scope_ref", "bucket",
                                                      "app_version", "is_other", "count"]])
    fo = _field_observations(frames, cfg, plan, fp)
    if len(fo):
        store.copy_frame(db, "field_observations", fo.assign(scan_config_id=cfg.id)[["scan_config_id", *fo.columns]])
    hist = _attach(frames["histograms"], mapping)
    if len(hist):
        h = (hist.groupby(["bucket", "event_type_id", "field", "value", "is_other"], dropna=False, sort=False)["count"]
             .sum().reset_index())
        h["event_type_id"] = h["event_type_id"].astype(object).where(h["event_type_id"].notna(), None)
        store.copy_frame(db, "histogram_points", h.assign(scan_config_id=cfg.id)[
            ["scan_config_id", "bucket", "event_type_id", "field", "value", "is_other", "count"]])
    _variables(db, cfg, plan, fp, frames, mapping, start, end)
    _last_seen(db, counts, cfg)
    matched = int(counts.loc[counts["event_id"].notna(), "count"].sum()) if len(counts) else 0
    total = int(counts["count"].sum()) if len(counts) else 0
    return MetricsSummary(int(scoped["bucket"].nunique()) if len(scoped) else 0, n_points, rewrite_end,
                          matched, total - matched)


def _last_seen(db: Session, counts: pd.DataFrame, cfg: ScanConfig) -> None:
    seen = counts[counts["event_id"].notna() & (counts["count"] > 0)]
    if seen.empty:
        return
    last = seen.groupby("event_id")["bucket"].max()
    step = ScanInterval(cfg.interval).delta
    payload = [{"i": str(i), "t": (t + step).to_pydatetime()} for i, t in last.items()]
    db.execute(text("UPDATE events SET last_seen_at = GREATEST(COALESCE(last_seen_at, CAST(:t AS timestamptz)), "
                    "CAST(:t AS timestamptz)) WHERE id = CAST(:i AS uuid)"), payload)


def _variables(db: Session, cfg: ScanConfig, plan: PlanIndex, fp: FieldPlan, frames: dict[str, pd.DataFrame],
               mapping: pd.DataFrame, start: datetime, end: datetime) -> None:
    vals = frames.get("variables")
    if vals is None or vals.empty or not plan.variables:
        return
    v = _attach(vals, mapping)
    v = v[v["value"].notna() & ~v["is_other"].astype(bool)]
    if v.empty:
        return
    g = v.groupby(["bucket", "variable_id", "value"], sort=False).agg(
        occurrences=("count", "sum"), event_count=("event_id", "nunique")).reset_index()
    store.copy_frame(db, "variable_observations", g.assign(scan_config_id=cfg.id, details="{}")[
        ["scan_config_id", "bucket", "variable_id", "value", "occurrences", "event_count", "details"]])
    db.flush()
    ids = [str(i) for i in g["variable_id"].unique()]
    db.execute(text("""
        INSERT INTO variable_values (id, variable_id, project_id, value, occurrences, event_count, first_seen_at,
                                     last_seen_at, updated_at)
        SELECT gen_random_uuid(), o.variable_id, :p, o.value, SUM(o.occurrences), MAX(o.event_count),
               MIN(o.bucket), MAX(o.bucket), now()
        FROM variable_observations o WHERE o.variable_id = ANY(CAST(:ids AS uuid[]))
        GROUP BY o.variable_id, o.value
        ON CONFLICT (variable_id, value) DO UPDATE SET occurrences = EXCLUDED.occurrences,
            event_count = EXCLUDED.event_count, first_seen_at = EXCLUDED.first_seen_at,
            last_seen_at = EXCLUDED.last_seen_at, updated_at = now()
    """), {"p": cfg.project_id, "ids": ids})


def bucket_range(start: datetime, end: datetime, cfg: ScanConfig) -> tuple[datetime, datetime]:
    """Widen [start, end) to whole buckets of the config's interval."""
    step = ScanInterval(cfg.interval).seconds
    s = datetime.fromtimestamp((int(start.timestamp()) // step) * step, tz=start.tzinfo)
    e_ts = -(-int(end.timestamp()) // step) * step
    return s, datetime.fromtimestamp(e_ts, tz=end.tzinfo) if e_ts else end + timedelta(0)
