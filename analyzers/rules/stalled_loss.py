"""`stalled_loss`: the training loss barely falls over a sustained stretch.

Anti-pattern: the optimiser makes no progress (learning rate far too high or too low, a frozen
encoder leaving only a tiny head, a loss that does not match the labels), so the loss sits still,
often near ln(number of classes), the loss of guessing.
Detection: over the last `patience` epochs the train loss fell by less than `min_delta` of its
value while still above `still_high` of its first value, or while within `chance_tolerance` of
ln(K) (a loss that has fallen a lot and flattens is converging, not stalled). Runs with fewer
epochs (at least 2) are judged on a per-epoch fall below `short_min_delta`, confirmed either by
the per-step series being flat too or by the loss being near ln(K). Never on a run whose loss
became NaN/inf (that is `diverged`), nor while the dev metric still sets new bests (by 0.01;
near ln K by 0.03, more than a dev accuracy wiggles around chance). A log that
starts mid-run (a fragment) is judged only near a printed ln(K): its first value is no start.
With no train loss printed, the dev loss is read instead (the basis says so).
Remedy: BERT learning rates 2e-5..5e-5 with warmup, an unfrozen encoder, a loss that matches
the labels and outputs (e.g. from_logits).
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
    finite_array,
    fmt,
    label,
    r,
    role_points,
    role_series,
)
from .shape import blew_up, complete_points, dev_improving, is_fragment, span

REMEDY = (
    f"Check the optimiser first: {LR_ADVICE}; {FROZEN_ADVICE}; make sure the loss matches the "
    "output (from_logits=True for raw logits) and the labels."
)


@dataclass(frozen=True)
class Settings(RuleSettings):
    patience: int = field(
        default=3,
        metadata=doc("epochs the loss must keep falling over (Keras EarlyStopping-style)"),
    )
    min_delta: float = field(
        default=0.02,
        metadata=doc("relative fall required over `patience` epochs (and the step window)"),
    )
    still_high: float = field(
        default=0.6,
        metadata=doc("only judged while the loss is above this fraction of its first value"),
    )
    short_min_delta: float = field(
        default=0.05, metadata=doc("per-epoch relative fall expected in runs shorter than patience")
    )
    min_points: int = field(
        default=20, metadata=doc("per-step observations needed to judge the step series")
    )
    learned_acc: float = field(
        default=0.85, metadata=doc("a train accuracy this high means learnt: a plateau there "
                                   "is convergence")
    )
    chance_tolerance: float = field(
        default=0.15, metadata=doc("'near ln K': |loss - ln K| within this fraction of ln K")
    )


class StalledLoss(Rule[Settings]):
    """The training loss barely falls over a sustained stretch."""

    id = "stalled_loss"
    name = "Training loss stalled"
    Settings = Settings

    def check(self, run: Run, settings: Settings) -> list[Finding]:
        role = loss_role(run)
        losses = complete_points(run, role) if role else []
        if role is None or len(losses) < 2 or losses[0][1] <= 0 or blew_up(run):
            return []
        first, (last_epoch, last) = losses[0][1], losses[-1]
        k = num_classes(run, role=role)
        printed_k = k is not None and k[1].startswith("printed")
        ln_k = math.log(k[0]) if k is not None else math.nan
        near = k is not None and abs(last - ln_k) <= settings.chance_tolerance * ln_k
        if not near and _learned(run, k, last, settings):
            return []  # a plateau at a good level is convergence, whatever its first value
        fragment = is_fragment(run)
        if fragment and not (near and printed_k):
            return []  # the tail of a paste: a flat stretch there is as likely convergence
        evidence: dict[str, object] = {
            "metric": run.roles.get(role),
            "epochs": [e for e, _ in losses],
            "values": [r(v) for _, v in losses],
        }
        if len(losses) > settings.patience >= 1:
            start_epoch, start = losses[-settings.patience - 1]
            fall = (start - last) / abs(start) if start else 0.0
            if fall >= settings.min_delta or not (near or last >= settings.still_high * first):
                return []
            if dev_improving(run, settings.patience, 0.03 if near else 0.01) and role != "dev_loss":
                return []
            what = (
                f"{label(run, role)} {_fell(fall)} over the last "
                f"{settings.patience} epochs ({fmt(start)} at epoch {start_epoch} -> "
                f"{fmt(last)} at epoch {last_epoch})"
            )
            evidence.update(fall=r(fall), since_epoch=start_epoch)
        else:
            per_epoch = (first - last) / abs(first) / (len(losses) - 1)
            flat_steps = role == "train_loss" and _flat_steps(run, settings)
            if per_epoch >= settings.short_min_delta or not (near or flat_steps):
                return []
            if dev_improving(run, 1, 0.03 if near else 0.01) and role != "dev_loss":
                return []
            what = (
                f"{label(run, role)} {_fell(per_epoch)} per epoch "
                f"({fmt(first)} -> {fmt(last)} over {len(losses)} epochs)"
            )
            if flat_steps:
                what += ", and its per-step values are flat too"
            evidence.update(fall_per_epoch=r(per_epoch), steps_flat=flat_steps)
        if k is not None:
            evidence.update(num_classes=k[0], num_classes_from=k[1], chance_loss=r(math.log(k[0])))
        chance = (
            f" and sits near ln {k[0]} = {math.log(k[0]):.3f}, the loss of guessing"
            if near and k
            else ""
        )
        message = (
            f"{what}{chance}: training has stalled. Usual causes: a learning rate far "
            f"from 2e-5..5e-5 (Adam's default 1e-3) or a frozen encoder"
            f"{config_clues(run)}."
        )
        basis = span(run, role)
        if role == "dev_loss":
            basis += " (no train loss printed: the dev loss stands in)"
        if near and k:
            basis += f"; class count {k[1]}"
        return [
            self.finding("warning", message, epoch=last_epoch, evidence=evidence, remedy=REMEDY,
                         basis=basis)
        ]


def _learned(run: Run, k: tuple[int, str] | None, last: float, settings: Settings) -> bool:
    """Whether the run has clearly learnt: its loss far below ln K, or a train accuracy far
    above any chance rate (a linear probe can converge in its first epoch and stay flat)."""
    if k is not None and last < settings.still_high * math.log(k[0]):
        return True
    accs = as_fractions([(e, v, v) for e, v in role_points(run, "train_acc")])
    return bool(accs) and accs[-1][1] >= settings.learned_acc


def loss_role(run: Run) -> str | None:
    """The loss a stall is read from: the train loss, else (none printed) the dev loss."""
    if run.roles.get("train_loss"):
        return "train_loss"
    return "dev_loss" if run.roles.get("dev_loss") else None


def _flat_steps(run: Run, settings: Settings) -> bool:
    """Whether the last half of the per-step train loss series barely falls."""
    _, values = finite_array(role_series(run, "train_loss"))
    window = values[len(values) // 2 :]
    if len(window) < settings.min_points:
        return False
    third = len(window) // 3
    head = float(window[:third].sum()) / third
    tail = float(window[-third:].sum()) / third
    return head > 0 and (head - tail) / head < settings.min_delta


def _fell(fraction: float) -> str:
    return f"fell only {fraction:.1%}" if fraction > 0 else "did not fall"
