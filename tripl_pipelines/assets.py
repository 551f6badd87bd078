"""The scan assets. Each is one step of `tripl_core.scanning.steps` over a range of (scan config, day) partitions:
one config and up to `DAYS_PER_RUN` consecutive days per run (the BackfillPolicy; a single partition is a range
of one). The heavy data stays in Postgres (scan_stages and the metric/finding tables); each day's summary is that
partition's materialization metadata (numbers the UI plots, plus a Markdown line linking back to tripl). Each
step commits per day; a failure rolls that day back and fails the run with the original message (the
warehouse's own for warehouse errors). Earlier days of the range stay, like the in-process runner's.
"""


import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import dagster as dg
from sqlalchemy.orm import Session

from tripl_core import links
from tripl_core.db.models.scans import ScanJob, ScanJobKind
from tripl_core.db.models.sources import ScanConfig
from tripl_core.scanning import steps
from tripl_core.settings import get_settings
from tripl_pipelines import checks
from tripl_pipelines.partitions import (
    BACKFILL_POLICY,
    JOB_TAG,
    MODE_TAG,
    SCAN_PARTITIONS,
    day_of_key,
    partition_key,
    resolve_config,
)
from tripl_pipelines.resources import TriplDatabase, WarehouseClients

GROUP = "scans"


def partition_range(context: dg.AssetExecutionContext) -> tuple[str, list[datetime]]:
    """(config key, days) of the run: a range of consecutive days of one config."""
    keys = [SCAN_PARTITIONS.get_partition_key_from_str(str(k)) for k in context.partition_keys]
    configs = {k.keys_by_dimension["config"] for k in keys}
    if len(configs) != 1:
        raise dg.Failure(description=f"A scan run covers one scan config; this range spans {sorted(configs)}. "
                                     "Backfill one config at a time.")
    return configs.pop(), sorted(day_of_key(k.keys_by_dimension["day"]) for k in keys)


