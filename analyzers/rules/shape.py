"""What a run's printed numbers show as a whole, for rules that must not judge past it: whether
the log is a fragment, whether the run blew up, whether dev is still improving, and a short
account of what a verdict rests on (the `basis` of a finding)."""

from __future__ import annotations

import math

from ..model import Run
from .base import (
    epoch_columns,
    infer_mode,
    metric_names,
    non_finite_index,
    per_run,
    role_name,
    role_points,
)

FRAGMENT_FROM = 3  # a log whose first epoch is later than this starts mid-run (a paste's tail)


def first_epoch(run: Run) -> int | None:
    return run.epochs[0].epoch if run.epochs else None


def is_fragment(run: Run) -> bool:
    """The log starts mid-run (e.g. a paste from epoch 154 of 200): its first values are no
    starting point, and a flat stretch may be the end of a healthy convergence."""
    first = first_epoch(run)
    return first is not None and first > FRAGMENT_FROM


@per_run
def non_finite_loss(run: Run) -> bool:
    """Whether any loss the log printed became NaN or infinite."""
    columns = epoch_columns(run)
    for name in metric_names(run):
        if "loss" not in name.lower():
            continue
        for _, value in columns.get(name, ()):
            if isinstance(value, float) and not math.isfinite(value):
                return True
        series = run.series.get(name)
        if series is not None and len(series) and non_finite_index(series).size:
            return True
    return False


@per_run
def blew_up(run: Run) -> bool:
    """The run diverged: marked so, or a loss became NaN/inf (a stall or a chance level read
    from what is left of it would be wrong)."""
    return run.status == "diverged" or non_finite_loss(run)


@per_run
def complete_points(run: Run, role: str) -> list[tuple[int, float]]:
    """`role_points` without the epoch a crash cut short: its values are a partial epoch's (or
    the previous epoch's, still shown by a progress bar), no evidence of a stall."""
    points = role_points(run, role)
    if run.status == "crashed" and len(points) > 1 and points[-1][0] == run.current_epoch:
        return points[:-1]
    return points


@per_run
def dev_improving(run: Run, last: int, min_delta: float = 0.01) -> bool:
    """Whether the dev score (else dev accuracy, else dev loss) set a new best by more than
    `min_delta` (a loss: that fraction of it) within the last `last` epochs: a run still
    improving on dev is not stalled. One more right answer in a 256-example dev set (0.004)
    is no improvement."""
    for role in ("dev_score", "dev_acc", "dev_loss"):
        points = role_points(run, role)
        if len(points) <= last:
            continue
        values = [v for _, v in points]
        sign = -1.0 if infer_mode(role_name(run, role)) == "min" else 1.0
        if role == "dev_loss":
            sign = -1.0
        before = max(sign * v for v in values[:-last])
        delta = min_delta * (abs(before) if role == "dev_loss" else 1.0)
        return max(sign * v for v in values[-last:]) > before + delta
    return False


@per_run
def span(run: Run, *roles: str) -> str:
    """'printed loss, val_accuracy for epochs 1-30': the printed metrics a verdict reads."""
    names = [n for n in dict.fromkeys(role_name(run, role) for role in roles) if n]
    epochs = sorted({e for role in roles for e, _ in role_points(run, role)})
    if not names:
        return "nothing printed"
    where = f" for epochs {epochs[0]}-{epochs[-1]}" if len(epochs) > 1 else (
        f" for epoch {epochs[0]}" if epochs else "")
    planned = run.epochs_planned
    if planned and epochs and (epochs[0] > FRAGMENT_FROM or epochs[-1] < planned):
        where += f" of {planned}"
    return f"printed {', '.join(names)}{where}"
