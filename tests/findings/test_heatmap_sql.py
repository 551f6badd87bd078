"""The seasonality heatmap aggregated in SQL equals `detection.seasonality_heatmap` over the same stored buckets."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from tests.findings.conftest import BASE, STEP, T0
from tripl_core.detection.seasonality import seasonality_heatmap


def test_sql_heatmap_equals_the_detection_function(owner, seed, plan):
    cfg = seed.config()
    home = plan["events"]["home"]["id"]
    rng = np.random.default_rng(3)
    start = T0 - timedelta(days=9, hours=5)  # not a Monday, not midnight
    n = 4 * 24 * 20
    idx = rng.choice(n, size=900, replace=False)  # gaps: buckets without a stored row
    counts = {int(i): int(c) for i, c in zip(idx, rng.poisson(40, size=len(idx)), strict=True)}
    flagged = {int(i): {"is_anomaly": True} for i in idx[:60]}
    seed.points(cfg, "event", home, counts, start=start, v=flagged)
    seed.points(cfg, "project_total", None, {0: 10_000}, start=start)  # another scope: not counted
    frm, to = start + 7 * STEP, start + timedelta(days=19)
    r = owner.get(f"{BASE}/scans/{cfg.id}/seasonality", params={"scope_type": "event", "scope_ref": home,
                                                                "from": frm.isoformat(), "to": to.isoformat()})
    assert r.status_code == 200, r.text
    keep = sorted(i for i in counts if frm <= start + i * STEP < to)
    index = pd.DatetimeIndex([start + i * STEP for i in keep])
    want = seasonality_heatmap(pd.Series([float(counts[i]) for i in keep], index=index),
                               pd.Series([i in flagged for i in keep], index=index))
    got = r.json()
    assert got["cells"] == want["cells"]
    assert (got["max_count"], got["total_count"]) == (want["max_count"], want["total_count"])
    assert sum(c["anomalies"] for c in got["cells"]) == sum(1 for i in keep if i in flagged) > 0
