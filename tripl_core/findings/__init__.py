"""The findings API's domain: reads what the scans stored (tripl_core.db.models.metrics / findings) and the few
writes people make on findings (drift actions, shadow-event accept/dismiss, dead-event archive, anomaly settings).

Modules: `common` (scopes, windows, scan-config choice), `series` (volume series), `overview` (window totals,
KPIs, top events), `signals`, `rootcause` (top movers, heatmap, breakdowns), `releases`, `drifts`,
`reconciliation`, `anomaly_settings`, `stats` (data-source stats), `summary` (the project summary's
`open_drifts`). See docs/findings.md.
"""
