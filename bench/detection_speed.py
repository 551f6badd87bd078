"""Speed of volume-anomaly scoring: 10,000 series × 2,016 buckets through the batch path (goal ≤ 2 s here).

Prints the wall and CPU time of `score_frame` (frame in, frames out), of the numpy engine alone, of one
`score_series` call, and — measured in the same run — of a plain pandas rolling z-score over the same frame (what
Elementary / re_data compute), the baseline it has to stand against.

    .venv/bin/python bench/detection_speed.py [--series 10000] [--buckets 2016]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tripl_core.detection.config import DEFAULTS  # noqa: E402
from tripl_core.detection.volume import _matrix_result, score_frame, score_series  # noqa: E402


def make_frame(n: int, T: int, seed: int = 3) -> pd.DataFrame:
    """15-minute buckets: daily and weekly seasonality, levels from 1 to 100k events per bucket, a few spikes."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2026-01-05", periods=T, freq="15min", tz="UTC")
    hours = (np.arange(T) % 96) / 4
    weekday = (np.arange(T) // 96) % 7
    shape = (1.2 + np.sin((hours - 8) / 24 * 2 * np.pi)) * np.where(weekday >= 5, 0.7, 1.0)
    level = 10 ** rng.uniform(0, 5, size=n)
    lam = level[None, :] * shape[:, None]
    x = rng.poisson(lam).astype(np.float64)
    rows, cols = rng.integers(200, T, size=n // 10), rng.integers(0, n, size=n // 10)
    x[rows, cols] *= 4
    return pd.DataFrame(x, index=index)


def timed(label: str, fn, repeat: int = 1) -> float:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        fn()
    wall, cpu = (time.perf_counter() - wall) / repeat, (time.process_time() - cpu) / repeat
    print(f"{label:48s} wall {wall:7.3f} s   cpu {cpu:7.3f} s")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--buckets", type=int, default=2016)
    args = parser.parse_args()
    frame = make_frame(args.series, args.buckets)
    matrix = np.ascontiguousarray(frame.to_numpy(dtype=np.float32).T)
    print(f"{args.series} series × {args.buckets} buckets (15m), {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    score_frame(frame.iloc[:, :64])  # warm-up: imports, allocator
    ours = timed("tripl score_frame (frame → frames)", lambda: score_frame(frame))
    timed("tripl engine only (matrix → arrays)", lambda: _matrix_result(matrix, pd.Timedelta("15min"), DEFAULTS))

    def rolling_z() -> None:
        past = frame.shift(1).rolling(672, min_periods=96)
        _ = ((frame - past.mean()) / past.std()).abs() > 3

    base = timed("baseline: pandas rolling z-score (7d, 3σ)", rolling_z)
    one = frame.iloc[:, 0]
    timed("tripl score_series (one series, mean of 20)", lambda: score_series(one), repeat=20)
    print(f"score_frame / rolling z-score (wall): {ours / base:.2f}×   goal ≤ 2 s wall: {'met' if ours <= 2 else 'NOT met'}")
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print("note: the machine is busier than its core count; wall times include waiting for a CPU — compare CPU")


if __name__ == "__main__":
    main()
