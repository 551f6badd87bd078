"""Release regressions: adoption-normalised share of volume, two-proportion z-test, minimum-volume guard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tripl_core.detection.releases import (
    RegressionThresholds,
    release_regressions,
    sort_versions,
    version_key,
)
from tripl_core.errors import Invalid


def counts(spec: dict[str, dict[str, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(event, version, n) for version, events in spec.items() for event, n in events.items()],
        columns=["event", "app_version", "count"],
    )


def test_event_lost_in_the_new_release_is_a_regression_with_hand_checked_numbers():
    data = counts({
        "5.0": {"purchase": 2000, "view": 98000},
        "5.1": {"purchase": 1600, "view": 78400},
        "5.2": {"purchase": 10, "view": 4990},
    })
    out = release_regressions(data).set_index("event")
    row = out.loc["purchase"]
    assert row["regressed"] and row["direction"] == "drop"
    assert row["before_share"] == pytest.approx(3600 / 180000) and row["after_share"] == pytest.approx(10 / 5000)
    assert row["expected_after"] == pytest.approx(100.0)
    pooled = 3610 / 185000
    z = (10 / 5000 - 3600 / 180000) / np.sqrt(pooled * (1 - pooled) * (1 / 180000 + 1 / 5000))
    assert row["z"] == pytest.approx(z) and row["p_value"] < 1e-15
    assert not out.loc["view"]["regressed"] and out.loc["view"]["direction"] is None
    assert out.index[0] == "purchase", "regressions first"


def test_slow_rollout_is_not_a_regression():
    # 5.2 has 1 % of the users but the same mix: counts are low, shares are not
    data = counts({"5.1": {"purchase": 2000, "view": 98000}, "5.2": {"purchase": 21, "view": 979}})
    out = release_regressions(data)
    assert not out["regressed"].any() and out["direction"].isna().all()


def test_minimum_volume_guard():
    # the new release should have sent 4 purchases and sent 0: significant maybe, but too little to judge
    data = counts({"5.1": {"purchase": 2000, "view": 98000}, "5.2": {"purchase": 0, "view": 200}})
    out = release_regressions(data).set_index("event")
    assert out.loc["purchase"]["expected_after"] == pytest.approx(4.0)
    assert not out.loc["purchase"]["regressed"]
    assert release_regressions(data, thresholds=RegressionThresholds(min_expected_count=2, p_value=0.05)).set_index(
        "event").loc["purchase"]["regressed"]


def test_rise_is_reported_but_not_a_regression():
    data = counts({"1.0": {"error": 100, "view": 99900}, "1.1": {"error": 500, "view": 99500}})
    row = release_regressions(data).set_index("event").loc["error"]
    assert row["direction"] == "rise" and not row["regressed"]


def test_keep_and_new_releases_select_the_versions():
    data = counts({
        "1.0": {"a": 0, "b": 1000},  # outside keep_releases=3: ignored
        "1.1": {"a": 500, "b": 500},
        "1.2": {"a": 500, "b": 500},
        "1.10": {"a": 100, "b": 900},
    })
    out = release_regressions(data, keep_releases=3).set_index("event")
    assert out.loc["a"]["before_share"] == pytest.approx(0.5)
    assert out.loc["a"]["regressed"]
    two_new = release_regressions(data, new_releases=2, keep_releases=3).set_index("event")
    assert two_new.loc["a"]["before_share"] == pytest.approx(0.5) and two_new.loc["a"]["after_count"] == 600


def test_version_order():
    assert sort_versions(["1.10.0", "1.9.3", "2.0.0", "2.0.0-rc1", "v1.2"]) == [
        "v1.2", "1.9.3", "1.10.0", "2.0.0-rc1", "2.0.0"
    ]
    assert version_key("10.0") > version_key("9.9")


def test_single_version_gives_no_rows():
    assert release_regressions(counts({"1.0": {"a": 5}})).empty


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"counts": pd.DataFrame({"event": ["a"], "count": [1]})}, "counts"),
        ({"counts": pd.DataFrame({"event": ["a"], "app_version": ["1"], "count": [-1]})}, "counts"),
        ({"new_releases": 0}, "new_releases"),
        ({"keep_releases": 1}, "keep_releases"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    args = {"counts": counts({"1": {"a": 1}, "2": {"a": 1}})} | kwargs
    with pytest.raises(Invalid) as err:
        release_regressions(**args)
    assert err.value.loc[-1] == field


@pytest.mark.parametrize(("kwargs", "field"), [({"p_value": 1}, "p_value"), ({"min_relative_change": 0}, "min_relative_change"),
                                              ({"min_expected_count": -1}, "min_expected_count")])
def test_bad_thresholds_name_the_field(kwargs, field):
    with pytest.raises(Invalid) as err:
        RegressionThresholds(**kwargs)
    assert err.value.loc[-1] == field
