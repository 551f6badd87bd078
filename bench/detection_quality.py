"""Labelled evaluation of volume-anomaly detectors: tripl's score_frame vs Elementary / re_data-style baselines.

Real data first: the labelled real series of `shared/data/labelled-volumes`, scored by `shared/tools/score_volume.py`
itself (its own `evaluate`, so the rules are identical: episodes = runs of flagged buckets, an episode starting
outside every window is a false alarm), at 1-hour buckets and at the native 5 minutes, with the peers and the
published detectors of the same run, and tripl at neighbouring sensitivities (sigma_threshold 4 … 6) to show how
much the figures depend on that choice. The shared folder is found next to the checkout or its parent, or at
$TRIPL_SHARED_DIR; without it that part is skipped (--no-real skips it on purpose).

Synthetic after:
Synthetic but realistic series: daily and weekly seasonality, trend, noise regimes from a few events per bucket to
a hundred thousand, over-dispersion, level shifts that should be *learned*, holidays, unknown (NaN) stretches and
natural zeros, with injected, labelled incidents: spikes, drops, outages to zero and gradual ramps.

Scoring is per event window, as in NAB: an incident window is [start, end + tolerance]; consecutive alarms form one
alarm group; a group touching a window is a true positive, a group entirely inside an ignored region (the first
day after a level shift, an unknown stretch) is ignored, any other group is a false positive. Recall counts
windows with at least one alarm.

    .venv/bin/python bench/detection_quality.py [--series 400] [--seed 7] [--no-real]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tripl_core.detection.volume import score_frame  # noqa: E402

DAY = 86_400
INTERVALS = {"5m": (300, 2016), "15m": (900, 2016), "1h": (3600, 2016), "1d": (DAY, 400)}


@dataclass
class Series:
    interval: str
    values: np.ndarray
    windows: list[tuple[int, int, str]] = field(default_factory=list)  # [start, end] inclusive, kind
    ignore: np.ndarray | None = None
    regime: str = ""


def _profile(hours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A two-hump day (morning and evening peaks) with a random phase."""
    shift = rng.uniform(-2, 2)
    h = (hours + shift) % 24
    morning = np.exp(-((h - 10) ** 2) / 8)
    evening = rng.uniform(0.5, 1.2) * np.exp(-((h - 20) ** 2) / 6)
    return 0.15 + morning + evening


