"""BERT fine-tuning advice shared by several rules, and what the log's hints add to it.

Kept in one place so that the learning-rate range, the frozen-encoder advice and the chance-level
arithmetic read the same in every finding.
"""

from __future__ import annotations

import math

from ..model import Run
from ..task import as_class_count
from .base import fmt, hint_number, per_run, role_points, role_series
from .shape import is_fragment

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


MAX_GUESS = 20  # a first loss is read as ln K only for K up to this (ln 306 is no class count)


@per_run
def num_classes(run: Run, tolerance: float = 0.1,
                role: str = "train_loss") -> tuple[int, str] | None:
    """How many classes the task has, and how we know ("printed ..." or "inferred ...").

    A count the log printed (`num_labels=3`, a label list, the run directory's config) wins.
    Otherwise an untrained classifier's first cross-entropy is about ln(K): the first per-step
    loss within `tolerance` (relative) of ln K for K <= MAX_GUESS, or a first epoch's mean within
    half that (an epoch's mean has already fallen in a run that learns), suggests K. A first
    loss near no such ln K gives None, and nothing is said about chance.
    """
    hints = run.hints if isinstance(run.hints, dict) else {}
    k = as_class_count(hints.get("num_classes"))
    if k is not None:
        source = hints.get("num_classes_from")
        return k, f"printed ({source})" if isinstance(source, str) and source != "printed" \
            else "printed"
    if is_fragment(run):
        return None  # a paste's first values are no untrained starting point
    series = role_series(run, role)
    candidates: list[tuple[float, float, str]] = []
    if series is not None and len(series) >= 5:
        first = next((v for v in series.values if math.isfinite(v)), math.nan)
        candidates.append((first, tolerance, "the first logged loss"))
    losses = role_points(run, role)
    if losses and losses[0][0] <= 1:  # a fragment's first epoch is no starting point
        candidates.append((losses[0][1], tolerance / 2, "the first epoch's loss"))
    tail = [v for _, v in losses[-4:]]
    if len(losses) >= 4 and min(tail) > 0 and (max(tail) - min(tail)) / max(tail) < 0.01:
        candidates.append((tail[-1], tolerance / 2, "the loss's plateau"))  # flat from here on
    for first, tol, what in candidates:
        if not math.isfinite(first) or first <= 0 or first > math.log(MAX_GUESS) * (1 + tol):
            continue
        guess = max(2, round(math.exp(first)))
        if guess <= MAX_GUESS and abs(first - math.log(guess)) <= tol * math.log(guess):
            return guess, f"inferred from {what} {first:.3f} ~ ln {guess}"
    return None
