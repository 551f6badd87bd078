"""The vectorised core of volume-anomaly detection: a (series × buckets) matrix in, bands and verdicts out.

Why a 2-D core: the pipelines score thousands of series per scan, and one pandas call per series cannot keep up.
Everything here is numpy over whole matrices (float32, row chunks); the only Python loops run over seasonal
periods, candidate models and passes — never over buckets.

The model, per bucket t, using only buckets before t (online). Level statistics are kept per *block* of a few
buckets (an hour at 5m/15m, four hours at 30m/1h): a block's statistics are first used by the next block, so
deciding things per block stays online and costs a fraction of per-bucket windows.
1. Candidates for the expected count:
   - flat: mean of the previous `level` blocks (cleaned);
   - daily / weekly: median of the same phase (smoothed over ±1 bucket for ≤30m) in up to 3 previous days /
     weeks of the *raw* series inside the baseline window, scaled by the recent level ratio (cleaned actual over
     seasonal estimate in the previous `level` blocks, each bucket counted within ½…2× its seasonal value);
   - blend: the mean of daily and weekly.
2. Online model selection: per block, the candidate with the lowest (penalised) mean squared error of block sums
   over the previous week wins. Errors of block sums average noise out and keep systematic misses (a weekend the
   daily model does not know) — a series without a weekly pattern ends up on the daily or flat model.
3. Noise: q = the series' relative spread beyond Poisson over the last day (≥ relative_floor). Counts are
   compared on the variance-stabilised scale of a negative binomial, g(x) = (2/q)·asinh(q·√(x+3/8)):
   Poisson-like (Anscombe) for small counts, multiplicative (log/q) for large ones. z = g(actual) − g(expected);
   the band is g⁻¹(g(expected) ± sigma).
4. Anomalous when |z| > sigma (×1.5 before a day of history, ×1.25 before a week: a young model's expectation is
   uncertain), after min_history_buckets, and when max(expected, actual) ≥ min_expected_count. The same test runs
   on whole blocks (what single buckets flagged on their own do not explain), so ten empty buckets of a
   five-per-bucket series are an outage even though no single zero is surprising.
5. Anomalies are kept out of the baseline: a second pass re-scores the series with the buckets of anomaly
   episodes (|z| > sigma/2 in or right after a block with an anomaly) winsorised to expected ± sigma/2 — unless
   most of the last `persist` blocks were anomalous: then the change is lasting and is learned as the new level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tripl_core.detection.config import VolumeSettings

DAY = 86_400
PERSIST_SHARE = 0.75  # a change is lasting once this share of the last `persist` blocks was anomalous
WEAK_SHARE = 0.5  # an episode continues while |z| stays above this share of sigma; also the winsorising band
# Prefer the richer model unless the simpler one is clearly better: a weekday/weekend switch is only foreseen by
# the weekly model, even when the daily one fitted the last day as well.
PENALTY = {"flat": 1.25, "daily": 1.1, "weekly": 1.0, "blend": 1.0}
YOUNG = (1.5, 1.25)  # threshold multipliers before a day / a week of history
LEVEL_CAP = 2.0
MIN_SPREAD = 1e-3  # keeps (2/q)·asinh(q·…) finite; below this the transform is Anscombe's anyway
F = np.float32  # full-resolution arrays: half the memory traffic of float64, exact for counts below 2**24


@dataclass(frozen=True)
class Layout:
    """Window lengths, derived from the bucket interval. Statistics are kept per block of `block` buckets."""

    block: int  # buckets per block
    daily: int  # buckets per day, 0 when a day has fewer than 2 buckets
    weekly: int  # buckets per week, 0 when a week has fewer than 2 buckets
    daily_k: int  # previous days the daily median may use
    weekly_k: int  # previous weeks the weekly median may use
    smooth: int  # half-width (buckets) of the phase smoothing
    level: int  # blocks in the recent-level window
    select: int  # blocks in the model-selection window (a week: the weekend switch must count)
    eligible: int  # blocks of history a candidate needs before it may be chosen
    noise: int  # blocks in the noise window (a day)
    persist: int  # blocks after which a lasting change is learned


def layout_for(interval_seconds: float, settings: VolumeSettings) -> Layout:
    per_day = max(int(round(DAY / interval_seconds)), 1)
    per_week = max(int(round(7 * DAY / interval_seconds)), 1)
    window = settings.baseline_window_buckets
    block = per_day // 24 if per_day >= 96 else (4 if per_day >= 24 else 1)
    smooth = 1 if per_day >= 48 else 0
    daily = per_day if per_day >= 2 else 0
    weekly = per_week if per_week >= 2 else 0
    daily_k = max(min(3, (window - smooth) // daily), 0) if daily else 0
    weekly_k = max(min(3, (window - smooth) // weekly), 0) if weekly else 0
    level = 7 if per_day == 1 else int(np.clip(per_day // 4, 4, 48))
    noise = int(np.clip(per_day, 24, 288))
    select = max(7 * per_day, 24)
    persist = int(np.clip(per_day // 2, 6, 144))
    return Layout(
        block=block,
        daily=daily,
        weekly=weekly,
        daily_k=daily_k,
        weekly_k=weekly_k,
        smooth=smooth,
        level=max(2, math.ceil(min(level, window) / block)),
        select=max(4, math.ceil(select / block)),
        eligible=max(2, math.ceil(noise / block) // 2),
        noise=max(4, math.ceil(noise / block)),
        persist=max(2, math.ceil(persist / block)),
    )


def _blocks(a: np.ndarray, b: int, dtype: type = np.float64) -> np.ndarray:
    """Per-block sums of a (series × buckets) array whose length is a multiple of b.

    Strided adds: reducing a tiny trailing axis with .sum() is several times slower. float64 by default (level
    sums are differenced over long cumulative sums); float32 where only a mean of small numbers is needed.
    """
    out = a[:, 0::b].astype(dtype)
    for i in range(1, b):
        out += a[:, i::b]
    return out


def _expand(blk: np.ndarray, b: int) -> np.ndarray:
    """Per-block values repeated over the block's buckets, as a (series × buckets) float32 array."""
    return np.repeat(blk.astype(F), b, axis=1)


