"""Scan configs: what to read from a data source for one project, and how to bucket and slice it.

On create and update the base query is checked (one read-only SELECT, see `warehouse.safety`) and, when the
source answers, probed with a zero-row query: the query must run and every referenced column (time, event type,
app version, breakdown, drift, the column under each JSON path) must be in its output, else 422 naming the
field. When the source is unreachable the config is saved with `verification_status = "unverified"` and the
driver's message in `verification_message`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.plan import EventType
from tripl_core.db.models.projects import Project
from tripl_core.db.models.sources import DataSource, ScanConfig
from tripl_core.errors import Invalid, NotFound
from tripl_core.sources import data_sources
from tripl_core.warehouse import WarehouseError, WarehouseUnavailable, dialect_for, parse_field_ref
from tripl_core.warehouse.safety import parse_base_query
from tripl_core.warehouse.sql import parse_name_format

FIELDS = [
    "event_type_id", "name", "base_query", "event_type_column", "time_column", "event_name_format",
    "json_value_paths", "event_group_rules", "metric_breakdown_columns", "metric_breakdown_values_limit",
    "distribution_drift_fields", "cardinality_threshold", "interval", "replay_chunk_interval",
    "scan_lookback_hours", "scan_row_limit", "metrics_row_limit", "app_version_column",
    "app_version_keep_releases",
]
NULLABLE = {
    "event_type_id", "event_type_column", "time_column", "event_name_format", "metric_breakdown_values_limit",
    "scan_lookback_hours", "scan_row_limit", "metrics_row_limit", "app_version_column",
    "app_version_keep_releases",
}
# Changing these re-runs the probe.
QUERY_FIELDS = {"base_query", "event_type_column", "time_column", "event_name_format", "json_value_paths",
                "metric_breakdown_columns", "distribution_drift_fields", "app_version_column"}
SINGLE_COLUMNS = ("time_column", "event_type_column", "app_version_column")
LIST_COLUMNS = ("metric_breakdown_columns", "distribution_drift_fields", "json_value_paths")


def list_for_project(db: Session, project: Project) -> list[ScanConfig]:
    return list(db.scalars(select(ScanConfig).where(ScanConfig.project_id == project.id)
                           .order_by(ScanConfig.name, ScanConfig.created_at)))


def get(db: Session, project: Project, scan_id: uuid.UUID) -> ScanConfig:
    cfg = db.get(ScanConfig, scan_id)
    if cfg is None or cfg.project_id != project.id:
        raise NotFound(f"Scan config '{scan_id}' not found in project '{project.slug}'.")
    return cfg


def _source(db: Session, ds_id: uuid.UUID) -> DataSource:
    ds = db.get(DataSource, ds_id)
    if ds is None:
        raise Invalid("data_source_id", f"Data source '{ds_id}' does not exist.")
    return ds


def _check_event_type(db: Session, project: Project, event_type_id: uuid.UUID | None) -> None:
    if event_type_id is None:
        return
    et = db.get(EventType, event_type_id)
    if et is None or et.project_id != project.id:
        raise Invalid("event_type_id", f"Event type '{event_type_id}' is not in project '{project.slug}'.")


def referenced_columns(values: dict[str, Any]) -> list[tuple[str, str]]:
    """(field name, base-query column) pairs that must exist in the query output; validates their syntax."""
    out: list[tuple[str, str]] = []
    for name in SINGLE_COLUMNS:
        if values.get(name):
            ref = parse_field_ref(values[name], name)
            if name == "time_column" and ref.is_json:
                raise Invalid(name, "The time column must be a column of the query, not a JSON path.")
            out.append((name, ref.column))
    for name in LIST_COLUMNS:
        for item in values.get(name) or []:
            out.append((name, parse_field_ref(item, name).column))
    if values.get("event_name_format"):
        for part in parse_name_format(values["event_name_format"]):
            if not isinstance(part, str):
                out.append(("event_name_format", part.column))
    return out


def _check_rules(rules: list[dict[str, Any]]) -> None:
    for i, rule in enumerate(rules or []):
        if not isinstance(rule, dict):
            raise Invalid(["event_group_rules", i], "Each rule is an object.")
        name = rule.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise Invalid(["event_group_rules", i, "name"], "A rule's name is a non-empty string.")


def verify(ds: DataSource, values: dict[str, Any]) -> dict[str, Any]:
    """Static checks, then the zero-row probe. Returns the verification columns to store on the config."""
    dialect = dialect_for(ds.db_type)
    parse_base_query(values["base_query"], dialect)
    refs = referenced_columns(values)
    _check_rules(values.get("event_group_rules") or [])
    now = datetime.now(UTC)
    try:
        adapter = data_sources.adapter_for(ds)
        try:
            columns = adapter.probe(values["base_query"])
        finally:
            adapter.close()
    except WarehouseUnavailable as exc:
        return {"verification_status": "unverified", "verified_at": None, "probed_columns": None,
                "verification_message": f"Saved without checking: the data source is unreachable ({exc})."}
    except WarehouseError as exc:
        raise Invalid("base_query", f"The warehouse rejected the query: {exc}") from exc
    names = {c.name for c in columns}
    lowered = {n.lower() for n in names}
    for field, column in refs:
        if column not in names and column.lower() not in lowered:
            raise Invalid(field, f"Column '{column}' is not in the query's output "
                                 f"(columns: {', '.join(sorted(names)) or 'none'}).")
    return {"verification_status": "verified", "verified_at": now, "verification_message": None,
            "probed_columns": [{"name": c.name, "type": c.type} for c in columns]}


def create(db: Session, actor: audit.Actor, project: Project, data: dict[str, Any]) -> ScanConfig:
    ds = _source(db, data["data_source_id"])
    _check_event_type(db, project, data.get("event_type_id"))
    values = {k: data.get(k) for k in FIELDS if k in data}
    for key in ("json_value_paths", "event_group_rules", "metric_breakdown_columns", "distribution_drift_fields"):
        values[key] = values.get(key) or []
    values.update(verify(ds, values))
    cfg = ScanConfig(project_id=project.id, data_source_id=ds.id, **values)
    db.add(cfg)
    db.flush()
    audit.record(db, actor, "scan_config.create", "scan_config", cfg.id, cfg.name, project=project,
                 after=audit.snapshot(cfg, ["data_source_id", *FIELDS, "verification_status"]))
    db.commit()
    return cfg


def update(db: Session, actor: audit.Actor, project: Project, cfg: ScanConfig,
           changes: dict[str, Any]) -> ScanConfig:
    """PATCH: `null` clears nullable fields and is ignored for the others."""
    before = audit.snapshot(cfg, [*FIELDS, "verification_status"])
    if "event_type_id" in changes:
        _check_event_type(db, project, changes["event_type_id"])
    applied = {k: v for k, v in changes.items() if k in FIELDS and (v is not None or k in NULLABLE)}
    values = {k: getattr(cfg, k) for k in FIELDS} | applied
    if QUERY_FIELDS & applied.keys():
        values.update(verify(cfg.data_source, values))
    elif "event_group_rules" in applied:
        _check_rules(applied["event_group_rules"])
    for key, value in values.items():
        if getattr(cfg, key) != value:
            setattr(cfg, key, value)
    db.flush()
    b, a = audit.changed(before, audit.snapshot(cfg, [*FIELDS, "verification_status"]))
    audit.record(db, actor, "scan_config.update", "scan_config", cfg.id, cfg.name, project=project,
                 before=b, after=a)
    db.commit()
    return cfg


def delete(db: Session, actor: audit.Actor, project: Project, cfg: ScanConfig) -> None:
    audit.record(db, actor, "scan_config.delete", "scan_config", cfg.id, cfg.name, project=project,
                 before=audit.snapshot(cfg, ["data_source_id", "name", "base_query"]))
    db.delete(cfg)
    db.commit()
