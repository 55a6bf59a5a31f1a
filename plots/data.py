"""Where each value of a run goes on a figure whose x axis is the epoch (numpy only).

Per-step values are spread over their epoch, so that epoch N's summary sits at x = N and its
steps lead up to it: a Trainer's fractional epochs are used as they are; else a step number and
the steps per epoch place a value (a global step as step / steps_per_epoch, a step counted within
its epoch as N - 1 + step / steps_per_epoch), so a run stopped early in an epoch ends early in
it; else the k-th of n observations in epoch N goes to N - 1 + k/n. Non-finite values are kept,
as positions to mark.
"""

from __future__ import annotations

import math

import numpy as np

from bertmon.analyzers.model import Run
from bertmon.analyzers.roles import step_name

MAX_STEP_POINTS = 4000  # raw per-step points drawn (min/max per bucket beyond that)


def epoch_points(run: Run, name: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, values) of one metric's epoch-table values, NaN and inf included."""
    pairs = run.epoch_values(name)
    return (np.array([float(e) for e, _ in pairs], dtype=float),
            np.array([v for _, v in pairs], dtype=float))


def step_points(run: Run, role: str = "train_loss") -> tuple[str, np.ndarray, np.ndarray] | None:
    """(name, x, y) of the role's per-step series, or None when it has no more than a value an
    epoch (then the epoch table already says it all)."""
    name = step_name(run, role)
    series = run.series.get(name) if name else None
    if series is None or len(series) <= max(len(run.epochs), 1) + 1:
        return None
    y = np.frombuffer(series.values, dtype=np.float64)[: len(series)].copy()
    epochs = np.frombuffer(series.epochs, dtype=np.float64)[: len(series)].copy()
    steps = np.frombuffer(series.steps, dtype=np.int64)[: len(series)].astype(float)
    return name, spread_over_epochs(epochs, len(run.epochs), steps, run.steps_per_epoch), y


def spread_over_epochs(epochs: np.ndarray, n_epochs: int, steps: np.ndarray | None = None,
                       steps_per_epoch: int | None = None) -> np.ndarray:
    """x positions for observations tagged with their epoch (NaN where unknown) and step (-1
    where unknown)."""
    n = len(epochs)
    if n == 0:
        return epochs
    if not np.all(np.isfinite(epochs)):  # unplaced values: spread evenly over the whole run
        return np.arange(1, n + 1, dtype=float) * (max(n_epochs, 1) / n)
    if np.any(epochs != np.floor(epochs)):  # fractional epochs (Trainer): already positions
        return epochs
    if steps is not None and steps_per_epoch and np.all(steps >= 0):
        for x in (steps / steps_per_epoch, epochs - 1 + steps / steps_per_epoch):
            if np.all((x >= epochs - 1 - 1e-9) & (x <= epochs + 1e-9)):  # inside its epoch
                return x
    x = np.empty(n)
    for e in np.unique(epochs):
        idx = np.flatnonzero(epochs == e)
        x[idx] = e - 1 + np.arange(1, len(idx) + 1) / len(idx)
    return x


def nonfinite(x: np.ndarray, y: np.ndarray) -> list[tuple[float, str]]:
    """(x, 'NaN' | 'inf' | '-inf') for every value a line cannot show."""
    out = []
    for xi, yi in zip(x, y):
        if not math.isfinite(yi):
            out.append((float(xi), "NaN" if math.isnan(yi) else ("inf" if yi > 0 else "-inf")))
    return out


def finite_or_nan(y: np.ndarray) -> np.ndarray:
    """Infinities as NaN: the line breaks there (the marks show what was there)."""
    return np.where(np.isfinite(y), y, np.nan)
