"""Helpers for pipeline tests: run jobs in-process and read back the stored rows."""

from __future__ import annotations

import uuid
from datetime import datetime

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from tripl_core.db.models.scans import ScanJob, ScanJobKind
from tripl_core.scanning import runner

SNAPSHOT_TABLES = {
    "metric_points": "scope_type, scope_ref, bucket",
    "metric_forecasts": "scope_type, scope_ref",
    "breakdown_points": "scope_type, scope_ref, bucket, \"column\", value, is_other",
    "app_version_points": "scope_type, scope_ref, bucket, app_version, is_other",
    "field_observations": "bucket, event_type_value, field",
    "histogram_points": "bucket, event_type_id, field, value, is_other",
    "observed_names": "bucket, event_type_value, event_name",
    "anomaly_signals": "id",
    "schema_drifts": "id",
    "distribution_drifts": "id",
    "release_regressions": "id",
    "shadow_event_candidates": "id",
}
_VOLATILE = {"id", "created_at", "updated_at"}


def replay(db: Session, scan: dict, time_from: datetime, time_to: datetime) -> ScanJob:
    job = ScanJob(project_id=uuid.UUID(scan["project_id"]), scan_config_id=uuid.UUID(scan["id"]),
                  kind=ScanJobKind.replay, time_from=time_from, time_to=time_to, trigger="inprocess")
    db.add(job)
    db.commit()
    return runner.run_job(db, job)


def rows(db: Session, table: str, where: str = "", **params) -> pd.DataFrame:
    sql = f"SELECT * FROM {table} {('WHERE ' + where) if where else ''}"
    return pd.read_sql_query(text(sql), db.connection(), params=params)


def snapshot(db: Session) -> dict[str, list[tuple]]:
    """Every scan output table as sorted tuples without surrogate ids and timestamps of the write."""
    out = {}
    for table, order in SNAPSHOT_TABLES.items():
        df = pd.read_sql_query(text(f"SELECT * FROM {table} ORDER BY {order}"), db.connection())
        keep = [c for c in df.columns if c not in _VOLATILE or table in ("anomaly_signals", "schema_drifts",
                                                                          "distribution_drifts",
                                                                          "release_regressions",
                                                                          "shadow_event_candidates")
                and c == "id"]
        df = df[keep].astype(str)
        out[table] = sorted(map(tuple, df.to_numpy().tolist()))
    return out
