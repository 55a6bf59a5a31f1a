"""`frozen_encoder`: the log says the BERT encoder is frozen.

Anti-pattern: `bert_model.trainable = False` (or requires_grad=False on the encoder) turns
fine-tuning into feature extraction: only the head learns, the loss stalls near chance and
accuracy stays far below what fine-tuning reaches (CoLA: about 0.6 vs 0.8+).
Detection: hints["frozen"] is True (the parser or trainer saw it). An info: freezing can be
deliberate; the chance_level, stalled_loss and dev_above_train findings tell whether it hurt.
Remedy: unfreeze and fine-tune the whole model at 2e-5..5e-5 with warmup.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Finding, Run
from .advice import FROZEN_ADVICE, LR_ADVICE, is_frozen
from .base import Rule, RuleSettings


@dataclass(frozen=True)
class Settings(RuleSettings):
    pass


class FrozenEncoder(Rule[Settings]):
    """The BERT encoder is frozen, so only the head trains."""

    id = "frozen_encoder"
    name = "Frozen encoder"
    Settings = Settings

    def check(self, run: Run, settings: Settings) -> list[Finding]:
        if not is_frozen(run):
            return []
        message = (
            "The encoder is frozen, so only the classification head trains: expect "
            "accuracy far below fine-tuning and a loss that stays high."
        )
        remedy = f"{FROZEN_ADVICE[0].upper()}{FROZEN_ADVICE[1:]}; {LR_ADVICE}."
        return [self.finding("info", message, evidence={"frozen": True}, remedy=remedy)]
