"""`train_dev_gap`: train performance runs far ahead of dev.

Anti-pattern: the model memorises the training set (too many epochs, too high a learning rate,
too little regularisation) or the dev pipeline differs from training (other max length or
preprocessing, an extra untrained pooler/dense head), so train accuracy climbs while dev lags.
Detection: once `judge_after` of the planned epochs (or of the epochs seen when the plan is
unknown) and at least `min_epochs` are in, the train accuracy exceeds the dev accuracy (or, with
no dev accuracy, the dev score) by at least `min_gap` on each of the last `patience` epochs and
in the median of the last `smooth` epochs, so one bad dev epoch of an unstable run does not count
(AUTOTRAINER's overfitting test: gap >= 0.10 after 30% of training). Below `warn_gap` it is an
info unless dev has fallen `dev_drop` below its best: fine-tuned BERT routinely fits its
training set while dev stays a little lower, and that alone is no problem. A dev score other
than F1 (MCC, a correlation, a competition score) is on its own scale, so against it the gap
must also have widened by `min_gap`. Or, with losses: after its minimum the dev loss rises
steadily (a positive median slope, a majority of rising moves, the last `loss_patience` epochs
all above the minimum, a rise of at least three typical epoch-to-epoch moves) to `loss_rise`
above it, while the train loss falls by at least `train_fall` over the same epochs. Both tests
run; the stronger finding is kept.
Remedy: early stopping at the best dev epoch, 2-4 epochs at 2e-5..5e-5 with warmup, dropout and
weight decay; make dev preprocessing match training.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from itertools import pairwise

from ..model import SEVERITY_RANK, Finding, Run
from .base import (
    Rule,
    RuleSettings,
    aligned,
    as_fractions,
    doc,
    infer_mode,
    label,
    median,
    planned_or_seen,
    r,
    role_name,
    role_points,
)
from .shape import blew_up, span

REMEDY = (
    "Stop at the best dev epoch (early stopping, keep the best checkpoint); BERT usually needs "
    "2-4 epochs at 2e-5..5e-5 with warmup; add dropout/weight decay; make dev preprocessing "
    "match training (same max_length and truncation, e.g. 128 not 32) and avoid an extra "
    "untrained pooler/dense layer on top of the encoder."
)


@dataclass(frozen=True)
class Settings(RuleSettings):
    min_gap: float = field(
        default=0.10, metadata=doc("train - dev accuracy that counts as overfitting (AUTOTRAINER)")
    )
    judge_after: float = field(
        default=0.30,
        metadata=doc("judge only after this fraction of the planned epochs (AUTOTRAINER)"),
    )
    warn_gap: float = field(
        default=0.20,
        metadata=doc("a gap from min_gap up to this is an info (fine-tuned BERT often fits its "
                     "training set to ~0.99 while dev stays ~0.1 below) unless dev is falling"),
    )
    dev_drop: float = field(
        default=0.02, metadata=doc("dev this far below its best counts as falling")
    )
    min_epochs: int = field(default=3, metadata=doc("and never on fewer epochs than this"))
    patience: int = field(default=2, metadata=doc("the gap must hold on this many latest epochs"))
    smooth: int = field(
        default=3, metadata=doc("... and in the median gap of this many latest epochs")
    )
    loss_patience: int = field(
        default=3, metadata=doc("epochs the dev loss must stay above its minimum")
    )
    loss_rise: float = field(
        default=0.03, metadata=doc("relative rise of the latest dev loss above its minimum")
    )
    train_fall: float = field(
        default=0.05, metadata=doc("relative fall of the train loss over the same stretch")
    )


class TrainDevGap(Rule[Settings]):
    """Train performance runs far ahead of dev (accuracy gap, or train loss down, dev loss up)."""

    id = "train_dev_gap"
    name = "Train/dev gap"
    Settings = Settings

    def check(self, run: Run, settings: Settings) -> list[Finding]:
        found = self._accuracy(run, settings) + self._losses(run, settings)
        found.sort(key=lambda f: -SEVERITY_RANK[f.severity])
        return found[:1]

    def _accuracy(self, run: Run, settings: Settings) -> list[Finding]:
        dev_role = "dev_acc" if role_points(run, "dev_acc") else "dev_score"
        if infer_mode(run.roles.get(dev_role)) == "min":
            return []  # a dev score that falls as it improves is no accuracy to compare with
        rows = as_fractions(aligned(run, "train_acc", dev_role))
        spanned = rows[-1][0] - rows[0][0] + 1 if rows else 0  # epochs, with any a paste elided
        least = max(settings.min_epochs, settings.patience, 1)
        if len(rows) < 2 or max(len(rows), spanned) < least:
            return []
        # how far training has gone, by the epoch numbers: a paste of epochs 154-200 is past
        # 30% of its 200 though it shows 47 epochs (numbered from 0 or 1)
        done = rows[-1][0] + (1 if rows[0][0] == 0 else 0)
        if done < math.ceil(settings.judge_after * planned_or_seen(run, len(rows))):
            return []
        gaps = [(epoch, train - dev) for epoch, train, dev in rows]
        latest = gaps[-settings.patience :]
        if gaps[-1][0] - gaps[-2][0] > settings.patience and gaps[-1][1] >= settings.warn_gap:
            latest = gaps[-1:]  # the epochs before it elided (`.....`): a wide gap stands alone
        if any(g < settings.min_gap for _, g in latest):
            return []
        if median([g for _, g in gaps[-max(1, settings.smooth) :]]) < settings.min_gap:
            return []  # dev dipped on an epoch or two: noise, not a gap
        widened = gaps[-1][1] - gaps[0][1]
        other_scale = dev_role == "dev_score" and not _F1.search(role_name(run, dev_role) or "")
        if other_scale and widened < settings.min_gap:
            return []  # e.g. accuracy vs MCC: a steady offset between scales is no overfitting
        since = gaps[-1][0]
        for epoch, g in reversed(gaps):
            if g < settings.min_gap:
                break
            since = epoch
        epoch, train, dev = rows[-1]
        other = "" if dev_role == "dev_acc" else " (a different metric from accuracy)"
        message = (
            f"{label(run, 'train_acc')} {train:.3f} vs {label(run, dev_role)} {dev:.3f}"
            f"{other} at epoch {epoch}: a gap of {train - dev:.2f}, at least "
            f"{settings.min_gap:.2f} since epoch {since}. The model fits the training set far "
            "better than dev: overfitting, or dev preprocessing that differs from training."
        )
        evidence = {
            "train_acc": r(train),
            dev_role: r(dev),
            "gap": r(train - dev),
            "widened": r(widened),
            "since_epoch": since,
            "epochs": [e for e, _ in gaps],
            "gaps": [r(g) for _, g in gaps],
            "train_metric": run.roles.get("train_acc"),
            "dev_metric": run.roles.get(dev_role),
        }
        best_dev = max(d for _, _, d in rows)
        falling = best_dev - dev >= settings.dev_drop
        evidence["dev_best"] = r(best_dev)
        severity = "warning" if train - dev >= settings.warn_gap or falling else "info"
        basis = span(run, "train_acc", dev_role)
        return [self.finding(severity, message, epoch=epoch, evidence=evidence, remedy=REMEDY,
                             basis=basis)]

    def _losses(self, run: Run, settings: Settings) -> list[Finding]:
        rows = aligned(run, "train_loss", "dev_loss")
        if len(rows) <= settings.loss_patience or blew_up(run):
            return []
        low_i = min(range(len(rows)), key=lambda i: rows[i][2])
        _, train_low, dev_low = rows[low_i]
        epoch, train, dev = rows[-1]
        after = rows[low_i:]
        if (
            len(after) - 1 < settings.loss_patience
            or dev_low <= 0
            or train_low <= 0
            or dev < dev_low * (1 + settings.loss_rise)
            or train > train_low * (1 - settings.train_fall)
        ):
            return []
        devs = [d for _, _, d in after]
        moves = [b - a for a, b in pairwise(devs)]
        typical = median([abs(b - a) for a, b in pairwise(d for _, _, d in rows)])
        tail = devs[-settings.loss_patience :]
        steady = (
            _slope(devs) > 0
            and sum(m > 0 for m in moves) >= len(moves) / 2
            and min(tail) >= dev_low * (1 + settings.loss_rise / 2)
            and _slope([t for _, t, _ in after]) < 0
            and dev - dev_low >= 3 * typical  # more than a swing or two of an unstable dev loss
        )
        if not steady:
            return []  # a dev loss that swings around a level is unstable, not overfitting
        low_epoch = rows[low_i][0]
        message = (
            f"{label(run, 'dev_loss')} rose from {dev_low:.4f} at epoch {low_epoch} to "
            f"{dev:.4f} at epoch {epoch} while {label(run, 'train_loss')} fell from "
            f"{train_low:.4f} to {train:.4f}: the model is overfitting since epoch "
            f"{low_epoch}."
        )
        evidence = {
            "dev_loss_low": r(dev_low),
            "dev_loss_low_epoch": low_epoch,
            "dev_loss": r(dev),
            "train_loss_then": r(train_low),
            "train_loss": r(train),
        }
        return [self.finding("warning", message, epoch=epoch, evidence=evidence, remedy=REMEDY,
                             basis=span(run, "train_loss", "dev_loss"))]


_F1 = re.compile(r"f1|acc", re.I)


def _slope(values: list[float], most: int = 120) -> float:
    """The median of the pairwise slopes (Theil-Sen): the trend, robust to a swing or two.
    Long runs are sampled down to `most` evenly spaced points (the pairs grow as n^2)."""
    if len(values) > most:
        step = len(values) / most
        values = [values[int(i * step)] for i in range(most)] + [values[-1]]
    slopes = [(values[j] - values[i]) / (j - i)
              for i in range(len(values)) for j in range(i + 1, len(values))]
    return median(slopes) if slopes else 0.0
