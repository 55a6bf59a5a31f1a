"""`loss_spike`: sudden spikes in the per-step training loss.

Anti-pattern: single steps where the loss jumps far above its recent level: too high a learning
rate, no warmup, no gradient clipping, fp16 overflow, or a bad batch (empty or very long texts,
wrong labels). Spikes often precede divergence or leave a run worse than before.
Detection: in the per-step train loss series (at least `min_points` observations) a point at
least `factor` times the median of the `window` points before it, and above that median by at
least `min_rise` of the series' opening level (so that late-training noise around a nearly-zero
loss does not count), is a spike; consecutive spiking points are one. A noisy series (per-batch
losses, whose step-to-step change is over `noisy` of their level: they vary several-fold in a
healthy BERT run) is first smoothed with a trailing median of `smooth` points and a spike must
last `min_length` points, so one hard batch does not count, only a jump that lasts; there it is a
warning only from `noisy_warning_factor` on (an info below). In a smooth series (Keras running
averages) one point is enough.
Remedy: warmup, gradient clipping, a BERT learning rate (2e-5..5e-5), bf16, checking the batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..model import Finding, Run
from .base import Rule, RuleSettings, doc, finite_array, fmt, label, median, r, role_series

REMEDY = (
    "Use warmup (about 10% of steps), clip gradients (max norm 1.0), keep the learning rate at "
    "2e-5..5e-5, prefer bf16 to fp16, and look at the batches at the spiking steps."
)


@dataclass(frozen=True)
class Settings(RuleSettings):
    window: int = field(
        default=20, metadata=doc("points of recent history a step is compared with")
    )
    noisy: float = field(
        default=0.15,
        metadata=doc("median step-to-step change / median level above which a series is noisy"),
    )
    smooth: int = field(
        default=15, metadata=doc("noisy series: trailing median over this many steps first")
    )
    min_length: int = field(
        default=5, metadata=doc("noisy series: smoothed points a spike must last")
    )
    noisy_warning_factor: float = field(
        default=5.0,
        metadata=doc("noisy series: a spike is a warning from this factor on, an info below"),
    )
    factor: float = field(
        default=2.5, metadata=doc("a spike is at least this many times the recent median")
    )
    min_rise: float = field(
        default=0.5, metadata=doc("... and above it by this fraction of the opening level")
    )
    min_points: int = field(default=30, metadata=doc("per-step observations needed"))
    max_listed: int = field(default=5, metadata=doc("spikes listed in the evidence"))


class LossSpike(Rule[Settings]):
    """Sudden spikes in the per-step training loss."""

    id = "loss_spike"
    name = "Loss spikes"
    Settings = Settings

    def check(self, run: Run, settings: Settings) -> list[Finding]:
        series = role_series(run, "train_loss")
        index, values = finite_array(series)
        window = max(1, settings.window)
        if series is None or len(values) < max(settings.min_points, window + 1):
            return []
        noisy = _noise(values) > settings.noisy
        spikes = [
            (i, v, b)
            for i, v, b, length in _spikes(values, window, settings.factor, settings.min_rise,
                                           settings.smooth if noisy else 1)
            if length >= (settings.min_length if noisy else 1)
        ]
        if not spikes:
            return []
        i, value, base = max(spikes, key=lambda s: s[1] / s[2])
        point = series[int(index[i])]
        listed = [
            {
                "epoch": _epoch(series[int(index[j])].epoch),
                "step": series[int(index[j])].step,
                "value": r(v),
                "baseline": r(b),
            }
            for j, v, b in spikes[: settings.max_listed]
        ]
        where = f"step {point.step}" if point.step is not None else f"observation {int(index[i]) + 1}"
        message = (
            f"{label(run, 'train_loss')} spiked {len(spikes)} time(s); the largest to "
            f"{fmt(value)} at {where}, {value / base:.1f}x its recent level of "
            f"{fmt(base)}: too high a learning rate, missing warmup or clipping, or a "
            "bad batch."
        )
        evidence = {"count": len(spikes), "spikes": listed, "factor": r(value / base, 2)}
        evidence["noisy"] = noisy
        severity = "warning"
        if noisy and value / base < settings.noisy_warning_factor:
            severity = "info"
        return [
            self.finding(
                severity, message, epoch=_epoch(point.epoch), evidence=evidence, remedy=REMEDY
            )
        ]


NOISE_SAMPLE = 1 << 18  # a longer series' noise is measured on this many evenly spaced points


def _noise(values: np.ndarray) -> float:
    """Median step-to-step change relative to the median level: ~0.01 for running averages,
    ~0.5 for per-batch losses. On a series longer than NOISE_SAMPLE, both medians are taken
    over every k-th point (and its successor): the scratch copies stay at 2 MB."""
    stride = -(-len(values) // NOISE_SAMPLE)
    level = _median_into(np.abs(values[::stride]))
    if not level > 0:
        return 0.0
    moves = values[1::stride] - values[:-1:stride]
    return _median_into(np.abs(moves, out=moves)) / level


def _median_into(scratch: np.ndarray) -> float:
    """`float(np.median(scratch))` (the mean of the two middle values of an even count), found by
    partitioning `scratch` in place: no second copy of a long series."""
    n = len(scratch)
    half = n // 2
    if n % 2:
        scratch.partition(half)
        return float(scratch[half])
    scratch.partition((half - 1, half))
    return (float(scratch[half - 1]) + float(scratch[half])) / 2


_CHUNK = 1 << 16  # points judged at a time: temporaries stay small on a series of millions


def _spikes(
    values: np.ndarray, window: int, factor: float, min_rise: float, smooth: int = 1
) -> list[tuple[int, float, float, int]]:
    """(index, value, baseline, length) of each spike of `values` smoothed by a trailing median
    of `smooth` points (1: as they are); a run of spiking points is one, at its peak.

    The median of the window is at least its minimum, so only points that clear the rolling
    minimum of the `window` values before them (numpy, chunk by chunk) need the median: long
    series stay cheap. The smoothed values are made a chunk at a time too: no copy as long as
    the series.
    """
    n = len(values)
    if n <= window:
        return []
    if smooth <= 1 and factor >= 0 and values[window:].max() < factor * values[:-1].min():
        return []  # no point reaches `factor` times the lowest value before it: no candidate
    opening = median(_smoothed(values, smooth, 0, window).tolist())
    rise = min_rise * opening
    spikes: list[tuple[int, float, float]] = []
    for start in range(window, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        part = _smoothed(values, smooth, start - window, stop)  # points start - window .. stop
        lows = _window_min(part[:-1], window)  # the least of the `window` values before each
        later = part[window:]
        hit = later >= factor * lows
        hit &= later - lows >= rise
        for k in np.flatnonzero(hit).tolist():
            v = float(later[k])
            base = median(part[k : k + window].tolist())
            if base > 0 and v >= factor * base and v - base >= rise:
                spikes.append((start + k, v, base))
    return _merge(spikes)


def _window_min(x: np.ndarray, window: int) -> np.ndarray:
    """`min(x[j:j + window])` for each j from 0 to len(x) - window, by doubling spans: about
    log2(window) passes of `np.minimum` over the array, not `window` values read per point."""
    m, span = x, 1
    while span * 2 <= window:  # m[j] = min(x[j:j + 2 * span])
        m = np.minimum(m[:-span], m[span:])
        span *= 2
    count = len(x) - window + 1
    if span < window:  # two spans that overlap cover the window
        m = np.minimum(m[:count], m[window - span : window - span + count])
    return m[:count]


def _smoothed(values: np.ndarray, k: int, start: int, stop: int) -> np.ndarray:
    """values[i] for i in start..stop replaced by the median of values[i-k+1 .. i] (fewer at the
    start), reading only `values[start - k + 1:stop]`."""
    if k <= 1 or len(values) < k:
        return values[start:stop]
    out = np.empty(stop - start)
    head = min(stop, k - 1)  # the first k - 1 points: the median of all points so far
    if start < head:
        first = values[:head].tolist()
        out[: head - start] = [median(first[: i + 1]) for i in range(start, head)]
    lo = max(start, k - 1)
    if lo < stop:
        windows = np.lib.stride_tricks.sliding_window_view(values[lo - k + 1 : stop], k)
        rows = _CHUNK // k + 1  # np.median copies the windows it is given: a chunk at a time
        for a in range(0, len(windows), rows):
            out[lo - start + a : lo - start + a + rows] = np.median(windows[a : a + rows], axis=1)
    return out


def _merge(spikes: list[tuple[int, float, float]]) -> list[tuple[int, float, float, int]]:
    """Consecutive spiking points are one spike, reported at its highest point, with its length."""
    merged: list[tuple[int, float, float, int]] = []
    last = -2
    for i, v, b in spikes:
        if merged and i == last + 1:
            j, peak, base, length = merged[-1]
            merged[-1] = (i, v, base, length + 1) if v > peak else (j, peak, base, length + 1)
        else:
            merged.append((i, v, b, 1))
        last = i
    return merged


def _epoch(epoch: float | None) -> int | None:
    """The epoch a point belongs to (a fractional Trainer epoch 0.4 is in epoch 1)."""
    return None if epoch is None else math.ceil(epoch)
