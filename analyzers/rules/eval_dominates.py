"""`eval_dominates`: evaluation takes as long as training, or longer.

Anti-pattern: a dev evaluation after every epoch (or every few steps) that costs more wall time
than the training itself: an oversized dev set, batch size 1 or a per-example Python loop at eval,
no mixed precision. Nothing is wrong with the model, but every experiment takes twice as long.
Detection: hints["eval_seconds"] ({epoch: seconds}, when the parser saw evaluation timings)
against the epochs' seconds (Keras prints training time only); fires when the median ratio over
the epochs with both is at least `ratio`.
Remedy: a larger eval batch, evaluate every few epochs or on a sample, bf16 at eval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import Finding, Run
from .base import Rule, RuleSettings, doc, is_finite, median, r

REMEDY = (
    "Evaluate with a larger batch (no gradients, so 2-4x the training batch fits) and bf16, "
    "tokenise the dev set once, and evaluate every few epochs or on a sample while tuning."
)


@dataclass(frozen=True)
class Settings(RuleSettings):
    ratio: float = field(
        default=1.0, metadata=doc("eval seconds / training seconds at which evaluation dominates")
    )
    min_epochs: int = field(default=1, metadata=doc("epochs with both timings needed"))


class EvalDominates(Rule[Settings]):
    """Evaluation time dominates the epoch."""

    id = "eval_dominates"
    name = "Evaluation dominates"
    Settings = Settings

    def check(self, run: Run, settings: Settings) -> list[Finding]:
        hints = run.hints if isinstance(run.hints, dict) else {}
        raw = hints.get("eval_seconds")
        if not isinstance(raw, dict):
            return []
        evals: dict[int, float] = {}
        for key, value in raw.items():
            try:
                evals[int(key)] = float(value)
            except (TypeError, ValueError):
                continue
        pairs = [
            (row.epoch, evals[row.epoch], row.seconds)
            for row in run.epochs
            if row.epoch in evals
            and is_finite(row.seconds)
            and is_finite(evals[row.epoch])
            and row.seconds > 0
        ]  # type: ignore[operator]
        if len(pairs) < max(1, settings.min_epochs):
            return []
        ratios = [e / s for _, e, s in pairs]  # type: ignore[operator]
        typical = median(ratios)
        if typical < settings.ratio:
            return []
        epoch, ev, sec = pairs[-1]
        message = (
            f"Evaluation takes {typical:.1f}x the training time per epoch (epoch {epoch}: "
            f"{ev:.0f}s evaluating vs {sec:.0f}s training): experiments run about "
            f"{1 + typical:.1f}x slower than training alone needs."
        )
        evidence = {
            "ratio": r(typical, 2),
            "epochs": [p[0] for p in pairs],
            "eval_seconds": [r(p[1], 1) for p in pairs],
            "train_seconds": [r(p[2], 1) for p in pairs],
        }  # type: ignore[arg-type]
        return [self.finding("info", message, epoch=epoch, evidence=evidence, remedy=REMEDY)]
