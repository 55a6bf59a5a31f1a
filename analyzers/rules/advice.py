"""BERT fine-tuning advice shared by several rules, and what the log's hints add to it.

Kept in one place so that the learning-rate range, the frozen-encoder advice and the chance-level
arithmetic read the same in every finding.
"""

from __future__ import annotations

import math

from ..model import Run
from .base import fmt, hint_number, role_points, role_series

BERT_LR = "2e-5..5e-5"
LR_ADVICE = (
    f"fine-tune with the BERT paper's learning rates ({BERT_LR}, e.g. 5e-5, 3e-5, 2e-5) "
    "with linear warmup (about 10% of steps) and decay, not Adam's default 1e-3"
)
FROZEN_ADVICE = (
    "unfreeze the encoder (trainable=True / requires_grad=True) so the whole model fine-tunes; "
    "a frozen BERT leaves only a small head to learn"
)


def lr_hint(run: Run) -> float | None:
    return hint_number(run, "lr", "learning_rate")


def is_frozen(run: Run) -> bool:
    hints = run.hints if isinstance(run.hints, dict) else {}
    return hints.get("frozen") is True


def config_clues(run: Run) -> str:
    """What the hints say about the usual culprits, as a clause to append ('' when nothing)."""
    clues = []
    lr = lr_hint(run)
    if lr is not None and lr > 1e-4:
        clues.append(f"lr {fmt(lr)} (far above {BERT_LR})")
    if is_frozen(run):
        clues.append("a frozen encoder")
    return f"; the log shows {' and '.join(clues)}" if clues else ""


def num_classes(run: Run, tolerance: float = 0.15) -> tuple[int, str] | None:
    """How many classes the task has, and how we know: from hints, or guessed from the first loss.

    An untrained classifier's cross-entropy is about ln(K), so a first loss within `tolerance`
    (relative) of ln(K) for a whole K suggests K classes. The guess is only made when the fit is
    that close; a first loss far from every ln(K) gives None.
    """
    hints = run.hints if isinstance(run.hints, dict) else {}
    k = hints.get("num_classes")
    if isinstance(k, int) and not isinstance(k, bool) and k >= 2:
        return k, "hints"
    series = role_series(run, "train_loss")
    firsts = [next((v for v in series.values if math.isfinite(v)), math.nan)] if series else []
    firsts += [v for _, v in role_points(run, "train_loss")[:1]]
    for first in firsts:
        if not math.isfinite(first) or first <= 0 or first > math.log(1000):
            continue
        guess = max(2, round(math.exp(first)))
        if abs(first - math.log(guess)) <= tolerance * math.log(guess):
            return guess, "first loss"
    return None
