"""Step 3b–e: schema drift, distribution drift, release regressions and reconciliation for one window.

Each reads the per-bucket tables written by `metrics.write_metrics` (never the warehouse) and upserts findings
on their natural keys with deterministic ids, so running a window twice changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from tripl_core.db.models.findings import (
    DistributionDrift,
    DriftStatus,
    ReleaseRegression,
    SchemaDrift,
    ShadowEventCandidate,
)
from tripl_core.db.models.sources import ScanConfig
from tripl_core.detection import schema as schema_detect
from tripl_core.detection.distribution import DriftThresholds, compare_histograms
from tripl_core.detection.releases import RELEASE_WINDOW_DAYS, sort_versions
from tripl_core.scanning import passes, store
from tripl_core.scanning.planmap import PlanIndex

DRIFT_BASELINE_DAYS = 7
DEFAULT_KEEP_RELEASES = 3
RELEASE_Z = 4.0
RELEASE_RATIO = 0.5  # share in the new release at most half (or at least double) the earlier share
RELEASE_MIN_EXPECTED = 20.0


def _frame(db: Session, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    df = pd.read_sql_query(text(sql), db.connection(), params=params)
    for c in ("bucket", "first_seen", "last_seen"):
        if c in df:
            df[c] = pd.to_datetime(df[c], utc=True)
    return df


# --- schema drift -------------------------------------------------------------------------------------------

def _declared(fd: Any) -> schema_detect.DeclaredField:
    return schema_detect.DeclaredField(
        name=fd.name, field_type=fd.field_type.value if hasattr(fd.field_type, "value") else str(fd.field_type),
        is_required=fd.is_required, enum_options=fd.enum_options,
        contract_required_max_null_rate=fd.contract_required_max_null_rate, contract_regex=fd.contract_regex,
        contract_min_value=fd.contract_min_value, contract_max_value=fd.contract_max_value,
        contract_max_bad_rate=fd.contract_max_bad_rate or 0.0)


def detect_schema_drifts(db: Session, cfg: ScanConfig, start: datetime, end: datetime,
                         plan: PlanIndex) -> dict[str, int]:
    obs = _frame(db, "SELECT bucket, event_type_id, field, declared, rows, present, nulls, type_counts, "
                     "sampled_rows, enum_breaches, regex_breaches, range_breaches, sample_value "
                     "FROM field_observations WHERE scan_config_id = :c AND bucket >= :a AND bucket < :b "
                     "AND event_type_id IS NOT NULL", {"c": cfg.id, "a": start, "b": end})
    totals = _frame(db, "SELECT event_type_id, SUM(count) AS rows, MIN(bucket) AS first_seen, "
                        "MAX(bucket) AS last_seen FROM observed_names WHERE scan_config_id = :c AND bucket >= :a "
                        "AND bucket < :b AND event_type_id IS NOT NULL GROUP BY event_type_id",
                    {"c": cfg.id, "a": start, "b": end})
    probed = {c["name"]: str(c.get("type", "")) for c in (cfg.probed_columns or [])}
    infra = passes.infrastructure_columns(cfg)  # also drops those kept by stages of earlier scans
    fp = passes.field_plan(cfg, plan)
    counted = {fp.field_name(r) for r in fp.refs}  # fields the aggregate counts on every row; others: sample only
    n = 0
    for _, t in totals.iterrows():  # per event type (a handful), not per row
        tid, total = t["event_type_id"], int(t["rows"])
        o = obs[obs["event_type_id"] == tid]
        declared_fields = plan.fields.get(tid, [])
        observed_names = set(o["field"])
        # every declared field, observed or not: a required field absent from the data (not a column of the
        # probed output, or a key no row sends) must reach classify to be reported as missing_required_field.
        # Left out only when the scan cannot tell (output columns unknown, or a name that cannot be a JSON key).
        declared = [_declared(fd) for fd in declared_fields
                    if fd.name in observed_names or _observable(fd.name, cfg, probed)]
        names = {d.name for d in declared_fields}
        observed = []
        first_seen: dict[str, dict[str, datetime]] = {}
        if len(o):
            first_seen = _first_evidence(o)
            # rows of this type the sample held in the window: a sample-only field's counts are scaled from it
            type_sampled = max(int(o.groupby("bucket")["sampled_rows"].max().sum()), 1)
            g = o.groupby("field")
            agg = g[["rows", "present", "nulls", "sampled_rows", "enum_breaches", "regex_breaches",
                     "range_breaches"]].sum()
            samples = g["sample_value"].agg(lambda s: next((v for v in s if v is not None), None))
            tcounts = g["type_counts"].agg(lambda s: _sum_dicts(s))
            for field, r in agg.iterrows():
                if field not in names and any(field.startswith(d + ".") for d in names):
                    continue  # a key inside a declared JSON field
                if field not in names and field in infra:
                    continue  # a plain column tripl reads (name format, version, breakdown…): not a field
                types = tcounts[field]
                if field in counted:
                    present = int(min(r["present"], total))
                    # a JSON path's null flag is set for missing keys too (see SqlBuilder.presence), and classify
                    # adds the missing rows (total − present) itself: count only the present-but-null rows here.
                    # Plain columns are present on every row, so nothing is subtracted for them.
                    nulls = int(min(max(int(r["nulls"]) - (int(r["rows"]) - int(r["present"])), 0), present))
                else:
                    # seen by the sample only (a new JSON key): its rates are the sample's, applied to the
                    # window's full row count — never the sample's count over the full count
                    grow = total / type_sampled
                    present = int(min(round(r["present"] * grow), total))
                    nulls = 0
                    types = {k: int(min(round(v * grow), total)) for k, v in (types or {}).items()}
                types = types or ({probed[field]: present - nulls} if field in probed else {})
                # breaches were counted in the sample: scale them up to the window's rows
                scale = total / max(int(r["sampled_rows"]), 1)
                observed.append(schema_detect.ObservedField(
                    name=field, presence_count=present, null_count=nulls,
                    type_counts={k: int(v) for k, v in types.items()},
                    enum_outside_count=int(min(round(r["enum_breaches"] * scale), present - nulls)),
                    regex_breach_count=int(min(round(r["regex_breaches"] * scale), present - nulls)),
                    min_breach_count=int(min(round(r["range_breaches"] * scale), present - nulls)),
                    sample_value=samples[field]))
        findings = schema_detect.classify(declared, observed, total)
        for f in findings:
            # detected_at: the first bucket holding the finding's evidence, not the start of the window
            first = first_seen.get(f.field_name, {}).get(_EVIDENCE.get(f.drift_type, "present"))
            first = first if first is not None else t["first_seen"].to_pydatetime()
            _upsert_drift(db, cfg, tid, f, first, t["last_seen"].to_pydatetime())
            n += 1
    return {"schema_drifts": n}


_EVIDENCE = {"type_mismatch": "typed", "enum_value_outside_options": "enum", "bad_rate_breach": "bad",
             "null_rate_breach": "nulls"}


def _first_evidence(o: pd.DataFrame) -> dict[str, dict[str, datetime]]:
    """Per field, the first bucket with each kind of evidence: present, a JSON type (any), nulls/missing,
    enum / regex / range breaches in the sample. A type mismatch is dated by the first bucket with a type."""
    out: dict[str, dict[str, datetime]] = {}
    marks = {
        "present": o["present"] > 0,
        "typed": o["type_counts"].map(lambda d: bool(d)),
        "nulls": (o["nulls"] > 0) | (o["present"] < o["rows"]),
        "enum": o["enum_breaches"] > 0,
        "bad": (o["regex_breaches"] + o["range_breaches"]) > 0,
    }
    for kind, mask in marks.items():
        firsts = o.loc[mask.to_numpy(dtype=bool)].groupby("field")["bucket"].min()
        for field, bucket in firsts.items():
            out.setdefault(field, {})[kind] = bucket.to_pydatetime()
    return out


def _observable(name: str, cfg: ScanConfig, probed: dict[str, str]) -> bool:
    """Whether the scan can tell that declared field `name` is absent when it has no observation: it is a
    probed column, a key the scan looks for in a JSON column (as `passes.field_plan`), or the query's output
    columns are known and there is no JSON column it could hide in."""
    from tripl_core.warehouse.sql import parse_field_ref

    if name in probed:
        return True
    has_json = bool(cfg.json_value_paths) or any("json" in t.lower() for t in probed.values())
    if not has_json:
        return bool(probed)
    try:
        parse_field_ref(f"j.{name}", "fields")
    except Exception:  # not a valid JSON key: never looked for
        return False
    return True


def _sum_dicts(items: pd.Series) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in items:
        for k, v in (d or {}).items():
            out[k] = out.get(k, 0) + int(v)
    return out


def _upsert_drift(db: Session, cfg: ScanConfig, tid: uuid.UUID, f: schema_detect.SchemaFinding,
                  first: datetime, last: datetime) -> None:
    """Insert, or refresh without reopening accepted / false-positive / still-snoozed drifts."""
    row = db.scalar(select(SchemaDrift).where(SchemaDrift.event_type_id == tid,
                                              SchemaDrift.field_name == f.field_name,
                                              SchemaDrift.drift_type == f.drift_type).with_for_update())
    details = {k: v for k, v in f.evidence.items() if not isinstance(v, float) or np.isfinite(v)}
    if row is None:
        db.add(SchemaDrift(id=store.finding_id("drift", tid, f.field_name, f.drift_type),
                           project_id=cfg.project_id, scan_config_id=cfg.id, event_type_id=tid,
                           field_name=f.field_name, drift_type=f.drift_type, observed_type=f.observed_type,
                           declared_type=f.declared_type, sample_value=f.sample_value, details=details,
                           status=DriftStatus.open, detected_at=first, last_seen_at=last))
        db.flush()
        return
    now = datetime.now(UTC)
    newer = last > row.last_seen_at
    row.detected_at = min(row.detected_at, first)
    if last >= row.last_seen_at:  # evidence of the newest window wins, whatever order windows ran in
        row.last_seen_at = last
        row.observed_type, row.declared_type, row.sample_value = f.observed_type, f.declared_type, f.sample_value
        row.details, row.scan_config_id = details, cfg.id
    expired = row.status == DriftStatus.snoozed and row.snoozed_until is not None and row.snoozed_until <= now
    if newer and (row.status == DriftStatus.resolved or expired):
        row.status, row.resolved_at, row.resolved_by = DriftStatus.open, None, None
        row.snoozed_until = None
        row.reopened_count += 1


# --- distribution drift -------------------------------------------------------------------------------------

def detect_distribution_drifts(db: Session, cfg: ScanConfig, day_start: datetime, day_end: datetime
                               ) -> dict[str, int]:
    """Drift of the day and of the later stored days whose baseline contains it (so days processed in any order
    end with the same verdicts)."""
    last = db.execute(text("SELECT MAX(bucket) FROM histogram_points WHERE scan_config_id = :c"),
                      {"c": cfg.id}).scalar()
    total = {"distribution_drifts": 0, "distribution_drifted": 0}
    day = day_start
    for _ in range(DRIFT_BASELINE_DAYS + 1):
        if last is None or day > last:
            break
        part = _distribution_day(db, cfg, day, day + timedelta(days=1))
        total = {k: total[k] + part[k] for k in total}
        day += timedelta(days=1)
    return total


def detect_distribution_drifts_days(db: Session, cfg: ScanConfig, days: list[datetime]) -> dict[datetime, dict]:
    """`detect_distribution_drifts` for several days at once: every day whose verdict one of them touches (the
    day and the DRIFT_BASELINE_DAYS after it) is judged once, not once per day of the run that touches it (a
    7-day run judged each day up to 8 times). The verdicts are those of the per-day calls made after all the
    days were stored. Returns each judged day's counts."""
    last = db.execute(text("SELECT MAX(bucket) FROM histogram_points WHERE scan_config_id = :c"),
                      {"c": cfg.id}).scalar()
    judged: dict[datetime, dict] = {}
    for first in sorted(days):
        day = first
        for _ in range(DRIFT_BASELINE_DAYS + 1):
            if last is None or day > last:
                break
            if day not in judged:
                judged[day] = _distribution_day(db, cfg, day, day + timedelta(days=1))
            day += timedelta(days=1)
    return judged


