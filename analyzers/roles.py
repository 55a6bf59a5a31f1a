"""Which printed metric name plays which part (train loss, dev score, ...), from names and order.

Rules, reports and widgets read roles instead of guessing from names themselves.
"""

from __future__ import annotations

import re

from .model import ROLE_NAMES, Run

DEV_PREFIX = re.compile(r"^(?:val|valid|validation|eval|dev|test)[_/ .-]", re.I)
_TRAIN_LOSS = ("loss", "train_loss", "training_loss", "train/loss", "tr_loss", "avg_loss")
_TRAIN_ACC = ("acc", "accuracy", "train_acc", "train_accuracy", "training_accuracy", "train/acc",
              "binary_accuracy", "sparse_categorical_accuracy", "categorical_accuracy")
_SCORE = re.compile(r"f1|score|mcc|matthews|auc|pearson|spearman|corr|bleu|rouge|exact|kappa", re.I)


def _pick(names: list[str], exact: tuple[str, ...], test, per_epoch: dict[str, int],
          rows: dict[str, int]) -> str | None:
    """A name with per-epoch values first (the epoch table is what rules read), exact names
    before lookalikes, and of two exact names the one printed less often: a once-an-epoch
    summary (`train_loss`) over a running progress-bar value (`loss`)."""
    for pool in ([n for n in names if n in per_epoch], names):
        found = [want for want in exact if want in pool]
        if found:  # in most epoch rows, then printed least often, then the list's order
            return min(found, key=lambda n: (-rows.get(n, 0), per_epoch.get(n, 0), found.index(n)))
        for name in pool:
            if test(name):
                return name
    return None


def _is_loss(name: str) -> bool:
    """`loss`, `val_loss`, a negative log-likelihood printed as such (`nll_train`) and a cross
    entropy named so (TF's `Cross entropy = 0.0123`, `xent`)."""
    lower = name.lower()
    return ("loss" in lower or lower.startswith("nll") or "_nll" in lower
            or "entropy" in lower and "cross" in lower or "xent" in lower)


_DEV_SUFFIX = ("_val", "_valid", "_validation", "_dev", "_eval", " val", " dev")
# the split as a word inside a name of words: `Accuracies on val class`
_DEV_WORD = re.compile(r" (?:val|valid|validation|dev) ", re.I)


# a name that says it is the training set's anywhere: `Average training loss`, `train_loss`
_TRAIN_WORD = re.compile(r"(?:^|[_/ .-])(?:train|training|trn)(?:[_/ .-]|$)", re.I)


def _is_score_or_acc(name: str) -> bool:
    return not _is_loss(name) and ("acc" in name.lower() or bool(_SCORE.search(name)))


def _is_dev(name: str) -> bool:
    """`val_loss`, `dev_f1`, `Validation Accuracy`, and suffixed forms: `acc_val`, `loss_dev`."""
    lower = name.lower()
    return (bool(DEV_PREFIX.match(name)) or lower.startswith(("val", "dev", "eval"))
            or lower.endswith(_DEV_SUFFIX) or (" " in name and bool(_DEV_WORD.search(name))))


def step_name(run: Run, role: str) -> str | None:
    """The name whose series holds `role`'s per-step observations: the role's own name, except
    that a train loss printed once an epoch (`train_loss`, what the epoch table and the roles
    use) has its running per-step value beside it (a tqdm postfix `loss`, a Trainer `loss`):
    the train-side loss observed most often."""
    name = run.roles.get(role)
    if role != "train_loss" or name is None:
        return name
    losses = [n for n in run.series if "loss" in n.lower() and "best" not in n.lower()
              and not _is_dev(n) and not n.lower().startswith("test")]
    return max(losses, key=lambda n: len(run.series[n]), default=name)


def _shadowed(name: str, names: list[str]) -> bool:
    """Lightning's `self.log(..., on_step=True, on_epoch=True)` prints `train_loss_step` (the
    last batch: noisy) beside `train_loss_epoch` (the epoch's mean): the epoch roles read the
    mean, and the per-step reading finds the `_step` series itself (`step_name`)."""
    for step, epoch in (("_step", "_epoch"), ("/step", "/epoch")):
        if name.lower().endswith(step) and name[: -len(step)] + epoch in names:
            return True
    return False


def infer_roles(run: Run) -> dict[str, str | None]:
    """Which printed name plays which part, from the names and their order."""
    names = [n for n in run.metric_names() if "best" not in n.lower()]
    names = [n for n in names if not _shadowed(n, names)]
    per_epoch = {  # name -> observations, for names with per-epoch values
        name: len(run.series[name]) if name in run.series else 1
        for row in run.epochs for name in row.metrics
    }
    rows: dict[str, int] = {}  # name -> epoch rows that have it
    for row in run.epochs:
        for name in row.metrics:
            rows[name] = rows.get(name, 0) + 1
    dev = [n for n in names if _is_dev(n)]
    train = [n for n in names if n not in dev]
    # train columns that say so (`Training Loss`, fastai's `train_loss`) beside unprefixed
    # accuracy or score columns (`Accuracy`, `F1`) and no dev one: those are the evaluation's
    # (the Trainer's compute_metrics, fastai's metrics run on the validation set)
    # The same where no train loss is printed at all but a dev loss is (a model card's `Epoch |
    # Validation Loss | Accuracy`): the accuracy sits beside the evaluation's loss.
    evaluation_only = (any(_is_loss(n) for n in dev) and not any(_is_loss(n) for n in train))
    if ((evaluation_only or any(_TRAIN_WORD.search(n) for n in train))
            and not any(_is_score_or_acc(n) for n in dev)):
        moved = [n for n in train if not _TRAIN_WORD.search(n) and _is_score_or_acc(n)]
        dev += moved
        train = [n for n in train if n not in moved]
    roles = dict.fromkeys(ROLE_NAMES)
    roles["train_loss"] = _pick(train, _TRAIN_LOSS, _is_loss, per_epoch, rows)
    roles["train_acc"] = _pick(train, _TRAIN_ACC, lambda n: n.lower().endswith(("acc", "accuracy"))
                               or n.lower().startswith(("acc_", "accuracy_", "acc ", "accuracy ")),
                               per_epoch, rows)
    roles["dev_loss"] = _pick(dev, (), _is_loss, per_epoch, rows)
    roles["dev_acc"] = _pick(
        dev, (), lambda n: "acc" in n.lower() and "loss" not in n.lower(), per_epoch, rows)
    score = _pick(dev, (), lambda n: bool(_SCORE.search(n)), per_epoch, rows)
    if score is None:  # `final_score`, `score`: printed without a dev prefix, after evaluation
        score = _pick(
            train, (), lambda n: bool(_SCORE.search(n)) and "train" not in n.lower(), per_epoch, rows)
    roles["dev_score"] = score
    return roles
