"""Seasonality heatmap: 7 weekdays × 24 hours of volume and anomaly density, for "when does this event live?".

Buckets are attributed to the (weekday, hour) of their start in UTC (pass a converted index for another zone).
Per cell: total volume, number of buckets, mean volume per bucket, anomalous buckets and anomaly density
(anomalous / buckets). `max_count` is the largest cell total (the colour scale), `total_count` the sum.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tripl_core.errors import Invalid


def seasonality_heatmap(counts: pd.Series, anomalies: pd.Series | None = None) -> dict[str, Any]:
    """All 168 cells, weekday 0 = Monday, ordered by weekday then hour."""
    if not isinstance(counts.index, pd.DatetimeIndex):
        raise Invalid("counts", "counts must have a DatetimeIndex of bucket starts.")
    values = pd.to_numeric(counts, errors="coerce").fillna(0.0).to_numpy(float)
    if (values < 0).any():
        raise Invalid("counts", "counts must not be negative.")
    flags = np.zeros(len(values), dtype=bool)
    if anomalies is not None:
        flags = anomalies.reindex(counts.index).fillna(False).astype(bool).to_numpy()
    index = counts.index.tz_convert("UTC") if counts.index.tz is not None else counts.index
    cell = index.weekday.to_numpy() * 24 + index.hour.to_numpy()
    volume = np.bincount(cell, weights=values, minlength=168)
    buckets = np.bincount(cell, minlength=168)
    anomalous = np.bincount(cell, weights=flags.astype(float), minlength=168)
    return heatmap_from_cells(volume, buckets, anomalous)


def heatmap_from_cells(volume: np.ndarray, buckets: np.ndarray, anomalous: np.ndarray) -> dict[str, Any]:
    """The heatmap from per-cell totals (168 each, cell = weekday * 24 + hour): volume, buckets, anomalous buckets.
    Lets a caller aggregate in SQL (GROUP BY cell) instead of shipping every bucket."""
    cells = [
        {
            "weekday": int(c // 24),
            "hour": int(c % 24),
            "count": float(volume[c]),
            "buckets": int(buckets[c]),
            "mean_count": float(volume[c] / buckets[c]) if buckets[c] else 0.0,
            "anomalies": int(anomalous[c]),
            "anomaly_density": float(anomalous[c] / buckets[c]) if buckets[c] else 0.0,
        }
        for c in range(168)
    ]
    return {"cells": cells, "max_count": float(volume.max()), "total_count": float(volume.sum())}