def _distribution_day(db: Session, cfg: ScanConfig, day_start: datetime, day_end: datetime) -> dict[str, int]:
    """The day [day_start, day_end) vs the DRIFT_BASELINE_DAYS before it, per event type (or total) × field."""
    base_start = day_start - timedelta(days=DRIFT_BASELINE_DAYS)
    h = _frame(db, "SELECT bucket, event_type_id, field, value, is_other, count FROM histogram_points "
                   "WHERE scan_config_id = :c AND bucket >= :a AND bucket < :b",
               {"c": cfg.id, "a": base_start, "b": day_end})
    if h.empty:
        return {"distribution_drifts": 0, "distribution_drifted": 0}
    edges_by_field = _edges(db, cfg)
    h["side"] = np.where(h["bucket"] >= pd.Timestamp(day_start), "current", "baseline")
    h["label"] = np.where(h["is_other"].astype(bool), "__other__", h["value"].astype(object).fillna("__missing__"))
    h["scope_ref"] = h["event_type_id"].astype(object)
    g = h.groupby(["scope_ref", "field", "side", "label"], dropna=False)["count"].sum()
    drifted = n = 0
    for (scope_ref, field), part in g.groupby(level=[0, 1], dropna=False):
        sides = part.droplevel([0, 1])
        cur = sides["current"].to_dict() if "current" in sides.index.get_level_values(0) else {}
        base = sides["baseline"].to_dict() if "baseline" in sides.index.get_level_values(0) else {}
        if not cur:
            continue
        res = compare_histograms(base, cur, DriftThresholds())
        labels = sorted(set(cur) | set(base), key=lambda k: (len(k), k))
        scope_ref = None if scope_ref is None or scope_ref != scope_ref else scope_ref
        scope_type = "event_type" if scope_ref is not None else "project_total"
        values = {
            "id": store.finding_id("distribution", cfg.id, scope_type, scope_ref, field, day_start.isoformat()),
            "project_id": cfg.project_id, "scan_config_id": cfg.id, "scope_type": scope_type,
            "scope_ref": scope_ref, "event_type_id": scope_ref, "field": field, "window_start": day_start,
            "window_end": day_end, "baseline_start": base_start, "baseline_end": day_start,
            "current_count": int(sum(cur.values())), "baseline_count": int(sum(base.values())),
            "chi2_p_value": res.p_value, "js_distance": res.js_distance, "psi": res.psi,
            "is_drift": bool(res.drifted), "edges": edges_by_field.get(field, labels),
            "current_hist": [int(cur.get(k, 0)) for k in labels],
            "baseline_hist": [int(base.get(k, 0)) for k in labels],
        }
        stmt = insert(DistributionDrift).values(**values)
        db.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={
            k: stmt.excluded[k] for k in values if k != "id"}))
        n += 1
        drifted += int(res.drifted)
    return {"distribution_drifts": n, "distribution_drifted": drifted}


