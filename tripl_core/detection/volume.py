"""Volume anomalies: the public entry points over the vectorised engine (`tripl_core.detection.engine`).

- `score_series(counts, settings)`: one series → DataFrame(expected, lower, upper, z, is_anomaly, direction).
- `score_frame(frame, settings)`: many series as columns of one frame → dict of frames, same columns.
- `forecast(counts, horizon, settings)`: the band of the next `horizon` buckets (`forecast_frame` for many).

Missing buckets (gaps in a regular index) are counted as **zero**: a GROUP BY over raw events produces no row for a
bucket without events, so a gap is an outage, not a lack of knowledge. A NaN value, by contrast, means "not
measured" (a failed or pending scan): it is neither judged nor learned. The output has exactly the input's index;
pass a zero-filled series if you want verdicts for the gaps themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from tripl_core.detection.config import VolumeSettings, coerce_settings
from tripl_core.detection.engine import score_matrix
from tripl_core.errors import Invalid

COLUMNS = ("expected", "lower", "upper", "z", "is_anomaly", "direction")
_DIRECTIONS = np.array([None, "spike", "drop"], dtype=object)

SettingsLike = VolumeSettings | Mapping[str, Any] | Any | None


def _interval(index: pd.Index, field: str) -> pd.Timedelta:
    """The bucket interval: the smallest step between consecutive buckets."""
    if not isinstance(index, pd.DatetimeIndex):
        raise Invalid(field, "counts must have a DatetimeIndex of bucket starts.")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise Invalid(field, "bucket timestamps must be strictly increasing.")
    if len(index) < 2:
        return pd.Timedelta(hours=1)
    step = pd.Timedelta(np.diff(index.values).min())
    if step < pd.Timedelta(seconds=1):
        raise Invalid(field, "buckets must be at least one second apart.")
    return step


MAX_BUCKETS = 5_000_000  # a regular grid longer than this is a mistake (a stray timestamp), not a series


def _grid(index: pd.DatetimeIndex, step: pd.Timedelta, field: str) -> pd.DatetimeIndex:
    """The full regular grid from the first to the last bucket (gaps are filled with zero counts)."""
    if len(index) == 0:
        return index
    if (index[-1] - index[0]) / step + 1 > MAX_BUCKETS:
        raise Invalid(field, f"the buckets span more than {MAX_BUCKETS} steps of {step}.")
    grid = pd.date_range(index[0], index[-1], freq=step)
    if not index.isin(grid).all():
        raise Invalid(field, f"bucket timestamps are not on a regular {step} grid.")
    return grid


def _values(frame: pd.DataFrame | pd.Series, field: str) -> pd.DataFrame | pd.Series:
    try:
        values = frame.astype("float64")
    except (TypeError, ValueError) as exc:
        raise Invalid(field, "counts must be numeric.") from exc
    if np.any(values.to_numpy() < 0):
        raise Invalid(field, "counts must not be negative.")
    return values


MONDAY = pd.Timestamp("1970-01-05")  # weekly phases are counted from a Monday 00:00 UTC


def _phase(index: pd.DatetimeIndex) -> float:
    """Seconds from the Monday 00:00 UTC before the first bucket (naive timestamps are UTC)."""
    first = index[0].tz_convert("UTC").tz_localize(None) if index.tz is not None else index[0]
    return float((first - MONDAY) / pd.Timedelta(seconds=1)) % (7 * 86_400)


def _matrix_result(x: np.ndarray, step: pd.Timedelta, settings: VolumeSettings,
                   index: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Run the engine on a (buckets × series) matrix (it splits wide ones over two threads itself, in place)."""
    return score_matrix(x, step.total_seconds(), settings, _phase(index) if len(index) else 0.0)


