"""TensorBoard event files (a file, or a log directory of them) as runs, read by `tensorboard`.

`tensorboard` is an optional extra (`pip install 'bertmon[tensorboard]'`), imported only here and
only when such a file is read; without it the reader says so in one line. Only scalars are read:
`add_scalar` values (PyTorch `SummaryWriter`, Lightning, the Hugging Face `TensorBoardCallback`)
and TF2 `tf.summary.scalar` tensors (Keras's `TensorBoard` callback), streamed event by event
by tensorboard's own `EventFileLoader`, so histograms and images cost nothing.

Names: a directory's subfolders are TensorBoard's "runs"; the split Keras writes (`train/`,
`validation/`) is one training run whose metrics are named `train/epoch_loss`,
`validation/epoch_loss` (run/tag, as TensorBoard shows them); other subfolders (`version_0`,
`version_1`, dated folders) are separate runs, in the order they were written. Epochs: from an
`epoch` scalar where one is logged (Lightning's, counted from 0; the Trainer's `train/epoch`,
fractional), else the step of Keras's `epoch_*` scalars (counted from 0), else the step itself
when every tag is logged once at each of the same steps 0..N or 1..N (a per-epoch loop).
"""

from __future__ import annotations

import math
import os
import sys
import types
from collections.abc import Iterable
from pathlib import Path

from ..model import Run
from .build import RunBuilder, epoch_row

EXTRA_MISSING = ("reading TensorBoard event files needs the tensorboard package: "
                 "pip install 'bertmon[tensorboard]'")
# the Trainer's end-of-training summary (logged at its last step): no epoch's values
_TRAINER_SUMMARY = {"train_runtime", "train_samples_per_second", "train_steps_per_second",
                    "total_flos", "train_loss"}
_SPLIT = {"train", "training", "validation", "valid", "val", "eval", "evaluation", "test", "dev"}

Scalars = dict[str, list[tuple[int, float, float]]]  # tag -> [(step, wall_time, value)]


class MissingExtra(ImportError):
    pass


def is_event_file(path: Path) -> bool:
    return "tfevents" in path.name and path.is_file()


def event_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found = [Path(d) / f for d, _, files in os.walk(root) for f in files if "tfevents" in f]
    return sorted(found)


def _loader():
    # tensorboard imports TensorFlow for its record reader when TensorFlow is installed (seconds,
    # and the headless core must not); its documented `notf` switch selects the pure-Python one
    if "tensorflow" not in sys.modules and "tensorboard.compat.notf" not in sys.modules:
        sys.modules["tensorboard.compat.notf"] = types.ModuleType("tensorboard.compat.notf")
    try:
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
        from tensorboard.util import tensor_util
    except ImportError:
        raise MissingExtra(EXTRA_MISSING) from None
    return EventFileLoader, tensor_util


def read_scalars(files: Iterable[Path]) -> tuple[Scalars, int, int]:
    """Every scalar in `files`, by tag, in file order; how many events were read, and how many
    of them held a scalar."""
    EventFileLoader, tensor_util = _loader()
    scalars: Scalars = {}
    events = with_scalars = 0
    for path in files:
        scalar_tags: set[str] = set()
        for event in EventFileLoader(str(path)).Load():
            events += 1
            if not event.HasField("summary"):
                continue
            gave = False
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    scalar_tags.add(value.tag)  # TF2 writes a tag's metadata with its first value
                if value.tag not in scalar_tags or not value.HasField("tensor"):
                    continue
                array = tensor_util.make_ndarray(value.tensor)
                if array.size != 1:
                    continue
                scalars.setdefault(value.tag, []).append(
                    (int(event.step), float(event.wall_time), float(array.reshape(-1)[0])))
                gave = True
            with_scalars += gave
    return scalars, events, with_scalars


