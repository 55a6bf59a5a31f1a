"""A metrics `.csv` with an epoch column: Keras/fastai `CSVLogger`, Lightning's `metrics.csv`.

Keras writes one row per epoch (`epoch,accuracy,loss,val_accuracy,val_loss`, epochs from 0);
Lightning writes one row per `log_metrics` call with only that call's columns filled (`epoch,
step,train_loss_step,val_loss,...`, epochs from 0); fastai's `CSVLogger` adds a `time` column
(`00:05`). An epoch column counted from 0 gives rows from 1, as the printed `Epoch 1/N` headers
of the same runs do; fractional epochs (a Trainer `log_history` exported to CSV) are read as the
Trainer's. A row's value is the last one logged in that epoch. Without an epoch column the values
are series only (by the `step` column where there is one).
"""

from __future__ import annotations

import csv
import math
import re

from ..model import Run
from .build import RunBuilder, epoch_row, number

_EPOCH = ("epoch", "epochs")
_STEP = ("step", "global_step", "steps", "iteration", "iter")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d\d(?:\.\d+)?)$")  # fastai's `time`: 00:05, 1:02:03


def _is_header(cells: list[str]) -> bool:
    return bool(cells) and all(c.strip() and number(c) is None for c in cells)


def _clock(text: str) -> float | None:
    m = _CLOCK.match(text.strip())
    if not m:
        return None
    return int(m[1] or 0) * 3600 + int(m[2]) * 60 + float(m[3])


def read(text: str) -> Run:
    """The run a metrics CSV records (from its last header on: a rewritten file starts over)."""
    lines = text.splitlines()
    try:
        rows = list(csv.reader(lines))
    except csv.Error:  # a field over csv's size limit: no quoting to honour in such a file
        rows = [line.split(",") for line in lines]
    start = max((i for i, r in enumerate(rows) if _is_header(r)), default=None)
    b = RunBuilder("csv")
    if start is None:
        return b.finish("finished")
    header = [c.strip() for c in rows[start]]
    lower = [c.lower() for c in header]
    epoch_col = next((i for i, c in enumerate(lower) if c in _EPOCH), None)
    step_col = next((i for i, c in enumerate(lower) if c in _STEP), None)
    time_col = next((i for i, c in enumerate(lower) if c in ("time", "duration")), None)
    body = [r for r in rows[start + 1:] if any(c.strip() for c in r)]
    epochs = [number(r[epoch_col]) for r in body if epoch_col is not None and epoch_col < len(r)]
    known = [e for e in epochs if e is not None and math.isfinite(e)]
    whole = all(e == int(e) for e in known)
    from_zero = whole and bool(known) and min(known) == 0
    last_step = None
    for cells in body:
        epoch = number(cells[epoch_col]) if epoch_col is not None and epoch_col < len(cells) else None
        raw_step = number(cells[step_col]) if step_col is not None and step_col < len(cells) else None
        step = int(raw_step) if raw_step is not None and math.isfinite(raw_step) else None
        if epoch is not None and not math.isfinite(epoch):
            epoch = None
        row = None
        if epoch is not None:
            if whole:
                row = int(epoch) + 1 if from_zero else int(epoch)
                epoch = float(row)
            else:
                row = epoch_row(epoch)
        gave = False
        for col, cell in enumerate(cells[:len(header)]):
            if col in (epoch_col, step_col) or not cell.strip():
                continue
            if col == time_col:
                seconds = _clock(cell)
                if seconds is not None and row is not None:
                    b.seconds(row, seconds)
                    continue
            value = number(cell)
            if value is None:
                continue
            gave = True
            b.observe(header[col], value, epoch=epoch, step=step,
                      row=row if row is None or row >= 1 else None)
        b.record(gave)
        if step is not None:
            last_step = step
    return b.finish("finished", step=last_step)
