"""Scan previews: run a base query on a worker thread and keep a summary the UI polls.

The API enqueues (status `pending`), a bounded `ThreadPoolExecutor` (size `TRIPL_PREVIEW_WORKERS`) runs it
(`running` → `succeeded` | `failed`). `result_summary`:

    {"columns": [{"name", "type"}], "rows": [...up to limit...], "row_count": n, "elapsed_ms": t,
     "window": {"time_column", "since"} | null, "json_values": {"props.a": [...]} (requested json_value_paths),
     "json_paths": [{"column", "path", "types", "samples", "seen"}]  (with include_json_paths)}

JSON paths are discovered in the sampled rows (up to DISCOVERY_ROWS) of columns whose warehouse type is JSON or
whose values are JSON objects. Jobs left `pending`/`running` by a stopped API process are not resumed (a new
preview is cheap), but they must not keep a poller waiting forever: reading a job that has been running longer
than its data source's timeout plus a grace period, or pending longer than ORPHAN_PENDING, marks it failed with a
message saying to run the preview again. (A startup sweep would be wrong with several API worker processes: one
worker's start would fail another's live jobs.)
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.projects import Project
from tripl_core.db.models.sources import DataSource, PreviewStatus, ScanPreviewJob
from tripl_core.db.session import new_session
from tripl_core.errors import Invalid, NotFound
from tripl_core.settings import get_settings
from tripl_core.sources import data_sources
from tripl_core.warehouse import WarehouseError, dialect_for, parse_field_ref
from tripl_core.warehouse.safety import parse_base_query
from tripl_core.warehouse.sql import BuiltQuery, utc_naive
from tripl_core.warehouse.util import scrub_message

log = logging.getLogger("tripl.previews")

ORPHAN_GRACE = timedelta(minutes=2)
ORPHAN_PENDING = timedelta(minutes=30)
DISCOVERY_ROWS = 200
MAX_PATHS = 500
MAX_SAMPLES = 5

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=get_settings().preview_workers,
                                       thread_name_prefix="tripl-preview")
        return _pool


def enqueue(db: Session, actor: audit.Actor, project: Project, request: dict[str, Any]) -> ScanPreviewJob:
    """Validate the request now (422s belong to the caller), store a pending job and submit it."""
    ds = db.get(DataSource, request["data_source_id"])
    if ds is None:
        raise Invalid("data_source_id", f"Data source '{request['data_source_id']}' does not exist.")
    parse_base_query(request["base_query"], dialect_for(ds.db_type))
    if request.get("time_column"):
        ref = parse_field_ref(request["time_column"], "time_column")
        if ref.is_json:
            raise Invalid("time_column", "The time column must be a column of the query, not a JSON path.")
    for path in request.get("json_value_paths") or []:
        if not parse_field_ref(path, "json_value_paths").is_json:
            raise Invalid("json_value_paths", f"'{path}' is not a JSON path (use column.key[.key…]).")
    job = ScanPreviewJob(project_id=project.id, data_source_id=ds.id, requested_by=actor.user.id,
                         status=PreviewStatus.pending, request=json.loads(json.dumps(request, default=str)))
    db.add(job)
    db.flush()
    audit.record(db, actor, "scan_preview.create", "scan_preview", job.id, ds.name, project=project,
                 after={"data_source_id": ds.id, "limit": request.get("limit")})
    db.commit()
    submit(job.id)
    return job


def submit(job_id: uuid.UUID) -> Future[None]:
    return pool().submit(run, job_id)


def get(db: Session, project: Project, job_id: uuid.UUID) -> ScanPreviewJob:
    job = db.get(ScanPreviewJob, job_id)
    if job is None or job.project_id != project.id:
        raise NotFound(f"Preview job '{job_id}' not found in project '{project.slug}'.")
    _fail_if_orphaned(db, job)
    return job


def _fail_if_orphaned(db: Session, job: ScanPreviewJob) -> None:
    """A job no live worker can still finish (its process stopped) is failed instead of polled forever."""
    now = datetime.now(UTC)
    if job.status == PreviewStatus.running and job.started_at is not None:
        ds = db.get(DataSource, job.data_source_id)
        limit = timedelta(seconds=ds.timeout_seconds if ds else get_settings().warehouse_timeout_seconds)
        if now - job.started_at <= limit + ORPHAN_GRACE:
            return
    elif not (job.status == PreviewStatus.pending and now - job.created_at > ORPHAN_PENDING):
        return
    job.status, job.completed_at = PreviewStatus.failed, now
    job.error_message = ("The preview was interrupted (the API process running it stopped before it finished); "
                         "run the preview again.")
    db.commit()


def run(job_id: uuid.UUID) -> None:
    """Worker body: own session, never raises (the outcome is stored on the job)."""
    db = new_session()
    try:
        job = db.get(ScanPreviewJob, job_id)
        if job is None or job.status != PreviewStatus.pending:
            return
        job.status, job.started_at = PreviewStatus.running, datetime.now(UTC)
        db.commit()
        ds = db.get(DataSource, job.data_source_id)
        try:
            summary = execute(ds, job.request)
            job.status, job.result_summary = PreviewStatus.succeeded, summary
        except WarehouseError as exc:
            job.status, job.error_message = PreviewStatus.failed, str(exc)
        except Exception as exc:  # stored, not raised: the poller must learn the outcome
            log.warning("preview %s failed unexpectedly: %s", job_id, type(exc).__name__)  # no text: may hold secrets
            config = data_sources.connection_config(ds) if ds else None
            message = scrub_message(exc, config) if config else str(exc)
            job.status, job.error_message = PreviewStatus.failed, f"{type(exc).__name__}: {message}"[:2000]
        job.completed_at = datetime.now(UTC)
        try:
            db.commit()
        except Exception as exc:  # e.g. a value JSONB refuses: still finish the job
            db.rollback()
            job = db.get(ScanPreviewJob, job_id)
            if job is not None:
                job.status, job.completed_at = PreviewStatus.failed, datetime.now(UTC)
                job.error_message = f"The preview ran but its result could not be stored ({type(exc).__name__})."
                db.commit()
    finally:
        db.close()


def execute(ds: DataSource, request: dict[str, Any]) -> dict[str, Any]:
    """Run the preview and build `result_summary`."""
    limit = int(request.get("limit") or 10)
    adapter = data_sources.adapter_for(ds)
    started = time.perf_counter()
    try:
        columns = adapter.probe(request["base_query"])
        since = None
        if request.get("time_column") and request.get("scan_lookback_hours"):
            since = utc_naive(datetime.now(UTC) - timedelta(hours=int(request["scan_lookback_hours"])))
        sample_size = max(limit, DISCOVERY_ROWS) if request.get("include_json_paths") else limit
        paths = [parse_field_ref(p, "json_value_paths") for p in request.get("json_value_paths") or []]
        query = adapter.sql.preview(request["base_query"], sample_size, request.get("time_column"), since)
        if paths:
            query = _with_paths(adapter.sql, query, request, since, sample_size, paths)
        frame = adapter.query_df(query)
    finally:
        adapter.close()
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    shown = frame.head(limit)
    base_cols = [c.name for c in columns]
    summary: dict[str, Any] = {
        "columns": [{"name": c.name, "type": c.type} for c in columns],
        "rows": _records(shown[[c for c in base_cols if c in shown.columns]]),
        "row_count": len(shown),
        "elapsed_ms": elapsed_ms,
        "window": {"time_column": request.get("time_column"), "since": since.isoformat() + "Z"} if since else None,
    }
    if paths:
        summary["json_values"] = {p.label: _records(shown[[p.label]].rename(columns={p.label: "v"}),
                                                    key="v") for p in paths}
    if request.get("include_json_paths"):
        json_cols = [c.name for c in columns if "json" in c.type.lower()]
        summary["json_paths"] = discover_json_paths(frame, json_cols)
    return summary


def _with_paths(sql: Any, query: BuiltQuery, request: dict[str, Any], since: datetime | None, size: int,
                paths: list[Any]) -> BuiltQuery:
    """The preview with one extra column per requested JSON path (extracted in the warehouse)."""
    from sqlglot import exp

    params: dict[str, Any] = {}
    types: dict[str, str] = {}
    tree = exp.select(exp.Star(), *[sql.field_expr(p).as_(p.label, quoted=True) for p in paths]).from_(
        sql.source(request["base_query"]))
    cond = sql.window_filter(request.get("time_column"), since, None, params, types)
    if cond is not None:
        tree = tree.where(cond)
    tree = tree.limit(size)
    return BuiltQuery(sql.render(tree), params, types, max_rows=size)


def _records(frame: pd.DataFrame, key: str | None = None) -> list[Any]:
    """JSON-safe rows via pandas' vectorised JSON writer (dates as ISO, NaN as null)."""
    rows = json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))
    return [r[key] for r in rows] if key else rows


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def _walk(doc: Any, prefix: tuple[str, ...], out: dict[tuple[str, ...], dict[str, Any]]) -> None:
    if not isinstance(doc, dict):
        return
    for key, value in doc.items():
        path = (*prefix, str(key))
        entry = out.setdefault(path, {"types": set(), "samples": [], "seen": 0})
        entry["types"].add(_json_type(value))
        entry["seen"] += 1
        finite = not isinstance(value, float) or math.isfinite(value)  # JSONB refuses NaN/Infinity
        if not isinstance(value, dict | list) and value is not None and finite \
                and len(entry["samples"]) < MAX_SAMPLES and value not in entry["samples"]:
            entry["samples"].append(value)
        if isinstance(value, dict) and len(out) < MAX_PATHS:
            _walk(value, path, out)


