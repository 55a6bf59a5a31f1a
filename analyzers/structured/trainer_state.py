"""`trainer_state.json`, the Hugging Face `Trainer`'s own record: its `log_history` as a run.

Each `log_history` entry is what the Trainer printed as one dict line (`{'loss': ..., 'epoch':
0.25}`), with full precision, its global `step`, and no console in between. Epoch rows follow the
log parser's reading of the same dicts (see analyze-json's `epochs`): a row for each whole epoch
at which an entry was logged, holding the last training values logged since the previous whole
epoch and the evaluation logged at that epoch (else the last one inside it). The end-of-training
summary (`train_runtime`, the run's mean `train_loss`) and `test_*` values stay series: they are
not one epoch's values.
"""

from __future__ import annotations

import math

from ..model import Run
from .build import RunBuilder, epoch_row, number

_NOT_METRICS = ("epoch", "step")


def looks_like(doc: object) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("log_history"), list)


def read(doc: dict, *, finished_hint: bool = False) -> Run:
    """The run a TrainerState dict records. `finished_hint`: nothing more will be written."""
    b = RunBuilder("trainer-state")
    whole_epochs: set[int] = set()
    for entry in doc.get("log_history") or ():
        if not isinstance(entry, dict):
            b.record(False)
            continue
        epoch = number(entry.get("epoch"))
        raw_step = number(entry.get("step"))
        step = int(raw_step) if raw_step is not None and math.isfinite(raw_step) else None
        values = {k: v for k, v in ((k, number(v)) for k, v in entry.items()
                                    if k not in _NOT_METRICS) if v is not None}
        b.record(bool(values))
        summary = "train_runtime" in values or "total_flos" in values
        is_eval = any(k.startswith("eval_") for k in values)
        row = None
        if epoch is not None and not summary and not all(k.startswith("test_") for k in values):
            row = epoch_row(epoch)
            if abs(epoch - round(epoch)) <= 1e-6 and round(epoch) >= 1:
                whole_epochs.add(round(epoch))
        at_whole = epoch is not None and abs(epoch - round(epoch)) <= 1e-6
        for name, value in values.items():
            b.observe(name, value, epoch=epoch, step=step,
                      row=None if name.startswith("test_") else row,
                      pin=is_eval and at_whole)
    # rows only for whole epochs that were logged (an epoch still under way is no row yet)
    for k in list(b.rows):
        if k not in whole_epochs:
            del b.rows[k]
    global_step = number(doc.get("global_step"))
    max_steps = number(doc.get("max_steps"))
    planned = number(doc.get("num_train_epochs"))
    control = ((doc.get("stateful_callbacks") or {}).get("TrainerControl") or {}).get("args") or {}
    done = bool(control.get("should_training_stop")) or (
        global_step is not None and max_steps is not None and 0 < max_steps <= global_step)
    done = done or any(isinstance(e, dict) and "train_runtime" in e
                       for e in doc.get("log_history") or ())
    steps_per_epoch = None
    if max_steps and planned and planned == int(planned):
        per = max_steps / planned
        steps_per_epoch = int(per) if per == int(per) else None
    return b.finish(
        "finished" if done or finished_hint and global_step is None else "running",
        epochs_planned=int(planned) if planned and planned == int(planned) else None,
        step=int(global_step) if global_step is not None else None,
        steps_per_epoch=steps_per_epoch,
    )
