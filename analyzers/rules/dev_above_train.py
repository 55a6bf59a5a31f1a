"""`dev_above_train`: dev accuracy stays above train accuracy.

Anti-pattern: the model does not fit its own training data. With BERT the usual causes are a
frozen encoder (only a small head learns), a learning rate far from 2e-5..5e-5 (Adam's default
1e-3), heavy dropout, or dev examples that overlap training (leakage).
Detection: dev accuracy above train accuracy by at least `margin` on each of the last `patience`
epochs after epoch `after_epochs` (UMLAUT flags val accuracy > train accuracy after epoch 3; Keras
train accuracy is an average over an epoch with dropout on, so a small early lead is normal); or,
in short runs, by at least `big_gap` on every epoch seen (at least `min_epochs_big`).
Remedy: unfreeze the encoder, fine-tune at 2e-5..5e-5 with warmup, check dropout and leakage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import Finding, Run
from .advice import FROZEN_ADVICE, LR_ADVICE, config_clues
from .base import Rule, RuleSettings, aligned, as_fractions, doc, label, r, role_points

REMEDY = (
    f"{FROZEN_ADVICE[0].upper()}{FROZEN_ADVICE[1:]}; {LR_ADVICE}; check dropout and that dev "
    "examples do not also appear in training."
)


@dataclass(frozen=True)
class Settings(RuleSettings):
    margin: float = field(
        default=0.05, metadata=doc("dev - train accuracy that counts, once past `after_epochs` "
                                   "(a running train average lags dev by a few points)")
    )
    after_epochs: int = field(default=3, metadata=doc("UMLAUT judges after epoch 3"))
    patience: int = field(default=2, metadata=doc("the lead must hold on this many latest epochs"))
    big_gap: float = field(
        default=0.10,
        metadata=doc("a lead this large on every epoch fires from `min_epochs_big` epochs"),
    )
    min_epochs_big: int = field(
        default=2, metadata=doc("epochs needed before `big_gap` alone fires")
    )


class DevAboveTrain(Rule[Settings]):
    """Dev accuracy stays above train accuracy: the model underfits its training data."""

    id = "dev_above_train"
    name = "Dev above train"
    Settings = Settings

    def check(self, run: Run, settings: Settings) -> list[Finding]:
        rows = as_fractions(aligned(run, "dev_acc", "train_acc"))
        leads = [(epoch, dev - train) for epoch, dev, train in rows]
        late = leads[settings.after_epochs :]
        sustained = len(late) >= max(1, settings.patience) and all(
            g >= settings.margin for _, g in late[-settings.patience :]
        )
        big = len(leads) >= max(1, settings.min_epochs_big) and all(
            g >= settings.big_gap for _, g in leads
        )
        if not (sustained or big):
            return []
        epoch, dev, train = rows[-1]
        held = [e for e, g in leads if g >= (settings.big_gap if big else settings.margin)]
        how = (
            f"at least {settings.big_gap:.2f} on all {len(leads)} epochs"
            if big
            else f"at least {settings.margin:.2f} on the last {settings.patience} epochs"
        )
        message = (
            f"{label(run, 'dev_acc')} {dev:.4f} is above {label(run, 'train_acc')} "
            f"{train:.4f} at epoch {epoch} (by {dev - train:.2f}; {how}): the model does "
            "not fit its own training data. Usual causes: a frozen encoder leaving only "
            "the head to train, a learning rate far from 2e-5..5e-5 (Adam's default 1e-3), "
            f"heavy dropout, or dev overlapping train{config_clues(run)}."
        )
        evidence: dict[str, object] = {
            "dev_acc": r(dev),
            "train_acc": r(train),
            "lead": r(dev - train),
            "epochs": held,
            "leads": [r(g) for _, g in leads],
        }
        dev_loss, train_loss = role_points(run, "dev_loss"), role_points(run, "train_loss")
        if dev_loss and train_loss:
            evidence.update(dev_loss=r(dev_loss[-1][1]), train_loss=r(train_loss[-1][1]))
        return [self.finding("warning", message, epoch=epoch, evidence=evidence, remedy=REMEDY)]
