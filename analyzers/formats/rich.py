"""Lightning's `RichProgressBar` (its default when `rich` is installed):
`Epoch 1/2  ━━━━━━━━━━ 12/12 0:00:00 • 0:00:00 293.94it/s train_loss: 0.597 val_loss: 0.640`, with
the metrics that do not fit wrapped onto the next line (`           val_acc: 0.719`).

It counts epochs from 0 and prints the last epoch's index as the total (`Epoch 2/2` is the third
of three). It redraws the metrics with the next frame, so the validation values of epoch k first
show on epoch k+1's `0/12` frame: values on a bar's first frame are the epoch before's.
"""

from __future__ import annotations

import re

from .base import Context, Reader
from .values import pairs

_FRAME = re.compile(
    r"^\s*Epoch (?P<epoch>\d+)/(?P<last>\d+)\s+[━╸╺╾╼\s-]*\s(?P<n>\d+)/(?P<total>\d+)\s+"
    r"[\d:]+\s+•\s+[\d:\-]+\s+[\d.]+(?:it/s|s/it)\s*(?P<rest>.*)$")
_PAIR = re.compile(r"([A-Za-z_][\w./-]*): ([-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|nan|inf|-inf))")


class RichBar(Reader):
    name = "lightning-rich"

    def __init__(self) -> None:
        self.target: int | None = None  # the epoch the last frame's values belong to
        self.at = -1  # `ctx.handled` after that frame: a wrapped line must follow it at once

    def wants(self, record: str) -> bool:
        return "━" in record or (self.target is not None and record[:8].isspace())

    def read(self, record: str, ctx: Context) -> bool:
        m = _FRAME.match(record)
        if m is None:
            if self.target is None or self.at != ctx.handled or not record[:8].isspace():
                return False
            found = pairs(_PAIR.findall(record))
            if not found or _PAIR.sub("", record).strip():
                return False
            self._put(found, self.target, ctx)  # the wrapped rest of the frame's metrics
            self.at = ctx.handled + 1
            return True
        epoch, n = int(m["epoch"]), int(m["n"])
        state = ctx.header(epoch, int(m["last"]) + 1)
        ctx.add_format(state.run, self.name)
        state.run.steps_per_epoch = int(m["total"])
        state.run.step = n
        first = state.base_epoch if state.base_epoch is not None else epoch
        self.target = epoch - 1 if n == 0 and epoch > first else epoch
        self._put(pairs(_PAIR.findall(m["rest"])), self.target, ctx)
        self.at = ctx.handled + 1
        return True

    @staticmethod
    def _put(found: list[tuple[str, float]], epoch: int, ctx: Context) -> None:
        state = ctx.current()
        row = state.rows.get(epoch)
        if row is None and epoch == state.epoch:
            row = ctx.row(state)
        for name, value in found:
            ctx.observe(state, name, epoch, state.run.step, value, row)
