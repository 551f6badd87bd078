"""The core of volume-anomaly detection: a (buckets × series) matrix in, bands and verdicts out.

A recursive state-space model of event volumes, run forward in time once per series by a compiled kernel (numba,
GIL released, two threads share the series): thousands of series × thousands of buckets in well under a second.
Being recursive, it is online by construction: the verdict of bucket t uses the state left by buckets < t and
bucket t itself, and appending buckets never changes earlier rows.

Model of a count x_t (see docs/detection.md for the reasoning):
- expected μ_t = level × seasonal factor. The seasonal factor is an hour-of-week profile shrunk towards an
  hour-of-day profile (a week holds a single sample of each hour of the week, so the daily profile carries the
  shape until several weeks are seen); both are learned by exponential smoothing of x/level and renormalised to
  mean 1 every day / week. Profiles are kept per hour for buckets below an hour (5m … 30m share their hour).
- noise: negative binomial, variance μ + (qμ)², q (relative spread beyond Poisson) learned online; counts are
  compared on the variance-stabilised scale g(x) = (2/q)·asinh(q·√(x + 3/8)) — Anscombe for small counts,
  log/q for large ones. The standardised residual z = (g(x) − g(μ)) / s, where s² is a winsorised running mean of
  the squared residuals (≥ 1): heavy-tailed series earn a wider band by themselves.
- episodes: an alert episode starts only on strong evidence — one bucket beyond sigma (an hour's count below 1h
  buckets: single 5-minute buckets never start one), or a one-sided CUSUM of the hours' z (reference k, decision
  interval h, each hour adding at most sigma) for a sustained smaller shift — **and** only when the bucket (hour)
  leaves the range of the last week: a spike must exceed every count of the last 7 days and today, a drop must go
  below the lowest z of the week's ordinary buckets and below this hour of day's smallest count of the last 7
  days. Event volumes burst; a burst the series showed this week is its normal, not news. A drop is told once it
  has lasted an hour (two buckets) and is still out, unless the CUSUM already saw it last. An episode stays open
  while the series stays out on the same side and closes after `calm` buckets back inside. While open, nothing is
  learned (the anomaly is kept out of its own baseline); a fast level follows the episode, and when an episode
  lasts `persist` buckets it is a lasting level shift: that level becomes the new normal, the episode ends and
  the model re-learns fast for a while (outages to near zero are never accepted as normal).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit

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
NOVELTY = 1.0  # a spike must exceed the largest count of the last week by this factor (1: any new high)
DROP_SECONDS = 3600  # a drop is told once it has lasted this long (and two buckets): short gaps heal by themselves
CALM_Z = 0.5  # back inside: within this many sigma of the expected count (on the episode's side)
CALM_SECONDS = 3600  # an episode ends after an hour (at least two buckets) back inside the band
PERSIST_SECONDS = DAY  # an episode this long is a lasting level shift: learned as the new normal
OUTAGE_SHARE = 0.1  # a "new level" below this share of the old one is an outage, never the new normal
WINSOR = 0.5  # outside episodes, values are learned winsorised at ± this share of sigma
MIN_SPREAD = 1e-3
BAND_MAX = 1e30  # the band's upper edge is capped (a float32 and JSON can hold it)
PARALLEL_MIN_SERIES = 512  # from this many series, two threads
TAIL_SHARE = 1.0  # an episode teaches the tail with its first TAIL_SHARE × calm buckets
EXCESS_CAP = 0.2  # one bucket's relative excess over Poisson counts at most this much towards the spread
SCALE_CAP = 1.0  # one bucket's squared residual counts at most (this × sigma)² towards the scale


@dataclass(frozen=True)
class Layout:
    """Lengths and rates derived from the bucket interval."""

    unit: float  # seconds per seasonal phase (an hour, or the bucket when longer)
    per_phase: int  # buckets per phase
    daily_phases: int  # phases per day (1 when a bucket is a day or longer)
    weekly_phases: int  # phases per week (0 when buckets are longer than a day)
    per_day: int
    per_week: int
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
    # baseline_window_buckets bounds the memory: exponential forgetting whose mean age fits in the window
    window = max(settings.baseline_window_buckets, 1)
    return Layout(
        unit=unit,
        per_phase=per_phase,
        daily_phases=daily_phases,
        weekly_phases=weekly_phases,
        per_day=per_day,
        per_week=per_week,
        level_rate=_rate(LEVEL_HALF_LIFE, interval),
        fast_rate=_rate(FAST_HALF_LIFE, interval),
        noise_rate=max(_rate(NOISE_HALF_LIFE, interval), min(1.0, 1.0 / window)),
        daily_rate=min(1.0, max(DAILY_RATE, per_day / window)) / per_phase,
        weekly_rate=min(1.0, max(WEEKLY_RATE, per_week / window)) / per_phase,
        calm=max(2, math.ceil(CALM_SECONDS / interval)),
        persist=max(3, math.ceil(PERSIST_SECONDS / interval)),
        warm_up=per_week if warm is None else int(warm),
    )


@njit(cache=True, nogil=True, error_model="numpy")
def _e(x: float, q: float) -> float:
    """exp(q·g(x)/2) = u + √(u²+1), u = q·√(x+3/8), for the variance-stabilising g(x) = (2/q)·asinh(u).

    g gives a count with variance μ + (qμ)² (negative binomial) unit variance: Anscombe's 2√(x+3/8) for small
    counts, log(x)/q for large ones. Differences of g are one log of a ratio of these (the hot loop's only log).
    """
    u = q * math.sqrt(max(x, 0.0) + 0.375)
    return u + math.sqrt(u * u + 1.0)


@njit(cache=True, nogil=True, error_model="numpy")
def _edge(e: float, q: float) -> float:
    """g⁻¹ of (2/q)·log(e) for e ≥ 1: sinh(log e) = (e − 1/e)/2."""
    root = 0.5 * (e - 1.0 / e) / q
    return min(max(root * root - 0.375, 0.0), BAND_MAX)


@njit(cache=True, nogil=True, error_model="numpy")
def _run(x, first, last, phase_w, phase_d, day_start, block_end, p_int, p_f,
         expected, lower, upper, zout, anomaly, direction):  # pragma: no cover - compiled
    """The model, one series (row of x) at a time, for rows first … last-1. See the module docstring."""
    T = x.shape[1]
    n_daily, n_weekly, per_phase, per_day, calm_n, persist, warm_up, min_consec = (
        p_int[0], p_int[1], p_int[2], p_int[3], p_int[4], p_int[5], p_int[6], p_int[7])
    drop_consec = p_int[8]
    level_rate, fast_rate, noise_rate, daily_rate, weekly_rate = p_f[0], p_f[1], p_f[2], p_f[3], p_f[4]
    sigma, k_ref, h_dec, floor, mec = p_f[5], p_f[6], p_f[7], p_f[8], p_f[9]
    winsor, excess_cap, winsor_cap, outage_share, weekly_prior = p_f[10], p_f[11], p_f[12], p_f[13], p_f[14]
    tail_n = p_f[15] * calm_n
    novelty, calm_z = p_f[16], p_f[17]
    # the week's range, kept per day (a ring of the last 7 days plus today): the largest count and the lowest z
    # of ordinary buckets, and the same for hours (blocks)
    ring = np.empty((4, 7))
    # ... and below the smallest count this hour of day had on the last 7 days (a return to the level before a
    # lasting shift is no drop)
    day_min = np.empty((n_daily, 7))
    today_min = np.empty(n_daily)
    bday_min = np.empty((n_daily, 7))
    btoday_min = np.empty(n_daily)
    c_floors = np.empty(n_daily)  # per hour of day: min over the last 7 days (changes only at midnight)
    cb_floors = np.empty(n_daily)
    w_len = max(n_weekly, 1)
    daily = np.zeros(n_daily)
    weekly = np.zeros(w_len)
    d_seen = np.zeros(n_daily)
    w_seen = np.zeros(w_len)
    first_sum = np.zeros(n_daily)
    first_cnt = np.zeros(n_daily)
    for j in range(first, last):
        daily[:] = 0.0
        weekly[:] = 0.0
        d_seen[:] = 0.0
        w_seen[:] = 0.0
        first_sum[:] = 0.0
        first_cnt[:] = 0.0
        level = 1.0  # the level as a ratio to the seasonal profile (1 = as usual)
        daily_mean = 1.0
        run_sum = 0.0
        run_cnt = 0.0
        spread = 0.1  # mean relative excess over Poisson
        scale2 = 1.0  # winsorised mean square of the residual on the stabilised scale
        noise_seen = 0.0
        cus_up = 0.0
        cus_down = 0.0
        episode = 0
        ep_len = 0
        calm = 0
        fast = 0.0
        relearn = 0
        blk_sum = 0.0
        blk_cnt = 0.0
        blk_scale2 = 1.0
        zb_raw = 0.0
        zb = 0.0
        run = 0
        ring[0:2, :] = -BAND_MAX  # maxima: counts, hour counts
        ring[2:4, :] = BAND_MAX  # minima: z, hour z
        day_hi = -BAND_MAX
        day_bhi = -BAND_MAX
        day_zlo = BAND_MAX
        day_bzlo = BAND_MAX
        wk_hi = -BAND_MAX
        wk_bhi = -BAND_MAX
        wk_zlo = BAND_MAX
        wk_bzlo = BAND_MAX
        blk_x = 0.0
        blk_mu = 0.0
        told = False
        day_min[:, :] = np.inf  # a day without a known bucket (or not seen yet) holds inf: never the minimum
        today_min[:] = np.inf
        bday_min[:, :] = np.inf
        btoday_min[:] = np.inf
        day_no = 0
        c_floors[:] = 0.0
        cb_floors[:] = 0.0
        for t in range(T):
            xt = x[j, t]
            known = not math.isnan(xt)
            # the recent range, rolled over at midnight: the extremes of the last 7 days (ring slots) and today
            if day_start[t]:
                day_no += 1
                slot = day_no % 7
                ring[0, slot] = day_hi
                ring[1, slot] = day_bhi
                ring[2, slot] = day_zlo
                ring[3, slot] = day_bzlo
                day_hi = -BAND_MAX
                day_bhi = -BAND_MAX
                day_zlo = BAND_MAX
                day_bzlo = BAND_MAX
                wk_hi = ring[0].max()
                wk_bhi = ring[1].max()
                wk_zlo = ring[2].min()
                wk_bzlo = ring[3].min()
                for i in range(n_daily):  # ... and each hour of day's smallest count (hour count) of the 7 days
                    day_min[i, slot] = today_min[i]
                    bday_min[i, slot] = btoday_min[i]
                    today_min[i] = np.inf
                    btoday_min[i] = np.inf
                    lo = day_min[i].min()
                    blo = bday_min[i].min()
                    c_floors[i] = 0.0 if lo == np.inf else lo / novelty
                    cb_floors[i] = 0.0 if blo == np.inf else blo / novelty
            # a spike must exceed the largest count of that range
            hi = max(wk_hi, day_hi)
            ceiling = novelty * hi if hi > -BAND_MAX else BAND_MAX
            bhi = max(wk_bhi, day_bhi)
            b_ceiling = novelty * bhi if bhi > -BAND_MAX else BAND_MAX
            # the lowest z of the last week's ordinary buckets (hours): a drop must go below it
            z_floor = min(wk_zlo, day_zlo)
            z_floor = -BAND_MAX if z_floor == BAND_MAX else z_floor
            zb_floor = min(wk_bzlo, day_bzlo)
            zb_floor = -BAND_MAX if zb_floor == BAND_MAX else zb_floor
            c_floor = c_floors[phase_d[t]]
            cb_floor = cb_floors[phase_d[t]]
            pdx = phase_d[t]
            pwx = phase_w[t]
            if t == per_day:
                # a full day seen: the daily profile starts from it (one sample per hour, so a burst is capped),
                # and it is also the first sample of its weekdays' hours in the weekly profile
                mean = first_sum.sum() / max(first_cnt.sum(), 1.0)
                for i in range(n_daily):
                    daily[i] = first_sum[i] / first_cnt[i] if first_cnt[i] > 0 else mean
                cap = 3.0 * np.percentile(daily, 75.0) + 10.0
                for i in range(n_daily):
                    daily[i] = min(daily[i], cap)
                    d_seen[i] = per_phase
                if n_weekly > 0:
                    w_seen[:] = 0.0
                    for tt in range(per_day):
                        weekly[phase_w[tt]] = daily[phase_d[tt]]
                        w_seen[phase_w[tt]] = per_phase
                daily_mean = max(daily.mean(), 0.5)
            if day_start[t] and t > per_day:
                daily_mean = max(daily.mean(), 0.5)
            # the first day: the running mean is all there is
            s = run_sum / max(run_cnt, 1.0) if t < per_day else daily[pdx]
            weeks = w_seen[pwx] / per_phase if (n_weekly > 0 and t >= per_day) else 0.0
            if weeks >= 1.0:
                trust = weeks / (weeks + weekly_prior)
                s = trust * weekly[pwx] + (1.0 - trust) * s
            mu = level * s
            q = max(1.25 * spread, floor)
            scale = math.sqrt(max(scale2, 1.0))
            # g(μ) = (2/q)·log(e_c) with e_c = u + √(u²+1), u = q·√(μ+3/8): the band's edges g⁻¹(g(μ) ± w)
            # then need one exp (of the width) instead of two sinh — this is the hot loop
            u = q * math.sqrt(max(mu, 0.0) + 0.375)
            e_c = u + math.sqrt(u * u + 1.0)
            xs = xt if known else mu
            raw = (2.0 / q) * math.log(_e(xs, q) / e_c)
            z = raw / scale
            width = sigma * scale
            e_w = math.exp(min(width * q * 0.5, 80.0))
            e_lo = e_w if z_floor >= -sigma else math.exp(min(-z_floor * scale * q * 0.5, 80.0))
            floor_x = min(_edge(e_c / e_lo, q) if e_c > e_lo else 0.0, c_floor)
            expected[j, t] = mu
            lower[j, t] = floor_x
            upper[j, t] = max(_edge(e_c * e_w, q), min(ceiling, BAND_MAX))
            zout[j, t] = z if known else np.nan

            judged = t >= warm_up and t > 0
            gate = known and (mec <= 0.0 or max(mu, xs) >= mec)
            # --- episodes
            is_open = episode != 0
            # the sustained-shift test runs on blocks (an hour below 1h buckets): residuals of neighbouring
            # 5-minute buckets are correlated, so their sum is standardised by its own learned scale, not by √m
            if known:
                blk_sum += raw
                blk_cnt += 1.0
                blk_x += xt
                blk_mu += mu
            # an hour is judged by its own expected count: 40 expected in four 15-minute buckets of 10 is worth telling
            gate_b = blk_cnt > 0 and (mec <= 0.0 or max(blk_mu, blk_x) >= mec)
            blk_has = blk_cnt > 0
            if block_end[t]:
                # the hour's count against the hour's expected count, on the stabilised scale (as an hourly series)
                zb_raw = (2.0 / q) * math.log(_e(blk_x, q) / _e(blk_mu, q)) if blk_cnt > 0 else 0.0
                zb = zb_raw / math.sqrt(max(blk_scale2, 1.0))
            flagged = False
            if judged:
                strong = abs(z) > sigma
                if block_end[t] and (not is_open) and gate_b and relearn == 0 and blk_has:
                    zc = min(max(zb, -sigma), sigma)  # one hour adds at most sigma: sustained means several
                    cus_up = max(cus_up + zc - k_ref, 0.0)
                    cus_down = max(cus_down - zc - k_ref, 0.0)
                if is_open or relearn > 0:
                    cus_up = 0.0
                    cus_down = 0.0
                # below an hour, single buckets never start an episode: the hour they make up is judged
                strong = strong and per_phase == 1
                strong_b = per_phase > 1 and block_end[t] and blk_has and abs(zb) > sigma
                if strong:
                    up = z > 0
                elif strong_b:
                    up = zb > 0
                else:
                    up = cus_up > h_dec
                # beyond the band and beyond the week's range (a burst the series showed this week is not news)
                if strong:
                    novel = xs > ceiling if up else (z < z_floor and xs < c_floor)
                else:  # the hour as a whole left the week's range of hours
                    novel = blk_x > b_ceiling if up else (zb < zb_floor and blk_x < cb_floor)
                sustained = cus_up > h_dec or cus_down > h_dec
                start = (not is_open) and novel and ((strong and gate) or (gate_b and (strong_b or sustained)))
                new_dir = 1 if up else -1
                signed = episode * z
                ratio = xs / max(s, 0.5)
                close = False
                if is_open and known:
                    calm = 0 if signed > calm_z else calm + 1
                    ep_len += 1
                    fast += fast_rate * (ratio - fast)
                    reverse = signed < -sigma
                    close = calm >= calm_n or reverse
                    if not close and ep_len >= persist and fast >= outage_share * level:
                        # a lasting level shift: the episode's level becomes the new normal
                        level = fast
                        relearn = persist
                        close = True
                    if reverse and gate and per_phase == 1 and (xs > ceiling if episode < 0 else xs < floor_x):
                        start = True
                if close:
                    episode = 0
                    ep_len = 0
                    calm = 0
                if start:
                    # a sustained shift has lasted by construction; a single bucket must still be out next time
                    told = cus_up > h_dec or cus_down > h_dec
                    episode = new_dir
                    ep_len = 1
                    calm = 0
                    cus_up = 0.0
                    cus_down = 0.0
                    fast = ratio
                flagged = episode != 0 and known
            if flagged:
                run += 1
            else:
                run = 0
            if flagged and episode < 0 and not told:
                # a drop is told once it has lasted drop_consec buckets and is still out
                told = ep_len >= drop_consec and calm == 0
                flagged = told
            if flagged and run >= min_consec:
                anomaly[j, t] = True
                direction[j, t] = episode

            # --- learning (not inside an episode; values winsorised so sub-threshold oddities teach little)
            learn = known and episode == 0
            xl = xs
            if judged and abs(raw) > winsor * width:
                e_wz = math.exp(min(winsor * width * q * 0.5, 80.0))
                xl = _edge(e_c * e_wz, q) if raw > 0 else (_edge(e_c / e_wz, q) if e_c > e_wz else 0.0)
            if learn and t >= per_day and (weeks >= 1.0 or n_weekly == 0):
                # the level learns only where the weekly profile exists: in the first week a weekend the daily
                # profile cannot foresee is not a change of level (and would depress the next Monday)
                rate = fast_rate if relearn > 0 else level_rate
                level = max(level + rate * (xl - mu) / daily_mean, 0.0)
            relearn = max(relearn - 1, 0)
            a_d = max(daily_rate, 1.0 / (d_seen[pdx] + 1.0))
            if learn:
                daily[pdx] += a_d * (xl - daily[pdx])
            d_seen[pdx] += 1.0
            if t < per_day:
                if known:
                    first_sum[pdx] += xt
                    first_cnt[pdx] += 1.0
                    run_sum += xt
                    run_cnt += 1.0
            elif n_weekly > 0:
                a_w = max(weekly_rate, 1.0 / (w_seen[pwx] + 1.0))
                if learn:
                    weekly[pwx] += a_w * (xl - weekly[pwx])
                w_seen[pwx] += 1.0
            if t >= per_day:  # the noise is learned once a daily profile exists (before, misfit is not noise)
                a_n = max(noise_rate, 1.0 / (noise_seen + 1.0))
                if learn:
                    excess = (abs(xl - mu) - 0.8 * math.sqrt(mu)) / (mu + 1.0)
                    spread += a_n * (min(max(excess, 0.0), excess_cap) - spread)
                # the tail: every known bucket counts (winsorised), an episode only with its first hour — how
                # big bursts get is part of the series' noise, how long one lasts is not
                if known and (episode == 0 or ep_len <= tail_n):
                    scale2 += a_n * (min(raw * raw, winsor_cap) - scale2)
                if block_end[t] and learn and blk_has:
                    a_b = min(1.0, a_n * per_phase)
                    blk_scale2 += a_b * (min(zb_raw * zb_raw, winsor_cap) - blk_scale2)
                noise_seen += 1.0
            if block_end[t]:
                if blk_cnt > 0 and episode == 0:
                    btoday_min[pdx] = min(btoday_min[pdx], blk_x)
                if blk_cnt > 0 and episode == 0 and judged and blk_mu >= mec:
                    day_bzlo = min(day_bzlo, zb)
                if blk_cnt > 0:
                    day_bhi = max(day_bhi, blk_x)
                blk_sum = 0.0
                blk_cnt = 0.0
                blk_x = 0.0
                blk_mu = 0.0
            if known and episode == 0:
                today_min[pdx] = min(today_min[pdx], xt)
            if gate and judged and episode == 0:  # an outage never becomes "what this week looked like"
                day_zlo = min(day_zlo, z)
            if known:
                day_hi = max(day_hi, xt)


def score_matrix(counts: np.ndarray, interval_seconds: float, settings: VolumeSettings,
                 phase_seconds: float = 0.0) -> dict[str, np.ndarray]:
    """Score a (buckets × series) matrix of counts; NaN marks an unknown bucket (never judged, never learned).

    `phase_seconds` is the first bucket's offset from a Monday 00:00 UTC (so the weekly profile knows weekdays).
    Returns (buckets × series) arrays: expected, lower, upper, z (float32), is_anomaly (bool), direction (int8:
    1 spike, -1 drop, 0 none). Series run on two threads (the compiled kernel releases the GIL).
    """
    x = np.asarray(counts, dtype=F)
    if x.ndim != 2:
        raise ValueError("counts must be a 2-D (buckets × series) matrix")
    T, n = x.shape
    rows = np.ascontiguousarray(x.T)  # one series per row: the kernel walks each series in order
    out = {k: np.zeros((n, T), dtype=F) for k in ("expected", "lower", "upper", "z")}
    anomaly = np.zeros((n, T), dtype=bool)
    direction = np.zeros((n, T), dtype=np.int8)
    if T and n:
        lay = layout_for(interval_seconds, settings)
        sigma = float(settings.sigma_threshold)
        seconds = float(phase_seconds) + np.arange(T) * float(interval_seconds)
        phase_w = ((seconds % WEEK) // lay.unit).astype(np.int64)
        phase_d = phase_w % lay.daily_phases
        day_start = np.r_[False, np.diff((seconds // DAY).astype(np.int64)) != 0]
        block_end = (seconds + float(interval_seconds)) // lay.unit != seconds // lay.unit
        p_int = np.array([lay.daily_phases, lay.weekly_phases, lay.per_phase, lay.per_day, lay.calm, lay.persist,
                          lay.warm_up, settings.min_consecutive,
                          max(2, math.ceil(DROP_SECONDS / float(interval_seconds)))], dtype=np.int64)
        p_f = np.array([lay.level_rate, lay.fast_rate, lay.noise_rate, lay.daily_rate, lay.weekly_rate, sigma,
                        CUSUM_K * sigma, CUSUM_H * sigma, max(settings.relative_floor, MIN_SPREAD),
                        settings.min_expected_count, WINSOR, EXCESS_CAP, SCALE_CAP * sigma * sigma, OUTAGE_SHARE,
                        WEEKLY_PRIOR, TAIL_SHARE, NOVELTY, CALM_Z * sigma], dtype=np.float64)
        args = (phase_w, phase_d, day_start, block_end, p_int, p_f, out["expected"], out["lower"], out["upper"],
                out["z"], anomaly, direction)
        if n < PARALLEL_MIN_SERIES:
            _run(rows, 0, n, *args)
        else:
            half = (n + 1) // 2
            with ThreadPoolExecutor(max_workers=2) as pool:
                for f in [pool.submit(_run, rows, a, b, *args) for a, b in ((0, half), (half, n))]:
                    f.result()
    result = {k: v.T for k, v in out.items()}
    return {**result, "is_anomaly": anomaly.T, "direction": direction.T}
