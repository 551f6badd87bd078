"""Distribution drift: has the mix of a field's values changed between a baseline window and the current one?

Three statistics, because each alone misleads:
- chi-square test of homogeneity (scipy) — is the change real, or sampling noise? On millions of rows it calls
  every wobble significant, so it never decides alone;
- Jensen–Shannon distance (base 2, in [0, 1]) — how far apart the two distributions are, symmetric and bounded;
- PSI (population stability index) — the credit-risk industry's rule of thumb: < 0.1 stable, 0.1–0.25 moderate,
  ≥ 0.25 major; we flag from 0.2.

Drifted = enough data on both sides AND p < p_value AND (JS ≥ js_distance OR PSI ≥ psi). Requiring significance
*and* an effect size keeps huge samples with tiny effects, and tiny samples with noisy effects, quiet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tripl_core.errors import Invalid

OTHER = "__other__"  # rare categories pooled for the chi-square test only
MISSING = "__missing__"


@dataclass(frozen=True)
class DriftThresholds:
    """Decision thresholds (documented in docs/detection.md)."""

    p_value: float = 0.001
    js_distance: float = 0.1
    psi: float = 0.2
    min_count: int = 50  # observations needed on each side before anything is judged
    min_expected_cell: float = 5.0  # chi-square validity: categories expected below this are pooled

    def __post_init__(self) -> None:
        if not 0 < self.p_value < 1:
            raise Invalid("p_value", "p_value must be in (0, 1).")
        if not 0 <= self.js_distance <= 1:
            raise Invalid("js_distance", "js_distance must be in [0, 1].")
        if self.psi < 0:
            raise Invalid("psi", "psi must not be negative.")
        if self.min_count < 1:
            raise Invalid("min_count", "min_count must be at least 1.")


@dataclass(frozen=True)
class DistributionDrift:
    categories: list[str]
    baseline_counts: list[float]
    current_counts: list[float]
    baseline_shares: list[float]
    current_shares: list[float]
    baseline_total: float
    current_total: float
    chi2: float | None
    p_value: float | None
    js_distance: float | None
    psi: float | None
    drifted: bool
    reason: str
    new_categories: list[str] = field(default_factory=list)
    vanished_categories: list[str] = field(default_factory=list)

    def top_changes(self, limit: int = 5) -> list[dict[str, Any]]:
        """Categories whose share moved most (absolute percentage points), largest first."""
        delta = np.asarray(self.current_shares) - np.asarray(self.baseline_shares)
        order = np.argsort(-np.abs(delta), kind="stable")[:limit]
        return [
            {
                "category": self.categories[i],
                "baseline_share": self.baseline_shares[i],
                "current_share": self.current_shares[i],
                "delta": float(delta[i]),
            }
            for i in order
        ]


def _counts(histogram: Mapping[Any, float], side: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in histogram.items():
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise Invalid(side, f"count of {key!r} must be a number.")
        if not np.isfinite(value) or value < 0:
            raise Invalid(side, f"count of {key!r} must be a finite, non-negative number.")
        name = MISSING if key is None else str(key)
        out[name] = out.get(name, 0.0) + float(value)
    return out


def psi(baseline_shares: np.ndarray, current_shares: np.ndarray, floor: float = 1e-4) -> float:
    """Population stability index; empty bins are floored so an unseen category costs a finite amount."""
    b = np.maximum(baseline_shares, floor)
    c = np.maximum(current_shares, floor)
    return float(np.sum((c - b) * np.log(c / b)))


def _chi_square(b: np.ndarray, c: np.ndarray, min_expected: float) -> tuple[float, float]:
    """2×K homogeneity test after pooling categories too rare for the chi-square approximation."""
    total = b + c
    expected_min = np.minimum(total * b.sum() / total.sum(), total * c.sum() / total.sum())
    rare = expected_min < min_expected
    table = np.vstack([b[~rare], c[~rare]])
    if rare.any():
        table = np.column_stack([table, [b[rare].sum(), c[rare].sum()]])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    from scipy import stats  # here: scipy.stats costs ~0.5 s to import in every API and run process

    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    return float(chi2), float(p)


def compare_histograms(
    baseline: Mapping[Any, float],
    current: Mapping[Any, float],
    thresholds: DriftThresholds | None = None,
) -> DistributionDrift:
    """Compare two histograms {category or bin label: count}; None keys count as the `__missing__` category."""
    th = thresholds or DriftThresholds()
    base, cur = _counts(baseline, "baseline"), _counts(current, "current")
    categories = sorted(set(base) | set(cur), key=lambda k: (-(base.get(k, 0.0) + cur.get(k, 0.0)), k))
    b = np.array([base.get(k, 0.0) for k in categories])
    c = np.array([cur.get(k, 0.0) for k in categories])
    nb, nc = float(b.sum()), float(c.sum())
    bs = b / nb if nb else np.zeros_like(b)
    cs = c / nc if nc else np.zeros_like(c)
    new = [k for k in categories if base.get(k, 0.0) == 0 and cur.get(k, 0.0) > 0]
    vanished = [k for k in categories if base.get(k, 0.0) > 0 and cur.get(k, 0.0) == 0]
    common = {
        "categories": categories,
        "baseline_counts": b.tolist(),
        "current_counts": c.tolist(),
        "baseline_shares": bs.tolist(),
        "current_shares": cs.tolist(),
        "baseline_total": nb,
        "current_total": nc,
        "new_categories": new,
        "vanished_categories": vanished,
    }
    if nb < th.min_count or nc < th.min_count:
        return DistributionDrift(
            **common, chi2=None, p_value=None, js_distance=None, psi=None, drifted=False,
            reason=f"not enough data (need {th.min_count} observations on each side)",
        )
    chi2, p = _chi_square(b, c, th.min_expected_cell)
    from scipy.spatial.distance import jensenshannon

    js = float(jensenshannon(bs, cs, base=2)) if len(categories) > 1 else 0.0
    js = 0.0 if not np.isfinite(js) else js
    index = psi(bs, cs)
    significant = p < th.p_value
    large = js >= th.js_distance or index >= th.psi
    if significant and large:
        reason = f"p={p:.2g} < {th.p_value}, JS={js:.3f}, PSI={index:.3f}"
    elif significant:
        reason = f"significant (p={p:.2g}) but small (JS={js:.3f} < {th.js_distance}, PSI={index:.3f} < {th.psi})"
    else:
        reason = f"not significant (p={p:.2g} ≥ {th.p_value})"
    return DistributionDrift(
        **common, chi2=chi2, p_value=p, js_distance=js, psi=index, drifted=bool(significant and large),
        reason=reason,
    )


def numeric_bins(baseline_values: Sequence[float] | np.ndarray, bins: int = 10) -> np.ndarray:
    """Bin edges at the baseline's quantiles (open-ended outer bins), so each baseline bin holds ~equal mass."""
    if not 2 <= bins <= 100:
        raise Invalid("bins", "bins must be between 2 and 100.")
    values = np.asarray(baseline_values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise Invalid("baseline_values", "at least one finite baseline value is needed to place bins.")
    inner = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.concatenate([[-np.inf], inner, [np.inf]])


def histogram(values: Sequence[float] | np.ndarray, edges: np.ndarray) -> dict[str, float]:
    """Counts of numeric values per bin, labelled "[lo, hi)"; NaN/None counted as `__missing__`."""
    arr = np.asarray(values, dtype=float)
    finite = np.isfinite(arr)
    counts, _ = np.histogram(arr[finite], bins=edges)
    labels = [f"[{lo:g}, {hi:g})" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    out = {label: float(n) for label, n in zip(labels, counts, strict=True)}
    missing = float((~finite).sum())
    if missing:
        out[MISSING] = missing
    return out


def compare_numeric(
    baseline_values: Sequence[float] | np.ndarray,
    current_values: Sequence[float] | np.ndarray,
    bins: int = 10,
    thresholds: DriftThresholds | None = None,
) -> DistributionDrift:
    """Numeric drift: bin both samples on the baseline's quantiles, then compare the histograms."""
    edges = numeric_bins(baseline_values, bins)
    return compare_histograms(histogram(baseline_values, edges), histogram(current_values, edges), thresholds)
