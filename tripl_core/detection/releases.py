"""Release regressions: did an event lose (or gain) volume in the newest app releases?

Raw counts mislead while a release rolls out — the new version has few users on day one — so each event is
measured as its **share of all events on the same versions** (events per active-version volume): if `purchase`
was 2 % of everything version 5.1 sent and is 0.2 % of what 5.2 sends, 5.2 lost it, however many users 5.2 has.

Per event, newest releases vs the earlier ones: a two-proportion z-test (pooled) on those shares gives z and a
two-sided p-value. A regression needs significance (p < p_value), a relative drop of at least `min_relative_change`
and enough evidence: the count the new releases *should* have sent at the old share must reach
`min_expected_count` (no verdicts on a release that sent a handful of events).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tripl_core.errors import Invalid

RELEASE_WINDOW_DAYS = 14  # a release regression compares the releases' rows of this many days up to the newest data


@dataclass(frozen=True)
class RegressionThresholds:
    p_value: float = 0.001
    min_relative_change: float = 0.3
    min_expected_count: float = 20.0

    def __post_init__(self) -> None:
        if not 0 < self.p_value < 1:
            raise Invalid("p_value", "p_value must be in (0, 1).")
        if not 0 < self.min_relative_change <= 1:
            raise Invalid("min_relative_change", "min_relative_change must be in (0, 1].")
        if self.min_expected_count < 0:
            raise Invalid("min_expected_count", "min_expected_count must not be negative.")


_PART = re.compile(r"\d+|[A-Za-z]+")


def version_key(version: str) -> tuple:
    """Natural sort key: 1.10.0 > 1.9.3, 2.0.0 > 2.0.0-rc1 (a pre-release tag sorts before the release)."""
    main, _, pre = str(version).strip().lstrip("vV").partition("-")
    nums = tuple((0, int(p)) if p.isdigit() else (1, p.lower()) for p in _PART.findall(main))
    return (nums, 1 if not pre else 0, tuple((0, int(p)) if p.isdigit() else (1, p) for p in _PART.findall(pre)))


def sort_versions(versions: Iterable[str]) -> list[str]:
    """Distinct versions, oldest first."""
    return sorted({str(v) for v in versions}, key=version_key)


def release_regressions(
    counts: pd.DataFrame,
    new_releases: int = 1,
    keep_releases: int | None = None,
    thresholds: RegressionThresholds | None = None,
    version_order: list[str] | None = None,
) -> pd.DataFrame:
    """Compare each event's share of volume in the newest releases with the earlier ones.

    counts: rows (event, app_version, count) — every event's count per version (all events of the scope, so the
        per-version totals are the adoption normaliser).
    new_releases: how many of the newest versions form the "after" side.
    keep_releases: only the newest this-many versions are considered at all (the project's
        app_version_keep_releases); None keeps every version.
    version_order: explicit oldest-first order; default natural version order.

    Returns one row per event: event, before_count, after_count, before_share, after_share, relative_change,
    expected_after, z, p_value, direction ("drop"/"rise"/None), regressed (bool) — drops first, by p-value.
    """
    th = thresholds or RegressionThresholds()
    missing = {"event", "app_version", "count"} - set(counts.columns)
    if missing:
        raise Invalid("counts", f"missing column(s): {', '.join(sorted(missing))}.")
    if new_releases < 1:
        raise Invalid("new_releases", "new_releases must be at least 1.")
    if keep_releases is not None and keep_releases <= new_releases:
        raise Invalid("keep_releases", "keep_releases must exceed new_releases (something to compare with).")
    values = pd.to_numeric(counts["count"], errors="coerce")
    if values.isna().any() or (values < 0).any():
        raise Invalid("counts", "count must be a non-negative number.")
    frame = counts.assign(count=values, app_version=counts["app_version"].astype(str))
    order = version_order or sort_versions(frame["app_version"])
    if keep_releases is not None:
        order = order[-keep_releases:]
    columns = ["event", "before_count", "after_count", "before_share", "after_share", "relative_change",
               "expected_after", "z", "p_value", "direction", "regressed"]
    if len(order) <= new_releases:
        return pd.DataFrame(columns=columns)
    after_versions = set(order[-new_releases:])
    frame = frame[frame["app_version"].isin(set(order))]
    side = np.where(frame["app_version"].isin(after_versions), "after", "before")
    table = frame.assign(side=side).pivot_table(index="event", columns="side", values="count", aggfunc="sum",
                                                fill_value=0.0)
    table = table.reindex(columns=["before", "after"], fill_value=0.0)
    n_before, n_after = table["before"].sum(), table["after"].sum()
    if n_before == 0 or n_after == 0:
        return pd.DataFrame(columns=columns)
    x_b, x_a = table["before"].to_numpy(float), table["after"].to_numpy(float)
    p_b, p_a = x_b / n_before, x_a / n_after
    pooled = (x_b + x_a) / (n_before + n_after)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_before + 1 / n_after))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(se > 0, (p_a - p_b) / se, 0.0)
        rel = np.where(p_b > 0, (p_a - p_b) / p_b, np.where(p_a > 0, np.inf, 0.0))
    from scipy import stats  # here: scipy.stats costs ~0.5 s to import in every API and run process

    p = 2 * stats.norm.sf(np.abs(z))
    expected_after = p_b * n_after
    significant = (p < th.p_value) & (np.abs(rel) >= th.min_relative_change)
    enough = np.maximum(expected_after, x_a) >= th.min_expected_count
    direction = np.where(significant & enough, np.where(z < 0, "drop", "rise"), None)
    out = pd.DataFrame(
        {
            "event": table.index,
            "before_count": x_b,
            "after_count": x_a,
            "before_share": p_b,
            "after_share": p_a,
            "relative_change": rel,
            "expected_after": expected_after,
            "z": z,
            "p_value": p,
            "direction": pd.Series(list(direction), dtype=object),
            "regressed": (direction == "drop") & (expected_after >= th.min_expected_count),
        }
    )
    out["_rank"] = np.where(out["regressed"], 0, np.where(out["direction"].notna(), 1, 2))
    out = out.sort_values(["_rank", "p_value", "event"], kind="stable").drop(columns="_rank")
    return out.reset_index(drop=True)
