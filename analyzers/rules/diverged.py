"""`diverged`: a loss became NaN or infinite, or exploded.

Anti-pattern: training blows up (too high a learning rate, no warmup, fp16 overflow, bad inputs)
and every later epoch is wasted.
Detection: `status == "diverged"`; or a non-finite value in any loss metric (epoch table or
per-step series); or a gradient norm (`grad_norm`, Trainer's dict lines) that is NaN/inf at the
end or on `min_bad_norms` logged steps (transformers then writes the NaN loss as 0.0 in some
versions); or the train loss ending at least `explode_factor` times its lowest value and above
where it started, read from the epoch table or, smoothed, from the per-step series (a tqdm
postfix growing from `1.95e+4` to `1.35e+5`).
Remedy: a BERT learning rate (2e-5..5e-5) with warmup, gradient clipping (max norm 1.0), bf16
or loss scaling instead of plain fp16, and a check of inputs and labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..model import Finding, Run
from .advice import BERT_LR
from .base import (
    Rule,
    RuleSettings,
    doc,
    epoch_columns,
    finite_array,
    fmt,
    is_finite,
    metric_names,
    non_finite_index,
    r,
    role_points,
    role_series,
)
from .shape import span

REMEDY = (
    f"Lower the learning rate to {BERT_LR} with warmup, clip gradients (clipnorm=1.0 / "
    "max_grad_norm=1.0), use bf16 or loss scaling rather than plain fp16, and check the inputs "
    "(empty texts, labels outside the class range)."
)


@dataclass(frozen=True)
class Settings(RuleSettings):
    explode_factor: float = field(
        default=4.0,
        metadata=doc(
            "the train loss explodes when it ends this many times above its lowest epoch value "
            "(and above its first, so wobbles of a nearly-zero loss do not count)"
        ),
    )
    min_bad_norms: int = field(
        default=2, metadata=doc("NaN/inf gradient norms on this many logged steps (or the last)")
    )
    min_points: int = field(
        default=12, metadata=doc("per-step observations needed to read an explosion from steps")
    )


class Diverged(Rule[Settings]):
    """The loss became NaN or infinite, or exploded."""

    id = "diverged"
    name = "Training diverged"
    Settings = Settings

    def check(self, run: Run, settings: Settings) -> list[Finding]:
        found = self._bad_norms(run, settings)
        bad = _first_non_finite(run)
        if bad is not None:
            name, epoch, step, value = bad
            at = f"epoch {epoch}" if epoch is not None else "an unknown epoch"
            at += f" (step {step})" if step is not None else ""
            message = (
                f"{name} became {value} at {at}: training diverged, often from too high "
                "a learning rate, no warmup or fp16 overflow."
            )
            evidence = {"metric": name, "value": str(value), "epoch": epoch, "step": step}
            found += [self.finding("error", message, epoch=epoch, evidence=evidence,
                                   remedy=REMEDY, basis=f"printed {name}={value} at {at}")]
        if found:  # the earliest sign: a NaN gradient norm often precedes a NaN loss
            return [min(found, key=lambda f: (
                math.inf if f.epoch is None else f.epoch,
                f.evidence.get("step") if isinstance(f.evidence.get("step"), int) else math.inf))]
        exploded = self._explosion(run, settings) or self._step_explosion(run, settings)
        if exploded:
            return exploded
        if run.status == "diverged":
            message = (
                "The run is marked diverged (its loss became NaN or infinite): training "
                "blew up, often from too high a learning rate or fp16 overflow."
            )
            return [
                self.finding(
                    "error",
                    message,
                    epoch=run.current_epoch,
                    evidence={"status": "diverged"},
                    remedy=REMEDY,
                    basis="the parser's reading of the log (a NaN/inf loss or a stop on NaN)",
                )
            ]
        return []

    def _explosion(self, run: Run, settings: Settings) -> list[Finding]:
        losses = role_points(run, "train_loss")
        if len(losses) < 2:
            return []
        low_epoch, low = min(losses, key=lambda ev: ev[1])
        last_epoch, last = losses[-1]
        first = losses[0][1]
        if low <= 0 or last < settings.explode_factor * low or last <= first:
            return []
        name = run.roles.get("train_loss")
        message = (
            f"train {name} exploded to {fmt(last)} at epoch {last_epoch}, "
            f"{last / low:.1f}x its low of {fmt(low)} at epoch {low_epoch}: training "
            "diverged, often from too high a learning rate or missing warmup."
        )
        evidence = {
            "metric": name,
            "last": r(last),
            "last_epoch": last_epoch,
            "low": r(low),
            "low_epoch": low_epoch,
            "factor": r(last / low, 2),
        }
        return [self.finding("error", message, epoch=last_epoch, evidence=evidence, remedy=REMEDY,
                             basis=span(run, "train_loss"))]

    def _step_explosion(self, run: Run, settings: Settings) -> list[Finding]:
        """The per-step train loss (a tqdm postfix, Trainer logging steps) ends, smoothed, far
        above both its low and its start: an explosion that no epoch table shows."""
        series = role_series(run, "train_loss")
        index, values = finite_array(series)
        if series is None or len(values) < settings.min_points:
            return []
        w = max(3, len(values) // 10)
        if _bounded(values, settings.explode_factor):
            return []
        start, low, end = _window_means(values, w)
        if low <= 0 or end < settings.explode_factor * low or end < 2 * start:
            return []
        name = series.name
        at = series[int(index[-1])]
        epoch = None if at.epoch is None else math.ceil(at.epoch)
        message = (
            f"train {name} exploded to about {fmt(end)} by the last logged steps, "
            f"{end / low:.1f}x its low of about {fmt(low)} and {end / start:.1f}x where it "
            "started: training diverged, often from too high a learning rate or missing warmup."
        )
        evidence = {"metric": name, "start": r(start), "low": r(low), "end": r(end),
                    "factor": r(end / low, 2), "smoothed_over": w, "points": len(values)}
        return [self.finding("error", message, epoch=epoch, evidence=evidence, remedy=REMEDY,
                             basis=f"printed {name} on {len(values)} steps (averaged over {w})")]

    def _bad_norms(self, run: Run, settings: Settings) -> list[Finding]:
        """NaN/inf gradient norms: the step's update is garbage, whatever the loss shows."""
        for name in metric_names(run):
            lowered = name.lower().replace(" ", "_")
            if "grad" not in lowered or "norm" not in lowered:
                continue
            series = run.series.get(name)
            if series is None or len(series) == 0:
                continue
            bad = non_finite_index(series)
            if not bad.size or (bad.size < settings.min_bad_norms and bad[-1] != len(series) - 1):
                continue
            point = series[int(bad[0])]
            epoch = None if point.epoch is None else math.ceil(point.epoch)
            zeroed = _zero_losses(run, series, bad)
            message = (
                f"{name} became {point.value} at "
                f"{'epoch ' + str(epoch) if epoch is not None else 'an unknown epoch'}"
                f"{f' (step {point.step})' if point.step is not None else ''} and is non-finite "
                f"on {bad.size} of {len(series)} logged steps"
                + (f"; the loss is printed as 0.0 on {zeroed} of them (a NaN loss written as 0)"
                   if zeroed else "")
                + ": training diverged, often from too high a learning rate, no warmup or fp16 "
                "overflow."
            )
            evidence = {"metric": name, "value": str(point.value), "epoch": epoch,
                        "step": point.step, "bad_steps": int(bad.size), "steps": len(series),
                        "zero_losses": zeroed}
            return [self.finding("error", message, epoch=epoch, evidence=evidence, remedy=REMEDY,
                                 basis=f"printed {name}={point.value} on {bad.size} logged steps")]
        return []


