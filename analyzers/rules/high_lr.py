"""`high_lr`: the learning rate in the log is far above BERT's fine-tuning range.

Anti-pattern: fine-tuning BERT with a generic default (Keras Adam's 1e-3) destroys the
pretrained weights or, with a frozen encoder, makes the small head thrash; the loss stalls or
diverges.
Detection: hints["lr"] (or "learning_rate") above `max_lr`. A warning, or info where the run
learns anyway (its train loss fell to at most `learning_ratio` of its first epoch's, finite
throughout): a model trained from scratch or with another optimizer's scale (fairseq at 1.2e-4,
SGD at 8e-4) is not BERT being fine-tuned, and the rate may suit it.
Remedy: 2e-5..5e-5 (the BERT paper's 5e-5, 3e-5, 2e-5) with warmup and linear decay.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import Finding, Run
from .advice import BERT_LR, LR_ADVICE, lr_hint
from .base import Rule, RuleSettings, doc, fmt, role_points


@dataclass(frozen=True)
class Settings(RuleSettings):
    max_lr: float = field(
        default=1e-4, metadata=doc("twice the top of the BERT paper's range; above it, warn")
    )
    learning_ratio: float = field(
        default=0.5, metadata=doc("a last epoch's train loss at most this fraction of the "
                                  "first's: the run learns, and the finding is info")
    )


class HighLR(Rule[Settings]):
    """The learning rate is far above BERT's fine-tuning range (2e-5..5e-5)."""

    id = "high_lr"
    name = "Learning rate too high"
    Settings = Settings

    def check(self, run: Run, settings: Settings) -> list[Finding]:
        lr = lr_hint(run)
        if lr is None or lr <= settings.max_lr:
            return []
        default = " (Keras Adam's default)" if abs(lr - 1e-3) < 1e-12 else ""
        message = (f"The learning rate is {fmt(lr)}{default}, {lr / 5e-5:.0f}x the top of BERT's "
                   f"fine-tuning range {BERT_LR}")
        evidence: dict = {"lr": lr, "max_lr": settings.max_lr}
        losses = role_points(run, "train_loss")
        learns = (len(losses) >= 2 and run.status != "diverged" and losses[0][1] > 0
                  and losses[-1][1] <= settings.learning_ratio * losses[0][1])
        if learns:
            (first_epoch, first), (last_epoch, last) = losses[0], losses[-1]
            message += (f", yet the train loss fell from {fmt(first)} (epoch {first_epoch}) to "
                        f"{fmt(last)} (epoch {last_epoch}): right for a model trained from "
                        "scratch, too high for a pretrained BERT being fine-tuned.")
            evidence.update(first_loss=first, last_loss=last)
        else:
            message += ": expect a stalled or diverging loss."
        return [
            self.finding(
                "info" if learns else "warning",
                message,
                evidence=evidence,
                remedy=f"{LR_ADVICE[0].upper()}{LR_ADVICE[1:]}.",
            )
        ]
