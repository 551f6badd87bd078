"""Top movers of an anomalous bucket and the weekday × hour seasonality heatmap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tripl_core.detection.movers import expected_by_value, top_movers
from tripl_core.detection.seasonality import seasonality_heatmap
from tripl_core.errors import Invalid


def test_expected_by_value_splits_the_expected_total_by_baseline_share():
    e = expected_by_value({"ios": 300, "android": 600, "web": 100}, 2000)
    assert e.to_dict() == {"android": 1200.0, "ios": 600.0, "web": 200.0}
    assert expected_by_value({"a": 0}, 10).to_dict() == {"a": 0.0}


def test_top_movers_ranks_by_z_with_hand_checked_numbers():
    expected = {"ios": 600.0, "android": 1200.0, "web": 200.0}
    actual = {"ios": 590, "android": 300, "web": 210, "bot": 40}  # android lost most; a new value appeared
    out = top_movers(actual, expected)
    assert out["value"].tolist() == ["android", "bot", "web", "ios"]
    android = out.iloc[0]
    assert android["delta"] == -900 and android["relative_change"] == pytest.approx(-0.75)
    assert android["z"] == pytest.approx(2 * (np.sqrt(300.375) - np.sqrt(1200.375)))
    total_delta = -900 + 40 + 10 - 10
    assert android["contribution"] == pytest.approx(-900 / total_delta)
    assert out.iloc[1]["relative_change"] == np.inf and out.iloc[1]["expected"] == 0
    assert len(top_movers(actual, expected, limit=2)) == 2


@pytest.mark.parametrize("limit", [0, 101, 2.5, True])
def test_top_movers_limit_range(limit):
    with pytest.raises(Invalid) as err:
        top_movers({"a": 1}, {"a": 1}, limit=limit)
    assert err.value.loc[-1] == "limit"


def test_top_movers_rejects_negative_counts():
    with pytest.raises(Invalid) as err:
        top_movers({"a": -1}, {"a": 1})
    assert err.value.loc[-1] == "actual"


def test_heatmap_cells_hand_checked():
    index = pd.date_range("2026-01-05", periods=24 * 14 * 4, freq="15min", tz="UTC")  # two weeks from Monday
    counts = pd.Series(1.0, index=index)
    counts[(index.weekday == 0) & (index.hour == 9)] = 10.0  # Mondays 09:00 are busy
    flags = pd.Series(False, index=index)
    flags.iloc[[36, 37]] = True  # Monday 09:00 and 09:15 of the first week
    out = seasonality_heatmap(counts, flags)
    assert len(out["cells"]) == 168
    monday_nine = out["cells"][9]
    assert (monday_nine["weekday"], monday_nine["hour"]) == (0, 9)
    assert monday_nine["count"] == 80.0 and monday_nine["buckets"] == 8 and monday_nine["mean_count"] == 10.0
    assert monday_nine["anomalies"] == 2 and monday_nine["anomaly_density"] == 0.25
    assert out["cells"][24]["weekday"] == 1 and out["cells"][24]["count"] == 8.0
    assert out["max_count"] == 80.0
    assert out["total_count"] == float(counts.sum())


def test_heatmap_of_sparse_data_has_empty_cells():
    index = pd.DatetimeIndex(["2026-01-07 13:00"], tz="UTC")  # a Wednesday
    out = seasonality_heatmap(pd.Series([5.0], index=index))
    assert sum(c["buckets"] for c in out["cells"]) == 1
    assert out["cells"][2 * 24 + 13]["count"] == 5.0
    assert out["cells"][0]["mean_count"] == 0.0 and out["cells"][0]["anomaly_density"] == 0.0


def test_heatmap_rejects_bad_input():
    with pytest.raises(Invalid) as err:
        seasonality_heatmap(pd.Series([1.0]))
    assert err.value.loc[-1] == "counts"
