"""The vectorised core of volume-anomaly detection: a (buckets × series) matrix in, bands and verdicts out.

A recursive state-space model of event volumes, run forward in time once, vectorised across series (the only
Python loop is over buckets; every step is a handful of numpy kernels over all series at once). Being recursive,
it is online by construction: the verdict of bucket t uses the state left by buckets < t, and appending buckets
never changes earlier rows.

Model of a count x_t (see docs/detection.md for the reasoning):
- expected μ_t = level × seasonal factor. The seasonal factor is an hour-of-week profile shrunk towards an
  hour-of-day profile (a week holds a single sample of each hour of the week, so the daily profile carries the
  shape until several weeks are seen); both are learned by exponential smoothing of x/level and renormalised to
  mean 1 every day / week. Profiles are kept per hour for buckets below an hour (5m … 30m share their hour).
- noise: negative binomial, variance μ + (qμ)², q (relative spread beyond Poisson) learned online; counts are
  compared on the variance-stabilised scale g(x) = (2/q)·asinh(q·√(x + 3/8)) — Anscombe for small counts,
  log/q for large ones. The standardised residual z = (g(x) − g(μ)) / s, where s² is a winsorised running mean of
  the squared residuals (≥ 1): heavy-tailed series earn a wider band by themselves.
- episodes: an alert episode starts only on strong evidence — one bucket beyond sigma, or a one-sided CUSUM of z
  (reference k, decision interval h) crossing h for a sustained smaller shift. It stays open while the series
  stays out on the same side and closes after `calm` buckets back inside. While open, nothing is learned (the
  anomaly is kept out of its own baseline); a fast level follows the episode, and when an episode lasts
  `persist` buckets it is a lasting level shift: that level becomes the new normal, the episode ends and the
  model re-learns fast for a while (outages to near zero are never accepted as normal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tripl_core.detection.config import VolumeSettings

DAY = 86_400
WEEK = 7 * DAY
F = np.float32

# Smoothing rates are expressed as half-lives in time, so they mean the same at every bucket interval.
LEVEL_HALF_LIFE = 0.5 * DAY  # the level follows slow change within about a day
FAST_HALF_LIFE = 2 * 3600  # the level an episode is tracked with (and re-learning after a lasting shift)
NOISE_HALF_LIFE = 3 * DAY  # the spread is a property of the series: learned over days
DAILY_RATE = 0.2  # per day: the hour-of-day profile averages about the last five days
WEEKLY_RATE = 0.3  # per week: the hour-of-week profile averages about the last three weeks
WEEKLY_PRIOR = 0.0  # the daily profile counts as this many weeks of the weekly one: w / (w + prior)
CUSUM_K = 0.2  # CUSUM reference value, in units of sigma: drifts below it never accumulate
CUSUM_H = 2.0  # CUSUM decision interval, in units of sigma
CALM_SECONDS = 3600  # an episode ends after an hour (at least two buckets) back inside the band
PERSIST_SECONDS = DAY  # an episode this long is a lasting level shift: learned as the new normal
OUTAGE_SHARE = 0.1  # a "new level" below this share of the old one is an outage, never the new normal
WINSOR = 0.5  # outside episodes, values are learned winsorised at ± this share of sigma
MIN_SPREAD = 1e-3
EXCESS_CAP = 1.0  # one bucket's relative excess over Poisson counts at most this much towards the spread
SCALE_CAP = 4.0  # one bucket's squared residual counts at most (this × sigma)² towards the scale


@dataclass(frozen=True)
class Layout:
    """Lengths and rates derived from the bucket interval."""

    unit: float  # seconds per seasonal phase (an hour, or the bucket when longer)
    per_phase: int  # buckets per phase
    daily_phases: int  # phases per day (1 when a bucket is a day or longer)
    weekly_phases: int  # phases per week (0 when buckets are longer than a day)
    per_day: int
    level_rate: float
    fast_rate: float
    noise_rate: float
    daily_rate: float  # per bucket
    weekly_rate: float  # per bucket
    calm: int
    persist: int
    warm_up: int


def _rate(half_life: float, interval: float) -> float:
    return 1.0 - 0.5 ** (interval / half_life)


def layout_for(interval_seconds: float, settings: VolumeSettings) -> Layout:
    interval = float(interval_seconds)
    unit = max(interval, 3600.0)
    per_phase = max(int(round(unit / interval)), 1)
    daily_phases = max(int(round(DAY / unit)), 1)
    weekly_phases = 7 * daily_phases if unit <= DAY else 0
    per_day = max(int(round(DAY / interval)), 1)
    per_week = max(int(round(WEEK / interval)), 1)
    warm = settings.min_history_buckets
    return Layout(
        unit=unit,
        per_phase=per_phase,
        daily_phases=daily_phases,
        weekly_phases=weekly_phases,
        per_day=per_day,
        level_rate=_rate(LEVEL_HALF_LIFE, interval),
        fast_rate=_rate(FAST_HALF_LIFE, interval),
        noise_rate=_rate(NOISE_HALF_LIFE, interval),
        daily_rate=DAILY_RATE / per_phase,
        weekly_rate=WEEKLY_RATE / per_phase,
        calm=max(2, math.ceil(CALM_SECONDS / interval)),
        persist=max(3, math.ceil(PERSIST_SECONDS / interval)),
        warm_up=per_week if warm is None else int(warm),
    )


def _stabilise(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Variance-stabilising transform of a count with variance μ + (qμ)² (negative binomial): unit variance."""
    return (F(2.0) / q) * np.arcsinh(q * np.sqrt(np.maximum(x, F(0.0)) + F(0.375)))


