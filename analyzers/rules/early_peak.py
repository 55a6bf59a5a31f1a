"""`early_peak`: the dev metric peaked early and has not improved since.

Anti-pattern: training runs on long after the best dev epoch, and the checkpoint kept is the last
one, not the best (with BERT the peak is often at epoch 2-4).
Detection: the best dev score (else dev accuracy, else lowest dev loss; `mode` min/max/auto from
the metric's name), where an epoch counts as better only by more than `min_delta` as in Keras
EarlyStopping, lies `patience` or more epochs before the latest. A warning when the latest value
is worse than the best by `drop_warn` (a loss: by `drop_warn_rel` of the best), else an info.
Remedy: early stopping with restore_best_weights, or keeping the best checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import Finding, Run
from .shape import blew_up
from .base import Mode, Rule, RuleSettings, doc, first_role, infer_mode, label, r, role_points


@dataclass(frozen=True)
class Settings(RuleSettings):
    mode: Mode = field(
        default="auto", metadata=doc("min/max/auto (from the metric's name), as Keras callbacks")
    )
    min_delta: float = field(
        default=0.0, metadata=doc("an epoch must beat the best by more than this to count (Keras)")
    )
    patience: int = field(
        default=3, metadata=doc("epochs without improvement before the peak counts as early")
    )
    drop_warn: float = field(
        default=0.02, metadata=doc("a score/accuracy this far below its best makes it a warning")
    )
    drop_warn_rel: float = field(
        default=0.05, metadata=doc("a loss this fraction above its best makes it a warning")
    )
    min_epochs: int = field(
        default=4, metadata=doc("dev epochs needed before a peak can be judged")
    )


class EarlyPeak(Rule[Settings]):
    """The dev metric peaked early and has not improved for several epochs."""

    id = "early_peak"
    name = "Dev peaked early"
    Settings = Settings

    def check(self, run: Run, settings: Settings) -> list[Finding]:
        role = first_role(run, ("dev_score", "dev_acc", "dev_loss"), settings.min_epochs)
        if role is None or blew_up(run):
            return []  # after a NaN/inf loss the peak is the blow-up's doing (that is diverged)
        name = run.roles.get(role)
        mode = infer_mode(name, settings.mode)
        points = role_points(run, role)
        values = [v for _, v in points]
        if max(values) - min(values) <= settings.min_delta:
            return []  # a dev metric that never moved is stuck, not past a peak
        sign = 1.0 if mode == "max" else -1.0
        best_i = 0
        for i, (_, v) in enumerate(points):
            if sign * (v - points[best_i][1]) > settings.min_delta:
                best_i = i
        since = len(points) - 1 - best_i
        if since < max(1, settings.patience):
            return []
        best_epoch, best = points[best_i]
        last_epoch, last = points[-1]
        drop = sign * (best - last)
        worse = drop >= (
            settings.drop_warn if mode == "max" else settings.drop_warn_rel * abs(best)
        )
        message = (
            f"{label(run, role)} peaked at {best:.4f} at epoch {best_epoch} and has not "
            f"improved in the {since} epochs since (now {last:.4f} at epoch {last_epoch}): "
            + ("the later epochs only overfit, and the last checkpoint is not the best."
               if drop > settings.min_delta else "the later epochs added nothing.")
        )
        remedy = (
            f"Stop early and keep the best weights: EarlyStopping(monitor='{name}', "
            f"mode='{mode}', patience=2, restore_best_weights=True) or ModelCheckpoint("
            "save_best_only=True); with a Trainer, load_best_model_at_end=True. BERT "
            "usually peaks within 2-4 epochs at 2e-5..5e-5."
        )
        evidence = {
            "metric": name,
            "mode": mode,
            "best_epoch": best_epoch,
            "best": r(best),
            "epochs_since_best": since,
            "last_epoch": last_epoch,
            "last": r(last),
            "drop": r(drop),
        }
        return [
            self.finding(
                "warning" if worse else "info",
                message,
                epoch=best_epoch,
                evidence=evidence,
                remedy=remedy,
            )
        ]