def _edges(db: Session, cfg: ScanConfig) -> dict[str, list]:
    from tripl_core.db.models.scans import ScanState
    from tripl_core.warehouse.sql import parse_field_ref

    state = db.get(ScanState, cfg.id)
    out = {}
    for ref, h in ((state.histogram_edges or {}) if state else {}).items():
        if h.get("kind") == "numeric":
            out[parse_field_ref(ref, "distribution_drift_fields").label] = h.get("edges", [])
    return out


# --- release regressions ------------------------------------------------------------------------------------

def detect_release_regressions(db: Session, cfg: ScanConfig, end: datetime) -> dict[str, int]:
    """Per event: its share of each of the newest releases' rows vs its share of the earlier releases' rows.

    Shares (event rows / all rows of the same release) normalise by adoption: a release installed by 5 % of
    users has 5 % of the volume of every event, so only a change of mix stands out. The comparison is matched in
    time, per UTC day: the release's expected count is Σ_day (the event's share of the earlier releases that day
    × the release's rows that day). Otherwise anything that changed for *every* version while the new release
    rolled out (an event dying everywhere, a seasonal event) would read as the new release's fault.
    """
    if not cfg.app_version_column:
        return {"release_regressions": 0}
    newest = db.execute(text("SELECT MAX(bucket) FROM app_version_points WHERE scan_config_id = :c"),
                        {"c": cfg.id}).scalar()
    if newest is None:
        return {"release_regressions": 0}
    end = newest + timedelta(seconds=1)  # the window always ends at the newest data, whatever day just ran
    start = end - timedelta(days=RELEASE_WINDOW_DAYS)
    av = _frame(db, "SELECT scope_type::text AS scope_type, scope_ref, app_version, "
                    "date_trunc('day', bucket AT TIME ZONE 'UTC') AS day, SUM(count) AS count "
                    "FROM app_version_points WHERE scan_config_id = :c AND bucket >= :a "
                    "AND bucket < :b AND NOT is_other AND app_version IS NOT NULL "
                    "AND scope_type IN ('project_total', 'event') GROUP BY 1, 2, 3, 4",
                {"c": cfg.id, "a": start, "b": end})
    totals = av[av["scope_type"] == "project_total"].pivot_table(index="day", columns="app_version",
                                                                 values="count", aggfunc="sum", fill_value=0)
    if totals.shape[1] < 2:
        return {"release_regressions": 0}
    # newest by version (1.10.0 after 1.9.3), never by first appearance in the window: a version that was
    # already there when the window began would otherwise tie with older ones and could pass for the newest
    order = sort_versions(totals.columns)
    totals = totals.reindex(columns=order, fill_value=0).astype(float)
    keep = min(cfg.app_version_keep_releases or DEFAULT_KEEP_RELEASES, len(order) - 1)
    events = av[av["scope_type"] == "event"]
    if events.empty:
        return {"release_regressions": 0}
    counts = events.pivot_table(index=["scope_ref", "day"], columns="app_version", values="count", aggfunc="sum",
                                fill_value=0).reindex(columns=order, fill_value=0).astype(float)
    ids = counts.index.get_level_values(0).unique()
    full = pd.MultiIndex.from_product([ids, totals.index], names=["scope_ref", "day"])
    counts = counts.reindex(full, fill_value=0.0)
    types = dict(db.execute(text("SELECT id, event_type_id FROM events WHERE id = ANY(CAST(:ids AS uuid[]))"),
                            {"ids": [str(i) for i in ids]}).all())
    n = flagged = 0
    for i in range(len(order) - keep, len(order)):
        version, earlier = order[i], order[:i]
        base_total_day = totals[earlier].sum(axis=1)  # per day
        rel_total_day = totals[version].where(base_total_day > 0, 0.0)
        rel_total = float(rel_total_day.sum())
        if rel_total <= 0:
            continue
        base_day = counts[earlier].sum(axis=1).unstack("day").reindex(columns=totals.index, fill_value=0.0)
        share_day = base_day.div(base_total_day.replace(0, np.nan), axis=1).fillna(0.0)
        rel_day = counts[version].unstack("day").reindex(columns=totals.index, fill_value=0.0)
        rel_count = (rel_day * (base_total_day > 0).to_numpy()).sum(axis=1)
        expected = share_day.mul(rel_total_day, axis=1).sum(axis=1)
        var = (share_day * (1 - share_day)).mul(rel_total_day, axis=1).sum(axis=1)
        z = (rel_count - expected) / (np.sqrt(var) + 1.0)
        ratio = rel_count / expected.replace(0, np.nan)
        base_count = base_day.sum(axis=1)
        base_total = float(base_total_day.sum())
        # a regression is a newer release *losing* share against the earlier ones; a gain is not one
        flag = (z <= -RELEASE_Z) & (ratio <= RELEASE_RATIO) & (expected >= RELEASE_MIN_EXPECTED)
        relevant = flag | (base_count > 0)
        for ev in ids[relevant.reindex(ids).to_numpy()]:  # plan events (bounded), not rows
            values = {
                "id": store.finding_id("release", cfg.id, "event", ev, version), "project_id": cfg.project_id,
                "scan_config_id": cfg.id, "scope_type": "event", "scope_ref": ev, "event_type_id": types.get(ev),
                "app_version": str(version), "baseline_versions": [str(v) for v in earlier],
                "release_count": int(rel_count[ev]), "release_total": int(rel_total),
                "baseline_count": int(base_count[ev]), "baseline_total": int(base_total),
                "release_share": float(rel_count[ev] / rel_total),
                "baseline_share": float(expected[ev] / rel_total),  # the earlier releases' share, time-matched
                "ratio": float(ratio[ev]) if np.isfinite(ratio[ev]) else 0.0,
                "expected_count": float(expected[ev]), "z": float(z[ev]),
                "direction": "drop" if z[ev] < 0 else "spike", "is_regression": bool(flag[ev]),
                "detected_at": end,
            }
            stmt = insert(ReleaseRegression).values(**values)
            db.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={
                k: stmt.excluded[k] for k in values if k != "id"}))
            n += 1
            flagged += int(flag[ev])
    return {"release_regressions": flagged, "release_comparisons": n}