def make_series(rng: np.random.Generator, interval: str) -> Series:
    seconds, T = INTERVALS[interval]
    t = np.arange(T)
    ts = t * seconds
    hours = (ts % DAY) / 3600
    weekday = (ts // DAY) % 7
    peak = 10 ** rng.uniform(-0.3, 5.0)
    daily_amp = rng.uniform(0.0, 1.0) if seconds < DAY else 0.0
    prof = _profile(hours, rng)
    shape = (1 - daily_amp) + daily_amp * prof / prof.max()
    weekend = rng.uniform(0.4, 1.1) if rng.random() < 0.7 else 1.0
    shape = shape * np.where(weekday >= 5, weekend, 1.0)
    trend = np.exp(rng.uniform(-0.3, 0.5) * t / T)
    lam = peak * shape * trend
    ignore = np.zeros(T, dtype=bool)
    per_day = max(DAY // seconds, 1)
    start_ok = max(int(0.25 * T), 2 * per_day if 4 * per_day < T else int(0.25 * T))
    # level shift: permanent; the first day after it is ignored, later alarms are false
    if rng.random() < 0.3:
        at = int(rng.integers(int(0.4 * T), int(0.85 * T)))
        factor = rng.uniform(0.5, 0.7) if rng.random() < 0.5 else rng.uniform(1.4, 2.0)
        lam[at:] *= factor
        ignore[at : at + max(per_day, 12)] = True
    # holiday: a whole day a little lower; not an incident
    if seconds < DAY and rng.random() < 0.25:
        day = int(rng.integers(start_ok // per_day + 1, T // per_day - 1))
        lam[day * per_day : (day + 1) * per_day] *= rng.uniform(0.75, 0.9)
    dispersion = rng.choice([0.0, 0.05, 0.15])
    mean = lam * (rng.lognormal(-dispersion**2 / 2, dispersion, T) if dispersion else 1.0)
    # incidents, injected into the mean before the count noise
    windows: list[tuple[int, int, str]] = []
    daily = seconds >= DAY
    taken = ignore.copy()
    for _ in range(int(rng.integers(1, 4))):
        kind = str(rng.choice(["spike", "drop", "outage", "ramp"]))
        length = {
            "spike": rng.integers(1, 4 if not daily else 2),
            "drop": rng.integers(2, 13 if not daily else 3),
            "outage": rng.integers(3, 25) if not daily else rng.integers(1, 3),
            "ramp": rng.integers(12, 49) if not daily else rng.integers(3, 6),
        }[kind]
        s = int(rng.integers(start_ok, T - length - 4))
        e = s + int(length) - 1
        if taken[max(s - per_day, 0) : e + per_day].any():
            continue
        if kind == "spike":
            mean[s : e + 1] *= rng.uniform(2.0, 6.0)
        elif kind == "drop":
            mean[s : e + 1] *= rng.uniform(0.1, 0.5)
        elif kind == "outage":
            mean[s : e + 1] = 0.0
        else:
            top = rng.uniform(2.0, 3.0)
            half = (e - s + 1) // 2
            ramp = np.concatenate([np.linspace(1, top, half), np.linspace(top, 1, e - s + 1 - half)])
            mean[s : e + 1] *= ramp
        windows.append((s, e, kind))
        taken[s : e + 1] = True
    values = rng.poisson(mean).astype(float)
    if rng.random() < 0.2:  # unknown stretch (a failed scan): not measured, not an incident
        s = int(rng.integers(start_ok, T - 13))
        if not taken[s : s + 12].any():
            values[s : s + int(rng.integers(2, 12))] = np.nan
            ignore[s : s + 12] = True
    typical = float(np.nanmedian(lam))
    regime = "tiny (<10)" if typical < 10 else ("medium (<1k)" if typical < 1000 else "large (≥1k)")
    return Series(interval, values, windows, ignore, regime)


# ---- baselines: what Elementary and re_data do ---------------------------------------------------------------


def rolling_z(frame: pd.DataFrame, window: int, threshold: float, min_periods: int) -> np.ndarray:
    """Elementary volume_anomalies / re_data z_score: trailing mean and std, |z| > threshold."""
    past = frame.shift(1).rolling(window, min_periods=min_periods)
    z = (frame - past.mean()) / past.std()
    return (z.abs() > threshold).to_numpy().T


def seasonal_z(frame: pd.DataFrame, period: int, periods: int, threshold: float, min_periods: int) -> np.ndarray:
    """Elementary with seasonality (hour_of_day / day_of_week): mean and std of the same phase in past periods."""
    x = frame.to_numpy().T
    n, T = x.shape
    stack = np.full((periods, n, T), np.nan)
    for k in range(1, periods + 1):
        if k * period < T:
            stack[k - 1, :, k * period :] = x[:, : T - k * period]
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(stack, axis=0)
        std = np.nanstd(stack, axis=0, ddof=1)
        z = (x - mean) / std
    enough = np.arange(T) >= min_periods
    return (np.abs(np.nan_to_num(z)) > threshold) & enough


def modified_z(frame: pd.DataFrame, window: int, threshold: float, min_periods: int) -> np.ndarray:
    """re_data modified_z_score: trailing median and MAD, 0.6745·|x − median| / MAD > threshold."""
    past = frame.shift(1).rolling(window, min_periods=min_periods)
    med = past.median()
    mad = (frame.shift(1) - med).abs().rolling(window, min_periods=min_periods).median()
    z = 0.6745 * (frame - med) / mad
    return (z.abs() > threshold).to_numpy().T


# ---- scoring --------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    windows: int = 0
    found: int = 0
    tp: int = 0
    fp: int = 0
    buckets: int = 0

    def add(self, other: Tally) -> None:
        for name in ("windows", "found", "tp", "fp", "buckets"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def row(self) -> tuple[float, float, float, float]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        recall = self.found / self.windows if self.windows else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1, 1000 * self.fp / max(self.buckets, 1)


def tally(series: Series, alarms: np.ndarray) -> Tally:
    T = len(series.values)
    label = np.zeros(T, dtype=bool)
    spans = []
    for s, e, _ in series.windows:
        tol = max(3, (e - s + 1) // 2)
        spans.append((s, min(e + tol, T - 1)))
        label[s : min(e + tol, T - 1) + 1] = True
    out = Tally(windows=len(spans), buckets=T)
    out.found = sum(bool(alarms[s : e + 1].any()) for s, e in spans)
    idx = np.flatnonzero(alarms)
    if idx.size:
        breaks = np.flatnonzero(np.diff(idx) > 1)
        starts = np.concatenate([[idx[0]], idx[breaks + 1]])
        ends = np.concatenate([idx[breaks], [idx[-1]]])
        for s, e in zip(starts, ends, strict=True):
            if label[s : e + 1].any():
                out.tp += 1
            elif series.ignore is not None and series.ignore[s : e + 1].all():
                continue
            else:
                out.fp += 1
    return out


def _detectors(per_day: int, warm: int, settings: dict | None) -> dict:
    """Each detector: frame (buckets × series) → alarms (series × buckets). Peers get the same warm-up."""
    season = per_day if per_day > 1 else 7
    return {
        "tripl (score_frame)": lambda f: score_frame(f, settings)["is_anomaly"].to_numpy().T,
        "Elementary z (14d, 3σ)": lambda f: rolling_z(f, 14 * per_day, 3.0, warm),
        "Elementary seasonal (14d, 3σ)": lambda f: seasonal_z(f, season, 14, 3.0, warm),
        "re_data z (30d, 3σ)": lambda f: rolling_z(f, 30 * per_day, 3.0, warm),
        "re_data modified z (30d, 3.5)": lambda f: modified_z(f, 30 * per_day, 3.5, warm),
    }


def run(n_series: int, seed: int, settings: dict | None = None) -> dict[str, dict[str, Tally]]:
    rng = np.random.default_rng(seed)
    names = list(INTERVALS)
    all_series = [make_series(rng, names[i % len(names)]) for i in range(n_series)]
    results: dict[str, dict[str, Tally]] = {}
    timings: dict[str, float] = {}
    for interval in names:
        group = [s for s in all_series if s.interval == interval]
        if not group:
            continue
        seconds, T = INTERVALS[interval]
        index = pd.date_range("2026-01-05", periods=T, freq=pd.Timedelta(seconds=seconds), tz="UTC")
        frame = pd.DataFrame(np.stack([s.values for s in group]).T, index=index)
        per_day = max(DAY // seconds, 1)
        warm = 96 if seconds < DAY else 14
        detectors = _detectors(per_day, warm, settings)
        for name, detect in detectors.items():
            started = time.perf_counter()
            alarms = detect(frame)
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - started
            for s, a in zip(group, alarms, strict=True):
                for key in ("all", s.regime, interval):
                    results.setdefault(name, {}).setdefault(key, Tally()).add(tally(s, a))
    for name, seconds in timings.items():
        results[name]["_seconds"] = seconds  # type: ignore[assignment]
    return results


def _score_volume():
    """shared/tools/score_volume.py as a module, or None when the shared folder is not there."""
    root = Path(__file__).resolve().parents[1]
    candidates = [Path(os.environ["TRIPL_SHARED_DIR"])] if os.environ.get("TRIPL_SHARED_DIR") else []
    candidates += [root.parent / "shared", root.parent.parent / "shared"]
    for shared in candidates:
        path = shared / "tools" / "score_volume.py"
        if path.exists():
            spec = importlib.util.spec_from_file_location("score_volume", path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    return None


def real_data(settings: dict | None) -> None:
    """score_volume.py's own evaluation, both bucket sizes, tripl beside the peers and the published rows."""
    sv = _score_volume()
    if sv is None:
        print("real data: shared/tools/score_volume.py not found (set TRIPL_SHARED_DIR); skipped\n")
        return
    from tripl_core.detection.volume import score_series

    def tripl(extra: dict | None = None):
        return lambda s: score_series(s, {**(settings or {}), **(extra or {})})

    for bucket in ("1h", None):
        print(f"real labelled series (score_volume.py), bucket {bucket or '5min (native)'}")
        rows = {"tripl (defaults)": tripl()}
        rows.update({f"tripl sigma_threshold={v:g}": tripl({"sigma_threshold": v}) for v in (4.0, 6.0)})
        rows.update(sv.PEERS)
        rows.update(sv.published())
        for name, detector in rows.items():
            r = sv.evaluate(detector, bucket)
            print(f"  {name:34s} F1 {r['f1']:.3f}  P {r['precision']:.3f}  R {r['recall']:.3f}  "
                  f"caught {r['caught']}/{r['windows']}  false alarms {r['false_alarms']}")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--detail", action="store_true", help="also print per regime and interval")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a setting")
    parser.add_argument("--no-real", action="store_true", help="skip the real labelled series")
    args = parser.parse_args()
    overrides = {k: float(v) for k, v in (item.split("=", 1) for item in args.set)}
    if not args.no_real:
        real_data(overrides or None)
    results = run(args.series, args.seed, overrides or None)
    first = next(iter(results.values()))["all"]
    print(f"{args.series} series, {first.windows} labelled incident windows, {first.buckets} buckets (seed {args.seed})")
    print(f"{'detector':32s} {'precision':>9s} {'recall':>7s} {'F1':>6s} {'FP/1k buckets':>14s} {'seconds':>8s}")
    for name, parts in results.items():
        p, r, f1, fpk = parts["all"].row()
        print(f"{name:32s} {p:9.3f} {r:7.3f} {f1:6.3f} {fpk:14.3f} {parts['_seconds']:8.2f}")
    if args.detail:
        keys = sorted({k for parts in results.values() for k in parts if k not in ("all", "_seconds")})
        for key in keys:
            print(f"\n-- {key}")
            for name, parts in results.items():
                if key in parts:
                    p, r, f1, fpk = parts[key].row()
                    print(f"{name:32s} {p:9.3f} {r:7.3f} {f1:6.3f} {fpk:14.3f}")


if __name__ == "__main__":
    main()
