"""The scan assets. Each is one step of `tripl_core.scanning.steps` on one (scan config, day) partition; the
heavy data stays in Postgres (scan_stages and the metric/finding tables) and only a small summary is passed on
as materialization metadata. A step commits its own writes; a failure rolls them back and fails the run with
the original message (the warehouse's own for warehouse errors)."""


from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from tripl_core.db.session import session_scope
from tripl_core.scanning import steps
from tripl_pipelines.partitions import MODE_TAG, SCAN_PARTITIONS

GROUP = "scans"


def _partition(context: dg.AssetExecutionContext) -> tuple[str, datetime]:
    keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
    day = datetime.strptime(keys["day"], "%Y-%m-%d").replace(tzinfo=UTC)
    return keys["scan_config"], day


def _metadata(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if isinstance(v, int | float | str) and not isinstance(v, bool)}


@dg.asset(partitions_def=SCAN_PARTITIONS, group_name=GROUP, kinds={"sql", "postgres"},
          description="One pushed-down aggregate per replay_chunk_interval chunk (counts per bucket × event type "
                      "× event name, top-K breakdowns, app versions, field presence/types, histograms) plus a "
                      "bounded random sample, staged in Postgres (scan_stages). Backfills and replays read the "
                      "whole day; scheduled runs (tag tripl/mode=incremental) only the buckets after the "
                      "watermark minus scan_lookback_hours.")
def warehouse_aggregates(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    config_id, day = _partition(context)
    incremental = context.run.tags.get(MODE_TAG) == "incremental"
    with session_scope() as db:
        cfg = steps.load_config(db, config_id)
        window = steps.incremental_window(db, cfg, day) if incremental else steps.full_day_window(day)
        if window is None:
            return dg.MaterializeResult(metadata={"skipped": "nothing due"})
        summary = steps.warehouse_aggregates(db, cfg, *window)
    return dg.MaterializeResult(metadata=_metadata(summary))


def _step_asset(name: str, fn: Callable[..., dict[str, Any]], deps: list[Any], description: str,
                after: Callable[..., None] | None = None) -> dg.AssetsDefinition:
    @dg.asset(name=name, partitions_def=SCAN_PARTITIONS, group_name=GROUP, deps=deps, description=description,
              kinds={"python", "postgres"})
    def _asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        config_id, day = _partition(context)
        with session_scope() as db:
            cfg = steps.load_config(db, config_id)
            summary = fn(db, cfg, day)
            if after is not None:
                after(context, db, cfg, day)
        return dg.MaterializeResult(metadata=_metadata(summary))

    return _asset


def _advance(context: dg.AssetExecutionContext, db: Any, cfg: Any, day: datetime) -> None:
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
    "Volume incidents (runs of anomalous buckets per scope and direction) with a forecast for open ones.")
schema_drifts = _step_asset(
    "schema_drifts", steps.schema_drifts, [event_metrics],
    "Schema drift per event type: new fields, missing required fields, type mismatches, enum values outside "
    "options, null-rate and bad-rate contract breaches. Accepted / snoozed / false-positive drifts stay closed.")
distribution_drifts = _step_asset(
    "distribution_drifts", steps.distribution_drifts, [event_metrics],
    "Value distribution of distribution_drift_fields on the day vs the 7 days before (chi-square + "
    "Jensen-Shannon + PSI).")
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
scan_partition_job = dg.define_asset_job("scan_partition", selection=SCAN_ASSETS, partitions_def=SCAN_PARTITIONS,
                                         executor_def=dg.in_process_executor,
                                         description="All scan steps of one (scan config, day) partition.")
