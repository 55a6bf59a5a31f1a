"""`unstable_dev`: the dev metric swings from epoch to epoch more than its trend explains.

Anti-pattern: the dev score jumps up and down (learning rate too high, no warmup, a tiny or
unbalanced dev set, truncated inputs), so the last epoch's value says little and comparisons
between runs are noise.
Detection: on the dev score (else dev accuracy, else dev loss) with at least `min_epochs`
epochs, compare each epoch with the mean of the epochs either side: one `swing` or more away
is a swing (for a loss, `swing_rel` of its median level). The metric is unstable when at least
`min_fraction` of those epochs swing (AUTOTRAINER: accuracy swings >= 0.03 in >= 20% of
epochs) and it changes direction at least `min_reversals` times, so a learning curve that
rises fast and then flattens, or improves in uneven steps, does not count. A dev metric at
chance level swings by its sampling noise: there `chance_level` is the finding (see the
registry).
Remedy: a BERT learning rate (2e-5..5e-5) with warmup and decay, a larger dev set, keeping the
best checkpoint and averaging over seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from ..model import Finding, Run
from .base import (
    Mode,
    Rule,
    RuleSettings,
    doc,
    first_role,
    infer_mode,
    label,
    median,
    r,
    role_points,
)
from .shape import span

REMEDY = (
    "Lower the learning rate to 2e-5..5e-5 with warmup and linear decay, check max_length is not "
    "truncating the inputs (e.g. 32 instead of 128), use a larger dev set, keep the best "
    "checkpoint rather than the last, and compare changes over several seeds."
)


@dataclass(frozen=True)
class Settings(RuleSettings):
    mode: Mode = field(
        default="auto", metadata=doc("min/max/auto (from the metric's name), as Keras callbacks")
    )
    swing: float = field(
        default=0.03,
        metadata=doc("distance from the mean of the epochs either side that counts as a swing, "
                     "for a score or accuracy"),
    )
    swing_rel: float = field(
        default=0.10, metadata=doc("... and for a loss, as a fraction of its median value")
    )
    min_fraction: float = field(
        default=0.15, metadata=doc("share of epochs (but the first and last) that must swing")
    )
    min_reversals: int = field(
        default=2, metadata=doc("direction changes needed (a monotone curve is not unstable)")
    )
    min_epochs: int = field(default=5, metadata=doc("dev epochs needed (4 moves) before judging"))


class UnstableDev(Rule[Settings]):
    """The dev metric swings from epoch to epoch more than its trend explains."""

    id = "unstable_dev"
    name = "Unstable dev metric"
    Settings = Settings

    def check(self, run: Run, settings: Settings) -> list[Finding]:
        role = first_role(run, ("dev_score", "dev_acc", "dev_loss"), settings.min_epochs)
        if role is None:
            return []
        points = role_points(run, role)
        values = [v for _, v in points]
        moves = [b - a for a, b in pairwise(values)]
        trend = median(moves)
        mode = infer_mode(run.roles.get(role), settings.mode)
        threshold = settings.swing if mode == "max" else settings.swing_rel * abs(median(values))
        # each epoch against the mean of its two neighbours: a learning curve that bends (fast
        # early gains, then a plateau) stays close to it, a zigzag does not
        swings = [
            (points[i][0], values[i] - (values[i - 1] + values[i + 1]) / 2)
            for i in range(1, len(values) - 1)
            if abs(values[i] - (values[i - 1] + values[i + 1]) / 2) >= threshold
        ]
        signs = [m > 0 for m in moves if m != 0]
        reversals = sum(a != b for a, b in pairwise(signs))
        if (
            threshold <= 0
            or len(swings) < settings.min_fraction * (len(values) - 2)
            or reversals < settings.min_reversals
            or not swings
        ):
            return []
        worst_epoch, worst = max(swings, key=lambda s: abs(s[1]))
        best_i = (max if mode == "max" else min)(range(len(values)), key=lambda i: values[i])
        best_epoch, best = points[best_i]
        message = (
            f"{label(run, role)} swings between epochs by up to {abs(worst):.4f} beyond "
            f"its neighbours ({len(swings)} of {len(values) - 2} epochs off the mean of the "
            "epochs either side by >= "
            f"{threshold:.3g}; range {min(values):.4f}..{max(values):.4f}, best "
            f"{best:.4f} at epoch {best_epoch}): the dev metric is noisy, so the last "
            "epoch's value says little. Usual causes: too high a learning rate or no "
            "warmup, a small dev set, truncated inputs."
        )
        evidence = {
            "metric": run.roles.get(role),
            "swing_epochs": [e for e, _ in swings],
            "swings": [r(s) for _, s in swings],
            "moves": len(moves),
            "reversals": reversals,
            "trend_per_epoch": r(trend),
            "min": r(min(values)),
            "max": r(max(values)),
            "best_epoch": best_epoch,
            "best": r(best),
        }
        return [
            self.finding("warning", message, epoch=worst_epoch, evidence=evidence, remedy=REMEDY,
                         basis=span(run, role))
        ]