def _zero_losses(run: Run, norms, bad: np.ndarray) -> int:
    """How many of the steps with a bad gradient norm print a train loss of exactly 0.0."""
    series = role_series(run, "train_loss")
    if series is None:
        return 0
    steps = {norms[int(i)].step for i in bad if norms[int(i)].step is not None}
    zeros = np.flatnonzero(np.frombuffer(series.values, dtype=np.float64) == 0.0).tolist()
    return sum(1 for i in zeros if series[i].step in steps)


def _first_non_finite(run: Run) -> tuple[str, int | None, int | None, float] | None:
    """The earliest non-finite value of a loss metric: (name, epoch, step, value)."""
    names = {n for n in (run.roles.get("train_loss"), run.roles.get("dev_loss")) if n}
    names |= {n for n in metric_names(run) if "loss" in n.lower()}
    found: list[tuple[str, int | None, int | None, float]] = []
    columns = epoch_columns(run)
    for name in sorted(names):
        for epoch, value in columns.get(name, ()):
            if isinstance(value, float) and not is_finite(value):
                found.append((name, epoch, None, value))
                break
        series = run.series.get(name)
        if series is None or len(series) == 0:
            continue
        bad = non_finite_index(series)
        if bad.size:
            point = series[int(bad[0])]
            epoch = None if point.epoch is None else math.ceil(point.epoch)
            found.append((name, epoch, point.step, point.value))
    if not found:
        return None
    return min(found, key=lambda f: (math.inf if f[1] is None else f[1], f[2] is None))


# np.convolve costs len(values) * w: up to this it is cheap (and its sums are the ones findings
# have always quoted); past it, a running sum gives the same means in linear time
_CONVOLVE_MAX = 10_000_000
_CHUNK = 1 << 18


def _bounded(values: np.ndarray, factor: float) -> bool:
    """Whether no window mean can reach `factor` times the lowest one: every mean lies between
    the lowest and the highest value, so a positive series whose highest value is below
    `factor` times its lowest cannot explode (the margin is far above the sums' rounding)."""
    lowest, highest = float(values.min()), float(values.max())
    return factor > 0 and lowest > 0 and highest * (1 + 1e-6) < factor * lowest * (1 - 1e-6)


def _window_means(values: np.ndarray, w: int) -> tuple[float, float, float]:
    """(first, lowest, last) of the means of every `w` consecutive values (w <= len(values)).

    A per-step series of millions of points has w in the hundreds of thousands: a convolution
    would take hours there, so the means are updated one step at a time (mean += (new - old) /
    w), chunk by chunk, in memory that does not grow with the series."""
    n = len(values)
    if n * w <= _CONVOLVE_MAX:
        smooth = np.convolve(values, np.full(w, 1 / w), mode="valid")
        return float(smooth[0]), float(smooth.min()), float(smooth[-1])
    mean = float(values[:w].sum()) / w
    first = low = mean
    for a in range(1, n - w + 1, _CHUNK):  # means of the windows starting at a .. b-1
        b = min(n - w + 1, a + _CHUNK)
        step = values[a + w - 1 : b + w - 1] - values[a - 1 : b - 1]
        step /= w
        np.cumsum(step, out=step)
        step += mean
        low = min(low, float(step.min()))
        mean = float(step[-1])
    return first, low, mean
