"""The PyTorch ImageNet example's meters, copied into many training scripts: `ProgressMeter`
prints `Epoch: [3][ 120/1930]` (or `Test: [ 10/196]`) and then, tab-separated, each
`AverageMeter` as `name value (running average)`:

    Epoch: [3][ 120/1930]	Time  0.690 ( 0.986)	Data  0.004 ( 0.009)	Loss 2.5681e+00 (2.9521e+00)	Acc@1  51.20 ( 48.91)
    Test: [ 10/196]	Time  0.215 ( 0.310)	Loss 1.2e+00 (1.3e+00)	Acc@1  71.09 ( 70.12)
     * Acc@1 70.342 Acc@5 89.512

A training line's values go to their series as printed, step by step; its running averages make
the epoch's train values (the last line's are the epoch's means). A test line's running averages,
then the ` * ` summary after the evaluation, make the epoch's dev values (`val_Acc@1`). `Time` and
`Data` (seconds a batch) are timing, not metrics. Epochs are kept as printed (from 0).
"""

from __future__ import annotations

import re

from .. import grammar as g
from .base import Context, Reader

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|inf|-inf"
_HEAD = re.compile(
    r"\s*(?:Epoch:?\s*\[\s*(?P<epoch>\d+)\s*\]|(?:Test|Val|Valid|Validation|Eval)\w*:?\s*)"
    r"\[\s*(?P<i>\d+)\s*/\s*(?P<n>\d+)\s*\]")
# where the next line begins in a record that lost its line breaks
_NEXT = re.compile(r"\s(?=(?:Epoch:?\s*\[\s*\d+\s*\]|(?:Test|Val|Valid|Validation|Eval)\w*:?\s*)"
                   r"\[\s*\d+\s*/\s*\d+\s*\]|\*\s+[A-Za-z])")
_METER = re.compile(
    rf"(?P<name>[A-Za-z][\w@.%/-]*(?: [A-Za-z][\w@.%/-]*)?)\s+(?P<val>{_NUM})\s*"
    rf"\(\s*(?P<avg>{_NUM})\s*\)")
_SUMMARY = re.compile(r"\s*\*\s+(?P<rest>[A-Za-z].*)")
_SUMMARY_PAIR = re.compile(rf"(?P<name>[A-Za-z][\w@.%/-]*)\s+(?P<val>{_NUM})(?=\s|$)")
_TIMING = frozenset({"Time", "Data", "time", "data", "Batch Time", "Data Time"})


class MeterState:
    __slots__ = ("evaluating", "dev", "dev_epoch")

    def __init__(self) -> None:
        self.evaluating = False  # test lines seen since the last training line
        self.dev: dict[str, float] = {}  # the evaluation's values so far
        self.dev_epoch: int | None = None  # the epoch it evaluates


class MeterLines(Reader):
    name = "meters"
    blank = False  # wants needs a bracket or a `*`

    def wants(self, record: str) -> bool:
        return ("[" in record and "(" in record) or "* " in record

    def read(self, record: str, ctx: Context) -> bool:
        # a paste that lost its line breaks: this line ends where the next one's head begins
        cut = _NEXT.search(record, 1)
        if cut is not None and self._read_line(record[: cut.start()], ctx):
            ctx.dispatch(record[cut.start() + 1 :])
            return True
        return self._read_line(record, ctx)

    def _read_line(self, record: str, ctx: Context) -> bool:
        m = _HEAD.match(record)
        if m is None:
            return self._summary(record, ctx)
        meters = [(x["name"], x["val"], x["avg"]) for x in _METER.finditer(record, m.end())
                  if x["name"] not in _TIMING]
        if not meters:
            return False
        try:
            values = [(name, g.to_float(val), g.to_float(avg)) for name, val, avg in meters]
        except ValueError:
            return False
        if m["epoch"] is None:  # an evaluation's line: its running averages so far
            state = ctx.current()
            own = _own(state)
            if not own.evaluating:
                own.evaluating, own.dev, own.dev_epoch = True, {}, state.epoch
                state.bar_open = False  # the epoch's training is over (its last batch printed
                # may be short of the total: lines every `print_freq` batches)
            own.dev.update((f"val_{name}", average) for name, _, average in values)
            ctx.observed += len(values)  # read (a series point each once the evaluation ends)
            ctx.add_format(state.run, "meters")
            row = ctx.row(state)
            if row is not None:
                row.metrics.update(own.dev)
            return True
        state = ctx.current()
        _flush(ctx, state)
        state = ctx.header(int(m["epoch"]), None)
        total, step = int(m["n"]), int(m["i"])
        if state.base_epoch is not None and total:
            step += (state.epoch - state.base_epoch) * total  # type: ignore[operator]
            state.run.steps_per_epoch = total
        state.run.step = step
        state.bar_open = int(m["i"]) + 1 < total
        row = ctx.row(state)
        ctx.add_format(state.run, "meters")
        for name, value, average in values:
            ctx.observe(state, name, state.epoch, step, value, None)
            if row is not None:
                row.metrics[name] = average
        return True

    def _summary(self, record: str, ctx: Context) -> bool:
        """` * Acc@1 70.342 Acc@5 89.512` after an evaluation: its final values."""
        state = ctx.state
        own = state.own.get("meters") if state is not None else None
        if own is None or not own.evaluating:
            return False
        m = _SUMMARY.match(record)
        if m is None:
            return False
        pairs = [(x["name"], x["val"]) for x in _SUMMARY_PAIR.finditer(m["rest"])]
        if not pairs:
            return False
        try:
            own.dev.update((f"val_{name}", g.to_float(val)) for name, val in pairs)
        except ValueError:
            return False
        row = ctx.row(state)  # type: ignore[arg-type]
        if row is not None:
            row.metrics.update(own.dev)
        _flush(ctx, state)  # type: ignore[arg-type]
        return True

    def finish(self, ctx: Context) -> None:
        if ctx.state is not None:
            _flush(ctx, ctx.state)


def _own(state) -> MeterState:
    own = state.own.get("meters")
    if own is None:
        own = state.own["meters"] = MeterState()
    return own


def _flush(ctx: Context, state) -> None:
    """An evaluation that ended: its values, one series point each, at the epoch it evaluated."""
    own = state.own.get("meters")
    if own is None or not own.evaluating:
        return
    own.evaluating = False
    for name, value in own.dev.items():
        ctx.observe(state, name, own.dev_epoch, None, value, None, train=False)


__all__ = ["MeterLines"]
