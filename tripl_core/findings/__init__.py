"""The findings API's domain: reads what the scans stored (tripl_core.db.models.metrics / findings) and the few
writes people make on findings (drift actions, shadow-event accept/dismiss, dead-event archive, anomaly settings).

Modules: `common` (scopes, windows, scan-config choice), `series` (volume series and overview), `signals`,
`rootcause` (top movers, heatmap, breakdowns), `releases`, `drifts`, `reconciliation`, `anomaly_settings`,
`stats` (data-source stats, project summary counts). See docs/findings.md.
"""