def _previous(blk: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum over the `w` blocks *before* each block (partial at the start) and how many blocks that was."""
    n, nb = blk.shape
    cs = np.cumsum(blk, axis=1)
    out = np.empty_like(cs)
    out[:, 0] = 0.0
    k = min(w, nb - 1)
    out[:, 1 : k + 1] = cs[:, :k]
    if w + 1 < nb:
        np.subtract(cs[:, w:-1], cs[:, : nb - w - 1], out=out[:, w + 1 :])
    return out, np.minimum(np.arange(nb), w).astype(np.float64)


def _smooth(a: np.ndarray, h: int) -> np.ndarray:
    """Centred moving average over ±h buckets (edges: the buckets that exist)."""
    if h == 0:
        return a
    out = a.copy()
    count = np.ones(a.shape[1], dtype=F)
    for d in range(1, h + 1):
        out[:, d:] += a[:, :-d]
        out[:, :-d] += a[:, d:]
        count[d:] += 1
        count[:-d] += 1
    return out / count


def _median(parts: list[np.ndarray]) -> np.ndarray:
    """Element-wise median of a few equally shaped arrays (compare-exchange up to 3, partition beyond)."""
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return (parts[0] + parts[1]) * F(0.5)
    if len(parts) == 3:
        a, b, c = parts
        return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    return np.median(np.stack(parts), axis=0)


def _seasonal(smoothed: np.ndarray, period: int, k_max: int) -> np.ndarray:
    """Median of the same phase in up to k_max previous periods; zero before the first full period."""
    n, T = smoothed.shape
    out = np.zeros((n, T), dtype=F)
    for k_avail in range(1, k_max + 1):
        t0 = k_avail * period
        t1 = T if k_avail == k_max else min((k_avail + 1) * period, T)
        if t0 >= T:
            break
        out[:, t0:t1] = _median([smoothed[:, t0 - k * period : t1 - k * period] for k in range(1, k_avail + 1)])
    return out


@dataclass(frozen=True)
class Shape:
    """A seasonal model's shape, computed once per call: it depends on the raw series only, not on cleaning."""

    name: str
    seasonal: np.ndarray  # median of the same phase in previous periods (per bucket)
    blocks: np.ndarray  # its block sums
    level_sum: np.ndarray  # its sum over each block's level window
    cap: np.ndarray  # LEVEL_CAP × seasonal + 1: the most a bucket may count towards the level
    start: int  # first block whose level window lies after the first period


def _shapes(filled: np.ndarray, lay: Layout) -> list[Shape]:
    """The daily and weekly shapes from the *raw* series.

    Raw, because a median over periods is already robust to one bad period, and a shape learnt from cleaned
    values would keep a wrongly cleaned weekday/weekend switch forever.
    """
    b = lay.block
    nb = filled.shape[1] // b
    smoothed = _smooth(filled, lay.smooth)
    out = []
    for name, period, k_max in (("daily", lay.daily, lay.daily_k), ("weekly", lay.weekly, lay.weekly_k)):
        start = -(-period // b) + lay.level
        if not (period and k_max) or start >= nb:
            continue
        seasonal = _seasonal(smoothed, period, k_max)
        blocks = _blocks(seasonal, b)
        out.append(Shape(name, seasonal, blocks, _previous(blocks, lay.level)[0],
                         F(LEVEL_CAP) * seasonal + F(1.0), start))
    return out


def _candidates(
    clean: np.ndarray, clean_blk: np.ndarray, shapes: list[Shape], lay: Layout
) -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    """(name, expected, its block sums, first block where it is defined) for the flat, daily, weekly and
    blended models. The level (flat mean, seasonal ratio) comes from the cleaned series, so a recent incident
    does not drag it.
    """
    b = lay.block
    n, nb = clean_blk.shape
    level_sum, level_n = _previous(clean_blk, lay.level)
    flat_blk = level_sum / np.maximum(level_n * b, 1.0)
    flat_blk[:, 0] = clean[:, 0]
    out = [("flat", _expand(flat_blk, b), flat_blk * b, 1)]
    for shape in shapes:
        # a bucket counts towards the level between 1/LEVEL_CAP and LEVEL_CAP× its seasonal value: a burst or an
        # outage the first pass has not yet flagged cannot drag the next blocks' expectation along (and so hide
        # its own tail, or make the recovery look like a spike)
        capped, _ = _previous(_blocks(np.clip(clean, shape.seasonal * F(1 / LEVEL_CAP), shape.cap), b), lay.level)
        ratio = (capped + 1.0) / (shape.level_sum + 1.0)  # +1: keeps the ratio sane on near-empty series
        scaled = (shape.seasonal.reshape(n, nb, b) * ratio.astype(F)[:, :, None]).reshape(n, -1)
        out.append((shape.name, scaled, shape.blocks * ratio, shape.start))
    if len(out) == 3:  # the mean of both seasonal models: less noise than weekly, knows the weekend unlike daily
        (_, d, d_blk, d_start), (_, w, w_blk, w_start) = out[1], out[2]
        out.append(("blend", (d + w) * F(0.5), (d_blk + w_blk) * 0.5, max(d_start, w_start)))
    return out


def _expected(clean: np.ndarray, clean_blk: np.ndarray, shapes: list[Shape], lay: Layout) -> np.ndarray:
    """Per block, the candidate with the lowest (penalised) mean squared error over the previous blocks."""
    n, T = clean.shape
    b, nb = lay.block, clean_blk.shape[1]
    j = np.arange(nb)
    best_e: np.ndarray | None = None
    best_s: np.ndarray | None = None
    for name, cand, cand_blk, start in _candidates(clean, clean_blk, shapes, lay):
        # squared error of block sums: noise averages out within a block, a systematic miss (the weekend) does not
        err = clean_blk - cand_blk
        err *= err
        err[:, :start] = 0.0
        total, _ = _previous(err, lay.select)
        seen = np.clip(np.minimum(j - start, lay.select), 0, None)
        score = total / np.maximum(seen, 1) * PENALTY[name]
        score[:, seen < lay.eligible] = np.inf
        if best_e is None or best_s is None:
            best_e, best_s = cand, score
            continue
        better = score < best_s
        np.copyto(best_e.reshape(n, nb, b), cand.reshape(n, nb, b), where=better[:, :, None])
        np.copyto(best_s, score, where=better)
    assert best_e is not None
    return best_e


def _spread(clean: np.ndarray, expected: np.ndarray, lay: Layout, relative_floor: float) -> np.ndarray:
    """The series' relative spread q beyond Poisson noise over the last day (per bucket, ≥ relative_floor).

    Mean absolute residual in excess of Poisson's (≈0.8·√expected), relative to the expected count, ×1.25
    (mean absolute deviation → standard deviation); each bucket's share is capped so that one incident cannot
    blow the band open.
    """
    excess = (np.abs(clean - expected) - F(0.8) * np.sqrt(expected)) / (expected + F(1.0))
    np.clip(excess, 0.0, 1.0, out=excess)
    total, seen = _previous(_blocks(excess, lay.block, F), lay.noise)
    q = 1.25 * total / np.maximum(seen * lay.block, 1.0)
    return _expand(np.maximum(q, max(relative_floor, MIN_SPREAD)), lay.block)


def _stabilise(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Variance-stabilising transform of a count with variance μ + (qμ)² (negative binomial): unit variance.

    (2/q)·asinh(q·√(x+3/8)) is Anscombe's 2√(x+3/8) for small counts and log(x)/q for large ones, so z is
    Poisson-like where counts are small, multiplicative where they are large, and right-skewed like real counts
    (a doubling is less surprising than a halving).
    """
    return (F(2.0) / q) * np.arcsinh(q * np.sqrt(np.maximum(x, 0.0) + F(0.375)))


def _unstabilise(y: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Inverse of `_stabilise` (clipped at zero)."""
    root = np.sinh(np.maximum(y, 0.0) * q * F(0.5)) / q
    return np.maximum(root * root - F(0.375), 0.0)


def _runs(flag: np.ndarray) -> np.ndarray:
    """Length of the run of True ending at each bucket."""
    idx = np.arange(flag.shape[1])
    last_false = np.maximum.accumulate(np.where(flag, -1, idx), axis=1)
    return np.where(flag, idx - last_false, 0)


def _episodes(z: np.ndarray, strong: np.ndarray, sigma: float, b: int) -> np.ndarray:
    """Buckets to keep out of the baseline: |z| above WEAK_SHARE·sigma in a block that, or whose predecessor,
    holds a strong anomaly (hysteresis, so an incident's shoulders are not learned either).

    Deciding per block is still online: a block's cleaned values are first used by the next block.
    """
    hit = _blocks(strong, b, F) > 0
    hit[:, 1:] |= hit[:, :-1]
    return (np.abs(z) > WEAK_SHARE * sigma) & np.repeat(hit, b, axis=1)


def _block_test(
    filled: np.ndarray,
    expected: np.ndarray,
    q: np.ndarray,
    anomaly: np.ndarray,
    threshold: np.ndarray,
    judged: np.ndarray,
    settings: VolumeSettings,
    b: int,
) -> np.ndarray:
    """The same test on whole blocks: ten empty buckets of a five-per-bucket series are an outage even though
    no single zero is surprising. Buckets flagged on their own are taken out (replaced by their expectation), so
    the block test only adds evidence they do not explain. A block that fails marks its last bucket (the moment
    it is known); returns the block z placed on those buckets (0 elsewhere) and updates `anomaly` in place.
    """
    n, T = filled.shape
    qb = q[:, b - 1 :: b]
    # buckets already flagged on their own count as expected: the block test only adds what they do not explain
    residual = np.where(anomaly, expected, filled)
    sum_x, sum_e = _blocks(residual, b).astype(F), _blocks(expected, b).astype(F)
    zb = _stabilise(sum_x, qb) - _stabilise(sum_e, qb)
    last = slice(b - 1, None, b)
    hit = (np.abs(zb) > threshold[last]) & judged[last]
    if settings.min_expected_count > 0:
        hit &= np.maximum(sum_x, sum_e) >= F(settings.min_expected_count)
    anomaly[:, last] |= hit
    out = np.zeros_like(filled)
    out[:, last] = np.where(hit, zb, 0.0)
    return out


def _youth(T: int, lay: Layout) -> np.ndarray:
    """Threshold multiplier while the seasonal models cannot exist yet (a young model's expectation is uncertain:
    the first evening or the first weekend is not an incident)."""
    t = np.arange(T)
    factor = np.ones(T, dtype=F)
    if lay.weekly:
        factor[t < lay.weekly + lay.level * lay.block] = YOUNG[1]
    if lay.daily:
        factor[t < lay.daily + lay.level * lay.block] = YOUNG[0]
    return factor


def _take(shape: Shape, rows: np.ndarray) -> Shape:
    return Shape(shape.name, shape.seasonal[rows], shape.blocks[rows], shape.level_sum[rows], shape.cap[rows],
                 shape.start)


def _pass(
    clean: np.ndarray,
    filled: np.ndarray,
    known: np.ndarray,
    shapes: list[Shape],
    ctx: tuple[Layout, VolumeSettings, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One scoring pass over a baseline series `clean`: expected, spread q, g(expected), z and the verdicts."""
    lay, settings, judged, threshold = ctx
    clean_blk = _blocks(clean, lay.block)
    expected = _expected(clean, clean_blk, shapes, lay)
    q = _spread(clean, expected, lay, settings.relative_floor)
    centre = _stabilise(expected, q)
    z = _stabilise(filled, q) - centre
    anomaly = (np.abs(z) > threshold) & judged & known
    if settings.min_expected_count > 0:
        anomaly &= np.maximum(expected, filled) >= F(settings.min_expected_count)
    if lay.block > 1:
        block_z = _block_test(filled, expected, q, anomaly, threshold, judged, settings, lay.block)
        z = np.where(np.abs(block_z) > np.abs(z), block_z, z)
    return expected, q, centre, z, anomaly


def score_matrix(counts: np.ndarray, interval_seconds: float, settings: VolumeSettings) -> dict[str, np.ndarray]:
    """Score a (series × buckets) matrix of counts; NaN marks an unknown bucket (never judged, never learned).

    Returns arrays of the same shape: expected, lower, upper, z (float32), is_anomaly (bool) and direction
    (int8: 1 spike, -1 drop, 0 none).
    """
    x = np.asarray(counts, dtype=F)
    if x.ndim != 2:
        raise ValueError("counts must be a 2-D (series × buckets) matrix")
    n, T0 = x.shape
    if T0 == 0 or n == 0:
        empty = np.zeros((n, T0), dtype=F)
        return {"expected": empty, "lower": empty, "upper": empty, "z": empty,
                "is_anomaly": empty.astype(bool), "direction": empty.astype(np.int8)}
    lay = layout_for(interval_seconds, settings)
    pad = (-T0) % lay.block
    if pad:  # the tail block is padded with unknown buckets; they are dropped again below
        x = np.concatenate([x, np.full((n, pad), np.nan, dtype=F)], axis=1)
    T = x.shape[1]
    known = np.isfinite(x)
    all_known = bool(known.all())
    if all_known:
        filled = x
    else:  # unknown buckets enter the first pass as the previous known value (0 before any)
        last = np.maximum.accumulate(np.where(known, np.arange(T), 0), axis=1)
        filled = np.nan_to_num(np.take_along_axis(x, last, axis=1), nan=0.0)
    sigma = F(settings.sigma_threshold)
    judged = np.arange(T) >= max(settings.min_history_buckets, 1)
    threshold = sigma * _youth(T, lay)
    shapes = _shapes(filled, lay)
    ctx = (lay, settings, judged, threshold)
    expected, q, centre, z, anomaly = _pass(filled, filled, known, shapes, ctx)
    episode = _episodes(z, anomaly, sigma, lay.block)
    ep_sum, ep_n = _previous(_blocks(episode, lay.block, F), lay.persist)
    lasting = _expand(ep_sum / np.maximum(ep_n * lay.block, 1.0), lay.block) >= PERSIST_SHARE
    replace = episode & ~lasting
    if not all_known:
        replace |= ~known
    rows = np.flatnonzero(replace.any(axis=1))
    if rows.size:  # second pass, only for series where something was kept out of the baseline
        if rows.size < n:
            sub = (filled[rows], known[rows], expected[rows], q[rows], replace[rows])
            shapes = [_take(shape, rows) for shape in shapes]
        else:
            sub = (filled, known, expected, q, replace)
        f, k, e, qq, r = sub
        # winsorise rather than replace: a wrongly flagged bucket still teaches most of what it knows
        qe = qq * e
        band = F(WEAK_SHARE) * sigma * np.sqrt(e + F(0.375) + qe * qe)
        clean = np.where(r, np.clip(f, e - band, e + band), f)
        if not all_known:
            clean = np.where(k, clean, e)
        again = _pass(clean, f, k, shapes, ctx)
        if rows.size < n:
            for whole, part in zip((expected, q, centre, z, anomaly), again, strict=True):
                whole[rows] = part
        else:
            expected, q, centre, z, anomaly = again
    direction = np.where(anomaly, np.sign(z), 0).astype(np.int8)
    if settings.min_consecutive > 1:
        keep = (_runs(direction > 0) >= settings.min_consecutive) | (_runs(direction < 0) >= settings.min_consecutive)
        anomaly &= keep
        direction = np.where(anomaly, direction, 0).astype(np.int8)
    lower = _unstabilise(centre - threshold, q)  # the band drawn is the one judged by (young series: wider)
    upper = _unstabilise(centre + threshold, q)
    if not all_known:
        z = np.where(known, z, np.nan)
    cut = slice(0, T0)
    return {
        "expected": expected[:, cut],
        "lower": lower[:, cut],
        "upper": upper[:, cut],
        "z": z[:, cut],
        "is_anomaly": anomaly[:, cut],
        "direction": direction[:, cut],
    }