def _numbers(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _record(context: dg.AssetExecutionContext, key: str, day: datetime, summary: dict[str, Any]) -> None:
    """Per-partition metadata: the numbers (plotted by the UI across partitions), skip reasons, and a Markdown
    line linking back to tripl's console (the scan job that asked for the run, the project's findings)."""
    meta: dict[str, Any] = _numbers(summary)
    if "skipped" in summary:
        meta["skipped"] = str(summary["skipped"])
    base, slug = links.base_url(get_settings()), key.split("/", 1)[0]
    parts = [f"[{slug} in tripl]({links.project_page(base, slug)})"]
    if context.run.tags.get(JOB_TAG):
        parts.append(f"[scan job]({links.scan_job_page(base, slug, context.run.tags[JOB_TAG])})")
    meta["tripl"] = dg.MetadataValue.md(" · ".join(parts))
    context.add_asset_metadata(meta, partition_key=partition_key(key, day))


def _days(context: dg.AssetExecutionContext, tripl_db: TriplDatabase,
          fn: Callable[[Session, ScanConfig, datetime], dict[str, Any]]) -> dict[str, Any]:
    key, days = partition_range(context)
    totals: dict[str, Any] = {"days": 0}
    for day in days:
        with tripl_db.session() as db:
            cfg = resolve_config(db, key)
            summary = fn(db, cfg, day)
        _record(context, key, day, summary)
        totals["days"] += 1
        for k, v in _numbers(summary).items():
            totals[k] = totals.get(k, 0) + v
    context.log.info("%s %s, %d day(s) from %s: %s", context.asset_key.to_user_string(), key, len(days),
                     f"{days[0]:%Y-%m-%d}", totals)
    return totals


def replay_end(context: dg.AssetExecutionContext, db: Session) -> datetime | None:
    """The time_to of the Replay Scan Metrics job that asked for this run (None for UI backfills and scheduled
    runs): a replay is cut there, as the in-process runner cuts it (`runner.plan_windows`)."""
    job_id = context.run.tags.get(JOB_TAG)
    if not job_id:
        return None
    try:
        job = db.get(ScanJob, uuid.UUID(job_id))
    except ValueError:
        return None
    return job.time_to if job is not None and job.kind == ScanJobKind.replay else None


@dg.asset(partitions_def=SCAN_PARTITIONS, backfill_policy=BACKFILL_POLICY, group_name=GROUP,
          kinds={"sql", "postgres"},
          description="One pushed-down aggregate per replay_chunk_interval chunk (counts per bucket × event type "
                      "× event name, top-K breakdowns, app versions, field presence/types, histograms) plus a "
                      "bounded random sample, staged in Postgres (scan_stages). Backfills read whole days, "
                      "replays whole days up to the replay's time_to; scheduled runs (tag tripl/mode=incremental) "
                      "only the buckets after the watermark minus scan_lookback_hours. One warehouse client per "
                      "run.")
def warehouse_aggregates(context: dg.AssetExecutionContext, tripl_db: TriplDatabase,
                         warehouse: WarehouseClients) -> dg.MaterializeResult:
    key, days = partition_range(context)
    incremental = context.run.tags.get(MODE_TAG) == "incremental"
    totals: dict[str, Any] = {"days": 0}
    with tripl_db.session() as db:
        cfg = resolve_config(db, key)
        client_cm = warehouse.client(cfg)
        until = None if incremental else replay_end(context, db)
    with client_cm as client, tripl_db.session() as db:
        cfg = resolve_config(db, key)
        # the run's days are read together: one newest-data probe, one aggregate and one sample statement
        # (`steps.warehouse_aggregates_range`), staged per day
        windows = [(steps.incremental_window(db, cfg, day) if incremental else steps.full_day_window(day, until))
                   for day in days]
        due = [w for w in windows if w]
        reads = iter(steps.warehouse_aggregates_range(db, cfg, due, adapter=client))
        summaries = [next(reads) if w else {"skipped": "nothing due"} for w in windows]
    for day, summary in zip(days, summaries, strict=True):
        _record(context, key, day, summary)
        totals["days"] += 1
        for k, v in _numbers(summary).items():
            totals[k] = totals.get(k, 0) + v
    context.log.info("warehouse_aggregates %s, %d day(s): %s", key, len(days), totals)
    return dg.MaterializeResult()


def _step_asset(name: str, fn: Callable[..., dict[str, Any]], deps: list[Any], description: str,
                after: Callable[..., None] | None = None,
                check: tuple[str, str, Callable[..., dg.AssetCheckResult]] | None = None,
                per_range: Callable[[Session, ScanConfig, list[datetime]], dict[datetime, dict[str, Any]]]
                | None = None) -> dg.AssetsDefinition:
    specs = [dg.AssetCheckSpec(check[0], asset=name, description=check[1])] if check else None

    @dg.asset(name=name, partitions_def=SCAN_PARTITIONS, backfill_policy=BACKFILL_POLICY, group_name=GROUP,
              deps=deps, description=description, kinds={"python", "postgres"}, check_specs=specs)
    def _asset(context: dg.AssetExecutionContext, tripl_db: TriplDatabase) -> dg.MaterializeResult:
        def one_day(db: Session, cfg: ScanConfig, day: datetime) -> dict[str, Any]:
            summary = fn(db, cfg, day)
            if after is not None:
                after(context, db, cfg, day)
            return summary

        if per_range is None:
            _days(context, tripl_db, one_day)
        else:  # the step works on the run's days at once (each day's own numbers are its metadata)
            key, days = partition_range(context)
            with tripl_db.session() as db:
                judged = per_range(db, resolve_config(db, key), days)
            for day in days:
                _record(context, key, day, judged.get(day, {"skipped": "nothing stored"}))
            context.log.info("%s %s, %d day(s) from %s: %d day(s) judged", name, key, len(days),
                             f"{days[0]:%Y-%m-%d}", len(judged))
        if check is None:
            return dg.MaterializeResult()
        key, days = partition_range(context)
        with tripl_db.session() as db:
            result = check[2](db, resolve_config(db, key), days)
        return dg.MaterializeResult(check_results=[result])

    return _asset


def _advance(context: dg.AssetExecutionContext, db: Session, cfg: ScanConfig, day: datetime) -> None:
    """Scheduled runs move the config's watermark to the end of what they scanned."""
    if context.run.tags.get(MODE_TAG) != "incremental":
        return
    from tripl_core.scanning.passes import load_stage

    _, _, end = load_stage(db, cfg, day)
    if end is not None:
        steps.advance_watermark(db, cfg, end)


event_metrics = _step_asset(
    "event_metrics", steps.event_metrics, [warehouse_aggregates],
    "Maps the staged aggregates onto the plan (event_type_column, event_name_format, event_group_rules → main "
    "branch events) and writes per-bucket series for project_total / event_type / event scopes with their "
    "anomaly band (volume detector, project anomaly settings), breakdowns, app versions, field observations, "
    "histograms, observed names, variable values and events.last_seen_at.", after=_advance)
anomaly_signals = _step_asset(
    "anomaly_signals", steps.anomaly_signals, [event_metrics],
    "Volume incidents (runs of anomalous buckets per scope and direction) with a forecast for open ones.",
    check=(checks.VOLUME_CHECK, "Volume incidents touching the run's days (links to their console pages).",
           checks.volume_check))
schema_drifts = _step_asset(
    "schema_drifts", steps.schema_drifts, [event_metrics],
    "Schema drift per event type: new fields, missing required fields, type mismatches, enum values outside "
    "options, null-rate and bad-rate contract breaches. Accepted / snoozed / false-positive drifts stay closed.",
    check=(checks.CONTRACT_CHECK, "Open contract breaches (schema drifts) seen in the run's days.",
           checks.contract_check))
distribution_drifts = _step_asset(
    "distribution_drifts", steps.distribution_drifts, [event_metrics],
    "Value distribution of distribution_drift_fields on the day vs the 7 days before (chi-square + "
    "Jensen-Shannon + PSI); a run judges each day its days touch once.", per_range=steps.distribution_drifts_days)
release_regressions = _step_asset(
    "release_regressions", steps.release_regressions, [event_metrics],
    "Events whose share of volume in the newest app releases moved against earlier releases (adoption-"
    "normalised).")
reconciliation = _step_asset(
    "reconciliation", steps.reconciliation, [event_metrics],
    "Plan vs warehouse: names seen but not planned become shadow-event candidates (coverage is read from "
    "observed names).")

SCAN_ASSETS = [warehouse_aggregates, event_metrics, anomaly_signals, schema_drifts, distribution_drifts,
               release_regressions, reconciliation]
# in-process: the steps are sequential and short; the default multiprocess executor spent ~2 min per run
# starting one Python process per asset
scan_partition_job = dg.define_asset_job("scan_partition", selection=SCAN_ASSETS,
                                         executor_def=dg.in_process_executor,
                                         description="All scan steps of a range of days of one scan config.")