# --- reconciliation -----------------------------------------------------------------------------------------

def update_shadow_events(db: Session, cfg: ScanConfig, name_fields: pd.DataFrame | None) -> dict[str, int]:
    """Shadow candidates from every unmatched name this config has seen; counts recomputed from observed_names."""
    names = _frame(db, "SELECT event_type_value, event_name, MIN(event_type_id::text) AS event_type_id, "
                       "SUM(count) AS total, MIN(bucket) AS first_seen, MAX(bucket) AS last_seen, "
                       "BOOL_OR(event_id IS NOT NULL) AS matched FROM observed_names WHERE scan_config_id = :c "
                       "AND event_name IS NOT NULL AND event_name <> '' GROUP BY 1, 2", {"c": cfg.id})
    fields: dict[tuple[Any, Any], dict[str, str]] = {}
    if name_fields is not None and len(name_fields):
        nf = name_fields.dropna(subset=["field"])
        for (t, nm), part in nf.groupby(["event_type", "event_name"], dropna=False):
            fields[(None if t != t else t, nm)] = dict(zip(part["field"], part["type"], strict=True))
    unmatched = names[~names["matched"].astype(bool)]
    for _, r in unmatched.iterrows():  # distinct unmatched names, not rows
        etv = None if r["event_type_value"] is None or r["event_type_value"] != r["event_type_value"] \
            else r["event_type_value"]
        sample = fields.get((etv, r["event_name"]), {})
        values = {
            "id": store.finding_id("shadow", cfg.project_id, etv, r["event_name"]), "project_id": cfg.project_id,
            "scan_config_id": cfg.id, "event_type_id": r["event_type_id"], "event_type_value": etv,
            "name": r["event_name"], "total_count": int(r["total"]), "first_seen_at": r["first_seen"],
            "last_seen_at": r["last_seen"], "sample_fields": sample, "is_active": True,
        }
        stmt = insert(ShadowEventCandidate).values(**values)
        update = {k: stmt.excluded[k] for k in ("scan_config_id", "event_type_id", "total_count", "first_seen_at",
                                                "last_seen_at", "is_active")}
        if sample:
            update["sample_fields"] = ShadowEventCandidate.sample_fields.op("||")(stmt.excluded.sample_fields)
        db.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=update))
    matched = names[names["matched"].astype(bool)]
    if len(matched):
        db.execute(text("UPDATE shadow_event_candidates SET is_active = false, updated_at = now() "
                        "WHERE project_id = :p AND is_active AND name = ANY(:names)"),
                   {"p": cfg.project_id, "names": matched["event_name"].astype(str).tolist()})
    return {"shadow_events": len(unmatched)}
