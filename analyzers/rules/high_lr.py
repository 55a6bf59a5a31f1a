"""`high_lr`: the learning rate in the log is far above BERT's fine-tuning range.

Anti-pattern: fine-tuning BERT with a generic default (Keras Adam's 1e-3) destroys the
pretrained weights or, with a frozen encoder, makes the small head thrash; the loss stalls or
diverges.
Detection: hints["lr"] (or "learning_rate") above `max_lr`.
Remedy: 2e-5..5e-5 (the BERT paper's 5e-5, 3e-5, 2e-5) with warmup and linear decay.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import Finding, Run
from .advice import BERT_LR, LR_ADVICE, lr_hint
from .base import Rule, RuleSettings, doc, fmt


@dataclass(frozen=True)
class Settings(RuleSettings):
    max_lr: float = field(
        default=1e-4, metadata=doc("twice the top of the BERT paper's range; above it, warn")
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
        message = (
            f"The learning rate is {fmt(lr)}{default}, {lr / 5e-5:.0f}x the top of BERT's "
            f"fine-tuning range {BERT_LR}: expect a stalled or diverging loss."
        )
        return [
            self.finding(
                "warning",
                message,
                evidence={"lr": lr, "max_lr": settings.max_lr},
                remedy=f"{LR_ADVICE[0].upper()}{LR_ADVICE[1:]}.",
            )
        ]
