"""Scans: read a warehouse through the adapters, map rows onto the plan, score, and store metrics and findings.

No Dagster here: `tripl_pipelines` wraps these steps as assets, and `runner` executes the same steps in-process
(tests, `tripl up` without Dagster). Steps, in order, for one scan config and one window [start, end):

1. `passes.aggregate_window` — one pushed-down aggregate per chunk + a bounded sample → `scan_stages`;
2. `metrics.write_metrics` — plan mapping, per-bucket series (scored by the volume detector), breakdowns, app
   versions, field observations, histograms, observed names, variables, `last_seen_at`;
3. `signals.update_signals`, `schema_drift.detect`, `distribution.detect`, `releases.detect`,
   `reconcile.update_shadow_events` — findings.
See docs/pipelines.md for the tables.
"""
