"""`chance_level`: the model does no better than guessing.

Anti-pattern: a classifier whose loss stays about ln(K) (K classes) or whose accuracy stays at
the chance or majority-class rate has learnt nothing; a dev recall of exactly 1.0 (or 0.0), or a
dev accuracy identical epoch after epoch, means it predicts one class for everything.
Detection, at the latest epoch and after `min_epochs` epochs: the train loss (else, with none
printed, the dev loss) within `tolerance` of ln(K) and no longer falling (less than
`min_fall` over the last `patience` epochs), with every printed accuracy at chance too; or
train/dev accuracy at most `acc_margin` above max(1/K, hints["majority_rate"]). K is the class
count the log printed (num_labels, a label list, the run directory's config), else one guessed
from a first loss close to ln K for a small K; with neither, the loss says nothing about chance.
A dev recall pinned at 1.0 or 0.0, or a dev accuracy unchanged over `constant_epochs` epochs,
is named as the sign of one class predicted, alongside one of the above. Never on a run whose
loss became NaN/inf (that is `diverged`), nor on a fragment without a printed K.
Remedy: BERT learning rates 2e-5..5e-5 with warmup, an unfrozen encoder, labels that match the
loss, class weights or resampling for skewed labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..model import Finding, Run
from .advice import FROZEN_ADVICE, LR_ADVICE, config_clues, num_classes
from .base import (
    Rule,
    RuleSettings,
    as_fractions,
    doc,
    epoch_columns,
    hint_number,
    label,
    metric_names,
    r,
    role_points,
)
from .shape import blew_up, complete_points, is_fragment, span
from .stalled_loss import loss_role

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
        default=0.15, metadata=doc("|loss - ln K| <= tolerance * ln K counts as chance")
    )
    patience: int = field(default=3, metadata=doc("epochs over which a chance loss must be flat"))
    min_fall: float = field(
        default=0.03, metadata=doc("relative fall over `patience` epochs that is still learning")
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
        if blew_up(run):
            return []
        role = loss_role(run)
        k = num_classes(run, role=role or "train_loss")
        if k is None or (is_fragment(run) and not k[1].startswith("printed")):
            k = None
        reasons: list[str] = []
        evidence: dict[str, object] = {}
        epoch: int | None = None
        rate = _chance_rate(run, k)
        accs = {acc_role: _fractions(run, acc_role) for acc_role in ("train_acc", "dev_acc")}
        judged = accs["dev_acc"] or accs["train_acc"]  # a model can memorise a little of train
        recent = [v for _, v in judged[-settings.patience - 1 :]]
        at_chance_acc = not judged or (  # a majority-class model's accuracy is its share: flat
            (rate is not None and judged[-1][1] <= rate + 2 * settings.acc_margin)
            or max(recent) - min(recent) <= settings.acc_margin
        )
        loss_roles = [x for x in dict.fromkeys((role, "dev_loss")) if x and role_points(run, x)]
        train = role_points(run, "train_loss")
        if k is not None and train and train[-1][1] < (1 - settings.tolerance) * math.log(k[0]):
            loss_roles = [x for x in loss_roles if x != "dev_loss"]  # fits train: overfitting
        for which in loss_roles if k is not None and at_chance_acc else ():
            losses = complete_points(run, which)
            if len(losses) < settings.min_epochs:
                continue
            loss_epoch, loss = losses[-1]
            chance_loss = math.log(k[0])  # type: ignore[index]
            start = losses[-min(len(losses), settings.patience + 1)][1]
            flat = start <= 0 or (start - loss) / start < settings.min_fall
            if abs(loss - chance_loss) <= settings.tolerance * chance_loss and flat:
                reasons.append(
                    f"{label(run, which)} {loss:.4f} at epoch {loss_epoch} is still "
                    f"near ln {k[0]} = {chance_loss:.3f}"  # type: ignore[index]
                )
                evidence.update({which: r(loss), "chance_loss": r(chance_loss)})
                epoch = _later(epoch, loss_epoch)
        for acc_role, pts in accs.items():
            if rate is None or len(pts) < settings.min_epochs:
                continue
            acc_epoch, acc = pts[-1]
            rising = acc - min(v for _, v in pts[-settings.patience - 1:]) > settings.acc_margin
            if acc <= rate + settings.acc_margin and not rising:
                reasons.append(f"{label(run, acc_role)} {acc:.4f} is at the chance rate {rate:.3f}")
                evidence[acc_role] = r(acc)
                evidence["chance_rate"] = r(rate)
                epoch = _later(epoch, acc_epoch)
        if not reasons:
            return []
        one_class = _one_class(run, settings)
        if one_class:
            reasons.append(one_class[0])
            evidence.update(one_class[1])
        if k is not None:
            evidence.update(num_classes=k[0], num_classes_from=k[1])
        message = (
            "; ".join(reasons) + ": the model is at chance level. Usual causes: a learning "
            "rate far from 2e-5..5e-5 (Adam's default 1e-3), a frozen encoder, or labels "
            f"that do not match the loss{config_clues(run)}."
        )
        read = [x for x in (role, "dev_loss", "train_acc", "dev_acc") if x]
        basis = span(run, *read) + (f"; class count {k[1]}" if k else "")
        return [self.finding("warning", message, epoch=epoch, evidence=evidence, remedy=REMEDY,
                             basis=basis)]


def _fractions(run: Run, role: str) -> list[tuple[int, float]]:
    rows = as_fractions([(e, v, v) for e, v in complete_points(run, role)])
    return [(e, a) for e, a, _ in rows]


def _one_class(run: Run, settings: Settings) -> tuple[str, dict[str, object]] | None:
    """A sign that one class is predicted for everything: a dev recall pinned at 1.0 or 0.0,
    or a dev accuracy that does not change at all."""
    n = max(2, settings.constant_epochs)
    for name in metric_names(run):
        lowered = name.lower()
        if "recall" not in lowered or "loss" in lowered:
            continue
        values = [v for _, v in epoch_columns(run).get(name, ()) if math.isfinite(v)][-n:]
        pinned = all(v >= 0.9999 for v in values) or all(v <= 1e-4 for v in values)
        if len(values) >= n and pinned:
            return (f"{name} is {values[-1]:.4g} on each of the last {len(values)} epochs: one "
                    "class is predicted for everything", {"pinned_recall": r(values[-1])})
    dev = role_points(run, "dev_acc")[-n:]
    if len(dev) >= n and max(v for _, v in dev) - min(v for _, v in dev) < 1e-9:
        return (f"{label(run, 'dev_acc')} is {dev[-1][1]:.4f} on each of the last {len(dev)} "
                "epochs, as if one class were predicted for everything",
                {"constant_dev_acc": r(dev[-1][1])})
    return None


def _chance_rate(run: Run, k: tuple[int, str] | None) -> float | None:
    majority = hint_number(run, "majority_rate")
    rates = [1 / k[0]] if k is not None else []
    if majority is not None and 0 < majority < 1:
        rates.append(majority)
    return max(rates) if rates else None


def _later(a: int | None, b: int) -> int:
    return b if a is None else max(a, b)