def discover_json_paths(frame: pd.DataFrame, json_columns: list[str]) -> list[dict[str, Any]]:
    """Paths, observed JSON types and sample values in JSON columns (and text columns holding JSON objects).

    Runs on the preview sample only (≤ DISCOVERY_ROWS rows), so the Python walk is bounded.
    """
    found: list[dict[str, Any]] = []
    text_columns = [c for c in frame.columns if frame[c].dtype == object or str(frame[c].dtype) == "string"]
    candidates = [*json_columns, *text_columns]
    for column in dict.fromkeys(candidates):
        if column not in frame.columns:
            continue
        docs = []
        for value in frame[column].dropna().head(DISCOVERY_ROWS):
            if isinstance(value, str):
                text = value.strip()
                if not text.startswith("{"):
                    continue
                try:
                    value = json.loads(text)
                except ValueError:
                    continue
            if isinstance(value, dict):
                docs.append(value)
        if not docs:
            continue
        paths: dict[tuple[str, ...], dict[str, Any]] = {}
        for doc in docs:
            _walk(doc, (), paths)
        for path, entry in sorted(paths.items()):
            found.append({"column": str(column), "path": ".".join((str(column), *path)),
                          "types": sorted(entry["types"]), "samples": entry["samples"], "seen": entry["seen"],
                          "rows": len(docs)})
    return found
