"""Distribution drift: chi-square + Jensen–Shannon + PSI on crafted histograms with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tripl_core.detection.distribution import (
    MISSING,
    DriftThresholds,
    compare_histograms,
    compare_numeric,
    numeric_bins,
    psi,
)
from tripl_core.errors import Invalid


def test_same_mix_is_not_drift():
    r = compare_histograms({"ios": 5000, "android": 5000}, {"ios": 5100, "android": 4900})
    assert not r.drifted
    assert r.p_value == pytest.approx(stats.chi2_contingency([[5000, 5000], [5100, 4900]], correction=False)[1])
    assert r.p_value > 0.1


def test_big_shift_and_unseen_category_are_drift():
    r = compare_histograms({"ios": 5000, "android": 5000}, {"ios": 8000, "android": 2000, "web": 500})
    assert r.drifted
    assert r.new_categories == ["web"] and r.vanished_categories == []
    # hand-checked: shares 0.5/0.5/0 vs 0.762/0.190/0.048
    cur = np.array([8000, 2000, 500]) / 10500
    base = np.array([0.5, 0.5, 0.0])
    assert r.current_shares == pytest.approx(list(cur[[0, 1, 2]]))
    assert r.psi == pytest.approx(float(np.sum((cur - np.maximum(base, 1e-4)) * np.log(cur / np.maximum(base, 1e-4)))))
    m = (cur + base) / 2
    js = np.sqrt(0.5 * np.sum(cur * np.log2(cur / m)) + 0.5 * np.sum(base[:2] * np.log2(base[:2] / m[:2])))
    assert r.js_distance == pytest.approx(js, rel=1e-6)
    assert r.top_changes(1)[0]["category"] == "android"  # −31 points vs +26 for ios


def test_huge_sample_tiny_effect_is_not_drift():
    r = compare_histograms({"a": 500_000, "b": 500_000}, {"a": 510_000, "b": 490_000})
    assert r.p_value < 1e-10, "significant…"
    assert r.js_distance < 0.1 and r.psi < 0.2
    assert not r.drifted, "…but too small to matter"
    assert "small" in r.reason


def test_small_sample_is_not_judged():
    r = compare_histograms({"a": 10, "b": 10}, {"a": 20, "b": 0})
    assert not r.drifted and r.p_value is None and "not enough data" in r.reason
    assert not compare_histograms({"a": 40, "b": 40}, {"a": 30, "b": 20}).drifted


def test_vanished_category_and_missing_values():
    r = compare_histograms({"a": 900, "b": 100, None: 0}, {"a": 1000, None: 300})
    assert r.vanished_categories == ["b"]
    assert MISSING in r.new_categories
    assert r.drifted


def test_thresholds_are_honoured():
    base, cur = {"a": 5500, "b": 4500}, {"a": 5000, "b": 5000}
    loose = compare_histograms(base, cur)
    assert loose.p_value < 0.001 and loose.js_distance < 0.1 and loose.psi < 0.2 and not loose.drifted
    strict = compare_histograms(base, cur, DriftThresholds(js_distance=0.03))
    assert strict.drifted


def test_psi_floor_keeps_empty_bins_finite():
    assert np.isfinite(psi(np.array([1.0, 0.0]), np.array([0.5, 0.5])))
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0


def test_numeric_shift_is_drift_and_same_distribution_is_not():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 5000)
    assert compare_numeric(base, rng.normal(0.5, 1, 5000)).drifted
    assert not compare_numeric(base, rng.normal(0, 1, 5000)).drifted
    edges = numeric_bins(base, 4)
    assert edges[0] == -np.inf and edges[-1] == np.inf and len(edges) == 5
    assert edges[2] == pytest.approx(np.quantile(base, 0.5))


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: compare_histograms({"a": -1}, {"a": 1}), "baseline"),
        (lambda: compare_histograms({"a": 1}, {"a": "x"}), "current"),
        (lambda: DriftThresholds(p_value=0), "p_value"),
        (lambda: DriftThresholds(js_distance=2), "js_distance"),
        (lambda: DriftThresholds(psi=-1), "psi"),
        (lambda: DriftThresholds(min_count=0), "min_count"),
        (lambda: numeric_bins([1.0, 2.0], 1), "bins"),
        (lambda: numeric_bins([np.nan], 5), "baseline_values"),
    ],
)
def test_bad_input_names_the_field(call, field):
    with pytest.raises(Invalid) as err:
        call()
    assert err.value.loc[-1] == field