def _unstabilise(y: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Inverse of `_stabilise` (clipped at zero)."""
    root = np.sinh(np.maximum(y, F(0.0)) * q * F(0.5)) / q
    return np.maximum(root * root - F(0.375), F(0.0))


def score_matrix(counts: np.ndarray, interval_seconds: float, settings: VolumeSettings,
                 phase_seconds: float = 0.0) -> dict[str, np.ndarray]:
    """Score a (buckets × series) matrix of counts; NaN marks an unknown bucket (never judged, never learned).

    `phase_seconds` is the first bucket's offset from a Monday 00:00 UTC (so the weekly profile knows weekdays).
    Returns (buckets × series) arrays: expected, lower, upper, z (float32), is_anomaly (bool), direction (int8:
    1 spike, -1 drop, 0 none).
    """
    x = np.asarray(counts, dtype=F)
    if x.ndim != 2:
        raise ValueError("counts must be a 2-D (buckets × series) matrix")
    T, n = x.shape
    out = {k: np.zeros((T, n), dtype=F) for k in ("expected", "lower", "upper", "z")}
    anomaly = np.zeros((T, n), dtype=bool)
    direction = np.zeros((T, n), dtype=np.int8)
    if T == 0 or n == 0:
        return {**out, "is_anomaly": anomaly, "direction": direction}
    lay = layout_for(interval_seconds, settings)
    sigma = F(settings.sigma_threshold)
    k_ref, h_dec = F(CUSUM_K) * sigma, F(CUSUM_H) * sigma
    floor = F(max(settings.relative_floor, MIN_SPREAD))
    mec = F(settings.min_expected_count)
    known_all = np.isfinite(x)
    all_known = bool(known_all.all())

    seconds = float(phase_seconds) + np.arange(T) * float(interval_seconds)
    phase_w = ((seconds % WEEK) // lay.unit).astype(np.intp)
    phase_d = phase_w % lay.daily_phases
    day_start = np.r_[False, np.diff((seconds // DAY).astype(np.int64)) != 0]
    week_start = np.r_[False, np.diff((seconds // WEEK).astype(np.int64)) != 0]

    # state (one entry per series; profiles are phases × series so a phase's row is contiguous)
    level = np.ones(n, dtype=F)  # the current level as a ratio to the seasonal profile (1 = as usual)
    daily = np.zeros((lay.daily_phases, n), dtype=F)  # expected count per hour of the day
    weekly = np.zeros((max(lay.weekly_phases, 1), n), dtype=F)  # expected count per hour of the week
    daily_mean = np.ones(n, dtype=F)
    daily_seen = np.zeros(lay.daily_phases)
    weekly_seen = np.zeros(max(lay.weekly_phases, 1))
    spread = np.full(n, F(0.1))  # mean relative excess over Poisson
    scale2 = np.ones(n, dtype=F)  # winsorised mean square of the residual on the stabilised scale
    noise_seen = 0.0
    cus_up = np.zeros(n, dtype=F)
    cus_down = np.zeros(n, dtype=F)
    episode = np.zeros(n, dtype=np.int8)
    ep_len = np.zeros(n, dtype=np.int32)
    calm = np.zeros(n, dtype=np.int32)
    fast = np.zeros(n, dtype=F)
    relearn = np.zeros(n, dtype=np.int32)
    blk_sum = np.zeros(n, dtype=F)
    blk_cnt = np.zeros(n, dtype=F)
    blk_scale2 = np.ones(n, dtype=F)
    block_end = (seconds + float(interval_seconds)) // lay.unit != seconds // lay.unit
    winsor_cap = F(SCALE_CAP * sigma * sigma)

    first_sum = np.zeros((lay.daily_phases, n), dtype=np.float64)  # the first day, per phase (initialisation)
    first_cnt = np.zeros((lay.daily_phases, n), dtype=np.float64)
    for t in range(T):
        xt = x[t]
        known = known_all[t]
        pd_, pw = phase_d[t], phase_w[t]
        if t == lay.per_day:
            # a full day seen: start the level and the daily profile from it (before, both were guesses, and a
            # guess averaged into the profiles would linger for weeks); the weekly profile starts from here too
            mean = first_sum.sum(axis=0) / np.maximum(first_cnt.sum(axis=0), 1.0)
            daily = np.where(first_cnt > 0, first_sum / np.maximum(first_cnt, 1.0), mean)
            # one sample per hour: a burst on the first day would be expected every day for weeks; cap it
            daily = np.minimum(daily, 3.0 * np.percentile(daily, 75, axis=0) + 10.0).astype(F)
            daily_seen[:] = lay.per_phase
            weekly_seen[:] = 0
            if lay.weekly_phases:  # the first day is also the first sample of its weekdays' hours
                first_phases = np.unique(phase_w[: lay.per_day])
                weekly[first_phases] = daily[first_phases % lay.daily_phases]
                weekly_seen[first_phases] = lay.per_phase
            daily_mean = np.maximum(daily.mean(axis=0), F(0.5))
        if day_start[t]:  # weighs the level's updates (a residual of n events moves the level by n / daily mean)
            daily_mean = np.maximum(daily.mean(axis=0), F(0.5))
        if t < lay.per_day:  # the first day: the running mean is all there is
            s = (first_sum.sum(axis=0) / np.maximum(first_cnt.sum(axis=0), 1.0)).astype(F)
        else:
            s = daily[pd_]
        weeks = weekly_seen[pw] / lay.per_phase if lay.weekly_phases and t >= lay.per_day else 0.0
        if weeks >= 1:
            trust = F(weeks / (weeks + WEEKLY_PRIOR))
            s = trust * weekly[pw] + (F(1.0) - trust) * s
        mu = level * s
        q = np.maximum(F(1.25) * spread, floor)
        scale = np.sqrt(np.maximum(scale2, F(1.0)))
        centre = _stabilise(mu, q)
        xs = np.where(known, xt, mu) if not all_known else xt
        raw = _stabilise(xs, q) - centre
        z = raw / scale
        width = sigma * scale
        out["expected"][t] = mu
        out["lower"][t] = _unstabilise(centre - width, q)
        out["upper"][t] = _unstabilise(centre + width, q)
        out["z"][t] = z

        judged = t >= lay.warm_up and t > 0
        gate = known & (np.maximum(mu, xs) >= mec) if mec > 0 else known
        # --- episodes
        open_ = episode != 0
        # the sustained-shift test runs on blocks (an hour below 1h buckets): residuals of neighbouring 5-minute
        # buckets are correlated, so their sum is standardised by its own learned scale, not by √m
        blk_sum += np.where(known, raw, F(0.0))
        blk_cnt += known
        if block_end[t]:
            zb_raw = blk_sum / np.sqrt(np.maximum(blk_cnt, F(1.0)))
            zb = zb_raw / np.sqrt(np.maximum(blk_scale2, F(1.0)))
            blk_has = blk_cnt > 0
        if judged:
            strong = np.abs(z) > sigma
            idle = ~open_ & gate & (relearn == 0)
            if block_end[t]:
                cus_up = np.where(idle & blk_has, np.maximum(cus_up + zb - k_ref, F(0.0)), cus_up)
                cus_down = np.where(idle & blk_has, np.maximum(cus_down - zb - k_ref, F(0.0)), cus_down)
            cus_up = np.where(open_ | (relearn > 0), F(0.0), cus_up)
            cus_down = np.where(open_ | (relearn > 0), F(0.0), cus_down)
            start = ~open_ & gate & (strong | (cus_up > h_dec) | (cus_down > h_dec))
            new_dir = np.where(strong, np.sign(z), np.where(cus_up > h_dec, F(1.0), F(-1.0))).astype(np.int8)
            # open episodes: still out on the same side, or calming down
            signed = episode * z
            out_side = signed > k_ref
            calm = np.where(open_ & known, np.where(out_side, 0, calm + 1), calm)
            ep_len = np.where(open_ & known, ep_len + 1, ep_len)
            ratio = xs / np.maximum(s, F(0.5))
            fast = np.where(open_ & known, fast + F(lay.fast_rate) * (ratio - fast), fast)
            reverse = open_ & known & (signed < -sigma)
            close = open_ & ((calm >= lay.calm) | reverse)
            lasting = open_ & ~close & (ep_len >= lay.persist) & (fast >= F(OUTAGE_SHARE) * level)
            if lasting.any():  # a lasting level shift: the episode's level becomes the new normal
                level = np.where(lasting, fast, level)
                relearn = np.where(lasting, lay.persist, relearn)
            close |= lasting
            episode = np.where(close, 0, episode).astype(np.int8)
            start |= reverse & gate
            episode = np.where(start, new_dir, episode).astype(np.int8)
            ep_len = np.where(start, 1, np.where(close, 0, ep_len))
            calm = np.where(start | close, 0, calm)
            cus_up = np.where(start, F(0.0), cus_up)
            cus_down = np.where(start, F(0.0), cus_down)
            fast = np.where(start, ratio, fast)
            anomaly[t] = (episode != 0) & known
            direction[t] = np.where(anomaly[t], episode, 0)

        # --- learning (not inside an episode; values winsorised so sub-threshold oddities teach little)
        learn = known & (episode == 0)
        if judged:
            lo = _unstabilise(centre - F(WINSOR) * width, q)
            hi = _unstabilise(centre + F(WINSOR) * width, q)
            xl = np.clip(xs, lo, hi)
        else:
            xl = xs
        if t >= lay.per_day and (weeks >= 1 or not lay.weekly_phases):
            # the level learns only where the weekly profile exists: in the first week a weekend the daily
            # profile cannot foresee is not a change of level (and would depress the next Monday)
            rate = np.where(relearn > 0, F(lay.fast_rate), F(lay.level_rate))
            level = np.where(learn, np.maximum(level + rate * (xl - mu) / daily_mean, F(0.0)), level)
        relearn = np.maximum(relearn - 1, 0)
        a_d = F(max(lay.daily_rate, 1.0 / (daily_seen[pd_] + 1.0)))
        daily[pd_] = np.where(learn, daily[pd_] + a_d * (xl - daily[pd_]), daily[pd_])
        daily_seen[pd_] += 1
        if t < lay.per_day:
            first_sum[pd_] += np.where(known, xt, 0.0)
            first_cnt[pd_] += known
        elif lay.weekly_phases:
            a_w = F(max(lay.weekly_rate, 1.0 / (weekly_seen[pw] + 1.0)))
            weekly[pw] = np.where(learn, weekly[pw] + a_w * (xl - weekly[pw]), weekly[pw])
            weekly_seen[pw] += 1
        if t >= lay.per_day:  # the noise is learned once a daily profile exists (before, misfit is not noise)
            a_n = F(max(lay.noise_rate, 1.0 / (noise_seen + 1.0)))
            excess = (np.abs(xl - mu) - F(0.8) * np.sqrt(mu)) / (mu + F(1.0))
            excess = np.clip(excess, F(0.0), F(EXCESS_CAP))
            spread = np.where(learn, spread + a_n * (excess - spread), spread)
            # the tail: every known bucket counts (winsorised), an episode only with its first hour — how big
            # bursts get is part of the series' noise, how long one lasts is not
            tail = known & ((episode == 0) | (ep_len <= lay.calm))
            scale2 = np.where(tail, scale2 + a_n * (np.minimum(raw * raw, winsor_cap) - scale2), scale2)
            if block_end[t]:
                a_b = F(min(1.0, float(a_n) * lay.per_phase))
                quiet = learn & blk_has
                blk_scale2 = np.where(quiet, blk_scale2 + a_b * (np.minimum(zb_raw * zb_raw, winsor_cap)
                                                                  - blk_scale2), blk_scale2)
            noise_seen += 1
        if block_end[t]:
            blk_sum[:] = 0.0
            blk_cnt[:] = 0.0

    if settings.min_consecutive > 1:
        run = np.zeros(n, dtype=np.int32)
        for t in range(T):
            run = np.where(anomaly[t], run + 1, 0)
            keep = run >= settings.min_consecutive
            anomaly[t] &= keep
            direction[t] = np.where(anomaly[t], direction[t], 0)
    if not all_known:
        out["z"][~known_all] = np.nan
    return {**out, "is_anomaly": anomaly, "direction": direction}