def read(root: Path) -> list[Run]:
    """The runs in an event file or a log directory."""
    files = event_files(root)
    base = root if root.is_dir() else root.parent
    groups: dict[str, list[Path]] = {}
    for f in files:
        rel = f.parent.relative_to(base).as_posix()
        groups.setdefault("" if rel == "." else rel, []).append(f)
    # Keras's train/ and validation/ beside each other are one run; anything else is its own
    runs: dict[str, dict[str, list[Path]]] = {}
    for rel, group in groups.items():
        parent, _, leaf = rel.rpartition("/")
        if leaf.lower() in _SPLIT:
            runs.setdefault(parent, {})[leaf] = group
        else:
            runs.setdefault(rel, {})[""] = group
    built: list[tuple[float, Run]] = []
    for parts in runs.values():
        merged: Scalars = {}
        events = with_scalars = 0
        for prefix, group in parts.items():
            scalars, n, k = read_scalars(group)
            events += n
            with_scalars += k
            for tag, points in scalars.items():
                merged[f"{prefix}/{tag}" if prefix else tag] = points
        first = min((p[1] for pts in merged.values() for p in pts), default=math.inf)
        run = _run(merged)
        run.coverage.records, run.coverage.with_metrics = events, with_scalars
        built.append((first, run))
    built.sort(key=lambda fr: fr[0])
    out = [run for _, run in built]
    for i, run in enumerate(out):
        run.index = i
    return out


def _epoch_tag(scalars: Scalars) -> str | None:
    for tag in scalars:
        if tag == "epoch" or tag.endswith("/epoch"):
            return tag
    return None


def _run(scalars: Scalars) -> Run:
    b = RunBuilder("tensorboard")
    epoch_tag = _epoch_tag(scalars)
    steps_to_epoch: list[tuple[int, float]] = sorted(
        (s, v) for s, _, v in scalars.get(epoch_tag, ())) if epoch_tag else []
    whole = bool(steps_to_epoch) and all(v == int(v) for _, v in steps_to_epoch)
    from_zero = whole and min(v for _, v in steps_to_epoch) == 0
    # a per-epoch loop: every tag logged once at each of the same steps 0..N (or 1..N)
    step_lists = [[s for s, _, _ in pts] for pts in scalars.values()]
    all_steps = sorted({s for steps in step_lists for s in steps})
    counting = bool(all_steps) and all_steps[0] in (0, 1) and all(
        steps == all_steps for steps in step_lists) and all_steps == list(
        range(all_steps[0], all_steps[0] + len(all_steps)))
    whole_rows: set[int] | None = None
    if steps_to_epoch and not whole:  # the Trainer's fractional epochs: rows at whole ones only
        whole_rows = {round(v) for _, v in steps_to_epoch if abs(v - round(v)) <= 1e-6}

    def epoch_at(step: int) -> float | None:
        before = [v for s, v in steps_to_epoch if s <= step]
        if before:
            return before[-1]
        return steps_to_epoch[0][1] if steps_to_epoch else None

    last_step = None
    for tag, points in scalars.items():
        if tag == epoch_tag:
            continue
        leaf = tag.rpartition("/")[2]
        keras_epoch = leaf.startswith("epoch_")
        summary = epoch_tag == "train/epoch" and leaf in _TRAINER_SUMMARY
        for step, _, value in points:
            last_step = step if last_step is None else max(last_step, step)
            epoch: float | None = None
            row: int | None = None
            if steps_to_epoch:
                e = epoch_at(step)
                if e is not None and whole:
                    row = int(e) + 1 if from_zero else int(e)
                    epoch = float(row)
                elif e is not None:
                    epoch, row = e, epoch_row(e)
            elif keras_epoch or counting:
                row = step + 1 if all_steps[0] == 0 or keras_epoch else step
                epoch = float(row)
            keep = row is not None and row >= 1 and not summary
            b.observe(tag, value, epoch=epoch, step=step, row=row if keep else None)
    if whole_rows is not None:
        for k in list(b.rows):
            if k not in whole_rows:
                del b.rows[k]
    return b.finish("finished", step=last_step)
