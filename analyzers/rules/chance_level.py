"""`chance_level`: the model does no better than guessing.

Anti-pattern: a classifier whose loss stays about ln(K) (K classes) or whose accuracy stays at
the chance or majority-class rate has learnt nothing; a dev accuracy identical epoch after epoch
means it predicts one class for everything.
Detection, at the latest epoch and after `min_epochs` epochs: the train loss within
`tolerance` of ln(K) or above it (K from hints["num_classes"], else guessed from a first loss
close to some ln K); or train/dev accuracy at most `acc_margin` above max(1/K,
hints["majority_rate"]); or the dev accuracy unchanged over the last `constant_epochs` epochs.
Remedy: BERT learning rates 2e-5..5e-5 with warmup, an unfrozen encoder, labels that match the
loss, class weights or resampling for skewed labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..model import Finding, Run
from .advice import FROZEN_ADVICE, LR_ADVICE, config_clues, num_classes
from .base import Rule, RuleSettings, doc, hint_number, label, r, role_points

REMEDY = (
    f"{LR_ADVICE[0].upper()}{LR_ADVICE[1:]}; {FROZEN_ADVICE}; check that the labels and the loss "
    "match (number of classes, from_logits) and, for skewed labels, use class weights."
)


@dataclass(frozen=True)
class Settings(RuleSettings):
    min_epochs: int = field(
        default=2,
        metadata=doc("one epoch's average loss says too little about where training goes"),
    )
    tolerance: float = field(
        default=0.15, metadata=doc("loss >= (1 - tolerance) * ln K counts as chance")
    )
    acc_margin: float = field(
        default=0.03, metadata=doc("accuracy <= chance rate + this counts as chance")
    )
    constant_epochs: int = field(
        default=3, metadata=doc("identical dev accuracy over this many last epochs: one class")
    )


class ChanceLevel(Rule[Settings]):
    """The loss is about ln(number of classes) or the accuracy at the chance/majority rate."""

    id = "chance_level"
    name = "At chance level"
    Settings = Settings

    def check(self, run: Run, settings: Settings) -> list[Finding]:
        k = num_classes(run, settings.tolerance)
        reasons: list[str] = []
        evidence: dict[str, object] = {}
        epoch: int | None = None
        losses = role_points(run, "train_loss")
        if k is not None and len(losses) >= settings.min_epochs:
            epoch, loss = losses[-1]
            chance_loss = math.log(k[0])
            if loss >= (1 - settings.tolerance) * chance_loss:
                reasons.append(
                    f"{label(run, 'train_loss')} {loss:.4f} at epoch {epoch} is still "
                    f"near ln {k[0]} = {chance_loss:.3f}"
                )
                evidence.update(train_loss=r(loss), chance_loss=r(chance_loss))
        rate = _chance_rate(run, k)
        for role in ("train_acc", "dev_acc"):
            accs = role_points(run, role)
            if rate is None or len(accs) < settings.min_epochs:
                continue
            acc_epoch, acc = accs[-1]
            if acc <= rate + settings.acc_margin:
                reasons.append(f"{label(run, role)} {acc:.4f} is at the chance rate {rate:.3f}")
                evidence[role] = r(acc)
                evidence["chance_rate"] = r(rate)
                epoch = _later(epoch, acc_epoch)
        dev = role_points(run, "dev_acc")[-settings.constant_epochs :]
        if (
            len(dev) >= max(2, settings.constant_epochs)
            and max(v for _, v in dev) - min(v for _, v in dev) < 1e-9
        ):
            reasons.append(
                f"{label(run, 'dev_acc')} is {dev[-1][1]:.4f} on each of the last "
                f"{len(dev)} epochs, as if one class were predicted for everything"
            )
            evidence["constant_dev_acc"] = r(dev[-1][1])
            epoch = _later(epoch, dev[-1][0])
        if not reasons:
            return []
        if k is not None:
            evidence.update(num_classes=k[0], num_classes_from=k[1])
        message = (
            "; ".join(reasons) + ": the model is at chance level. Usual causes: a learning "
            "rate far from 2e-5..5e-5 (Adam's default 1e-3), a frozen encoder, or labels "
            f"that do not match the loss{config_clues(run)}."
        )
        return [self.finding("warning", message, epoch=epoch, evidence=evidence, remedy=REMEDY)]


def _chance_rate(run: Run, k: tuple[int, str] | None) -> float | None:
    majority = hint_number(run, "majority_rate")
    rates = [1 / k[0]] if k is not None else []
    if majority is not None and 0 < majority < 1:
        rates.append(majority)
    return max(rates) if rates else None


def _later(a: int | None, b: int) -> int:
    return b if a is None else max(a, b)