def score_series(counts: pd.Series, settings: SettingsLike = None) -> pd.DataFrame:
    """Score one series of bucket counts (regular UTC DatetimeIndex, 5m … 1d); online, seasonal, robust."""
    cfg = coerce_settings(settings)
    step = _interval(counts.index, "counts")
    values = _values(counts, "counts")
    grid = _grid(counts.index, step, "counts")
    x = values.reindex(grid, fill_value=0.0).to_numpy()[:, None]
    res = _matrix_result(x, step, cfg, grid) if len(grid) else {k: np.empty((0, 1)) for k in COLUMNS}
    pos = grid.get_indexer(counts.index) if len(grid) else np.empty(0, dtype=np.intp)
    out = pd.DataFrame({k: res[k][pos, 0] for k in ("expected", "lower", "upper", "z")}, index=counts.index)
    out["is_anomaly"] = res["is_anomaly"][pos, 0].astype(bool)
    out["direction"] = pd.Series(_DIRECTIONS[res["direction"][pos, 0].astype(np.intp)], index=counts.index,
                                 dtype=object)
    return out


def score_frame(frame: pd.DataFrame, settings: SettingsLike = None) -> dict[str, pd.DataFrame]:
    """Score many series at once: columns are series, the index is the bucket grid.

    Returns {"expected", "lower", "upper", "z", "is_anomaly", "direction"} → frames shaped like the input.
    `direction` is int8 here (1 spike, −1 drop, 0 none; see `direction_label`): twenty million Python strings
    would cost more than the detection itself. This is the path the pipelines (and bench/detection_speed.py)
    use for thousands of series.
    """
    cfg = coerce_settings(settings)
    step = _interval(frame.index, "frame")
    grid = _grid(frame.index, step, "frame")
    regular = len(grid) == len(frame.index)
    values = frame if regular else frame.reindex(grid, fill_value=0.0)
    try:  # one conversion to float32; pandas hands it over column-major, which is the engine's one-series-per-row
        x = values.to_numpy(dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise Invalid("frame", "counts must be numeric.") from exc
    if (x < 0).any():
        raise Invalid("frame", "counts must not be negative.")
    res = _matrix_result(x, step, cfg, grid)
    pos = None if regular else grid.get_indexer(frame.index)
    out = {}
    for key in COLUMNS:
        data = res[key] if pos is None else res[key][pos]
        out[key] = pd.DataFrame(data, index=frame.index, columns=frame.columns, copy=False)
    return out


def direction_label(code: int) -> str | None:
    """"spike", "drop" or None for a direction code of `score_frame`."""
    return {1: "spike", -1: "drop"}.get(int(code))


def _check_horizon(horizon: int) -> None:
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or not 1 <= horizon <= 10_000:
        raise Invalid("horizon", "horizon must be an integer between 1 and 10000.")


def forecast(counts: pd.Series, horizon: int, settings: SettingsLike = None) -> pd.DataFrame:
    """Expected count and band for the `horizon` buckets after the last one.

    The future buckets are scored as unknown, so each step's baseline is the previous steps' expectation: the
    seasonal shape and the latest level carry forward.
    """
    _check_horizon(horizon)
    step = _interval(counts.index, "counts")
    if len(counts.index) == 0:
        raise Invalid("counts", "at least one bucket is needed to forecast.")
    future = pd.date_range(counts.index[-1] + step, periods=int(horizon), freq=step)
    extended = pd.concat([_values(counts, "counts"), pd.Series(np.nan, index=future)])
    scored = score_series(extended, settings)
    return scored.loc[future, ["expected", "lower", "upper"]]


def forecast_frame(frame: pd.DataFrame, horizon: int, settings: SettingsLike = None) -> dict[str, pd.DataFrame]:
    """`forecast` for many series at once: {"expected", "lower", "upper"} → frames of `horizon` future rows."""
    _check_horizon(horizon)
    step = _interval(frame.index, "frame")
    if len(frame.index) == 0:
        raise Invalid("frame", "at least one bucket is needed to forecast.")
    future = pd.date_range(frame.index[-1] + step, periods=int(horizon), freq=step)
    extended = pd.concat([frame, pd.DataFrame(np.nan, index=future, columns=frame.columns)])
    scored = score_frame(extended, settings)
    return {key: scored[key].loc[future] for key in ("expected", "lower", "upper")}
