"""Top movers: which breakdown values (country, platform, app version…) moved an anomalous bucket's total.

Each value's expected count in the bucket is its share of the scope over the baseline window times the bucket's
expected total (from the volume detector), so a value that is usually 30 % of traffic is expected to be 30 % of
what the bucket should have held. Per value: actual, expected, delta, contribution (its share of the total
delta — what explains the anomaly) and z on Anscombe's variance-stabilised scale, 2·(√(a+3/8) − √(e+3/8)), which
is fair between big and small values (a raw difference favours the biggest, a ratio the smallest).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from tripl_core.errors import Invalid

COLUMNS = ["value", "actual", "expected", "delta", "relative_change", "contribution", "z"]


def _series(data: Mapping[str, float] | pd.Series, field: str) -> pd.Series:
    s = pd.Series(data, dtype="float64") if not isinstance(data, pd.Series) else data.astype("float64")
    if s.isna().any() or (s < 0).any():
        raise Invalid(field, f"{field} counts must be non-negative numbers.")
    s.index = s.index.map(str)
    return s.groupby(level=0).sum()


def expected_by_value(baseline: Mapping[str, float] | pd.Series, expected_total: float) -> pd.Series:
    """Split a bucket's expected total over values by their share of the baseline window."""
    base = _series(baseline, "baseline")
    if expected_total < 0 or not np.isfinite(expected_total):
        raise Invalid("expected_total", "expected_total must be a finite, non-negative number.")
    total = base.sum()
    return base * (expected_total / total) if total > 0 else base * 0.0


def top_movers(
    actual: Mapping[str, float] | pd.Series,
    expected: Mapping[str, float] | pd.Series,
    limit: int = 10,
) -> pd.DataFrame:
    """Values ranked by |z| (then |delta|), at most `limit` rows. Values present on one side only count as 0
    on the other (a value that vanished, or appeared, is often the whole story)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise Invalid("limit", "limit must be an integer between 1 and 100.")
    a, e = _series(actual, "actual"), _series(expected, "expected")
    index = a.index.union(e.index)
    a, e = a.reindex(index, fill_value=0.0), e.reindex(index, fill_value=0.0)
    delta = a - e
    total_delta = float(delta.sum())
    z = 2.0 * (np.sqrt(a + 0.375) - np.sqrt(e + 0.375))
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(e > 0, delta / e, np.where(a > 0, np.inf, 0.0))
    contribution = delta / total_delta if total_delta != 0 else delta * 0.0
    out = pd.DataFrame(
        {
            "value": index.astype(object),
            "actual": a.to_numpy(),
            "expected": e.to_numpy(),
            "delta": delta.to_numpy(),
            "relative_change": relative,
            "contribution": contribution.to_numpy(),
            "z": z.to_numpy(),
        }
    )
    out["_abs_z"], out["_abs_d"] = out["z"].abs(), out["delta"].abs()
    out = out.sort_values(["_abs_z", "_abs_d", "value"], ascending=[False, False, True], kind="stable")
    return out.drop(columns=["_abs_z", "_abs_d"]).head(limit).reset_index(drop=True)
