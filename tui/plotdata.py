"""Turning metric series into points to draw: downsampling and smoothing, with numpy only.

Downsampling is for drawing and never touches the data: each bucket keeps its minimum and its
maximum, so a spike or a NaN-free dip stays visible however long the run. Smoothing follows
TensorBoard, which also smooths the points it has sampled for drawing: a debiased exponential
moving average, or a trailing moving average.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

Smoothing = Literal["none", "ema", "mean"]
SMOOTHINGS: tuple[Smoothing, ...] = ("none", "ema", "mean")
SMOOTHING_LABEL = {"none": "no smoothing", "ema": "EMA 0.6", "mean": "moving average"}
EMA_WEIGHT = 0.6  # TensorBoard's default smoothing weight
MEAN_WINDOW = 0.05  # moving-average window as a share of the drawn points (at least 3)


def minmax_downsample(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """At most about 2 * buckets points: each bucket's minimum and maximum, in x order."""
    n = len(y)
    if buckets < 1 or n <= 2 * buckets:
        return x, y
    size = n // buckets
    m = size * buckets
    # NaN/inf would win min/max; rank them as ordinary values are ranked, then restore.
    clean = np.where(np.isfinite(y), y, np.nan)
    rows = clean[:m].reshape(buckets, size)
    filled_lo = np.where(np.isnan(rows), np.inf, rows)
    filled_hi = np.where(np.isnan(rows), -np.inf, rows)
    base = np.arange(buckets) * size
    i_min = base + np.argmin(filled_lo, axis=1)
    i_max = base + np.argmax(filled_hi, axis=1)
    index = np.concatenate([i_min, i_max, np.arange(m, n)])
    index = np.unique(index)  # sorted, so x order is kept
    return x[index], y[index]


def smooth(y: np.ndarray, how: Smoothing) -> np.ndarray:
    """The drawn points smoothed the TensorBoard way; NaN and inf are left out of the average."""
    if how == "none" or len(y) < 3:
        return y
    if how == "ema":
        out = np.empty(len(y))
        last = 0.0
        weight = 0.0
        for i, v in enumerate(y):
            if math.isfinite(v):
                last = last * EMA_WEIGHT + (1 - EMA_WEIGHT) * v
                weight = weight * EMA_WEIGHT + (1 - EMA_WEIGHT)
            out[i] = last / weight if weight else v
        return out
    window = max(3, int(len(y) * MEAN_WINDOW))
    clean = np.where(np.isfinite(y), y, 0.0)
    count = np.isfinite(y).astype(float)
    c_sum = np.cumsum(np.concatenate([[0.0], clean]))
    c_cnt = np.cumsum(np.concatenate([[0.0], count]))
    hi = np.arange(1, len(y) + 1)
    lo = np.maximum(0, hi - window)
    n = c_cnt[hi] - c_cnt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (c_sum[hi] - c_sum[lo]) / np.maximum(n, 1), np.nan)


def finite_points(x: list[float], y: list[float]) -> tuple[list[float], list[float]]:
    """Drop NaN and inf, which plotext cannot draw (the findings panel reports them)."""
    pairs = [(a, b) for a, b in zip(x, y) if math.isfinite(a) and math.isfinite(b)]
    return [a for a, _ in pairs], [b for _, b in pairs]
