"""`diverged`: a loss became NaN or infinite, or exploded.

Anti-pattern: training blows up (too high a learning rate, no warmup, fp16 overflow, bad inputs)
and every later epoch is wasted.
Detection: `status == "diverged"`; or a non-finite value in any loss metric (epoch table or
per-step series); or the train loss ending at least `explode_factor` times its lowest value and
above where it started.
Remedy: a BERT learning rate (2e-5..5e-5) with warmup, gradient clipping (max norm 1.0), bf16
or loss scaling instead of plain fp16, and a check of inputs and labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..model import Finding, Run
from .advice import BERT_LR
from .base import Rule, RuleSettings, doc, fmt, is_finite, r, role_points

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


class Diverged(Rule[Settings]):
    """The loss became NaN or infinite, or exploded."""

    id = "diverged"
    name = "Training diverged"
    Settings = Settings

    def check(self, run: Run, settings: Settings) -> list[Finding]:
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
            return [self.finding("error", message, epoch=epoch, evidence=evidence, remedy=REMEDY)]
        exploded = self._explosion(run, settings)
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
        return [self.finding("error", message, epoch=last_epoch, evidence=evidence, remedy=REMEDY)]


def _first_non_finite(run: Run) -> tuple[str, int | None, int | None, float] | None:
    """The earliest non-finite value of a loss metric: (name, epoch, step, value)."""
    names = {n for n in (run.roles.get("train_loss"), run.roles.get("dev_loss")) if n}
    names |= {n for n in run.metric_names() if "loss" in n.lower()}
    found: list[tuple[str, int | None, int | None, float]] = []
    for name in sorted(names):
        for row in run.epochs:
            value = row.metrics.get(name)
            if isinstance(value, float) and not is_finite(value):
                found.append((name, row.epoch, None, value))
                break
        series = run.series.get(name)
        if series is None or len(series) == 0:
            continue
        bad = np.flatnonzero(~np.isfinite(np.frombuffer(series.values, dtype=np.float64)))
        if bad.size:
            point = series[int(bad[0])]
            epoch = None if point.epoch is None else math.ceil(point.epoch)
            found.append((name, epoch, point.step, point.value))
    if not found:
        return None
    return min(found, key=lambda f: (math.inf if f[1] is None else f[1], f[2] is None))
