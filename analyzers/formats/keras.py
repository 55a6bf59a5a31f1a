"""Keras: progress-bar frames (`12/12 ━━━━ 2s 145ms/step - accuracy: 0.56 - loss: 0.78`), the
`Epoch 3/10` header, and Keras 2.2's `verbose=2` line (` - 4s - loss: ...`).

Bar frames are the commonest records of all (one per training step, redrawn): `KerasBar` reads
runs of them in a batch with one compiled regex per frame shape (`_keras_frames`).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

from .. import grammar as g
from ..model import Series
from ..roles import DEV_PREFIX
from .base import Context, Reader, RunState
from .kv import KeyValueLines, key_values_in
from .values import LOSS
from .window import matched_run, until_other, until_reaching

_ETA_CHARS = "0123456789.:mus"
_NUMBER_CHARS = "0123456789.eE+-"
# a name and `: ` right after a frame's last digit: a callback printed without a line break
_GLUED_PRINT = re.compile(r"(?<=\d)(?=[A-Za-z_][\w.]*: )")
_NAMES_SEEN: dict[str, bool] = {}  # metric name -> whether it is a NAME (a few dozen at most)


def keras_metrics(record: str, start: int) -> list[tuple[str, float]]:
    """The ` - name: value` pairs of a Keras frame from `start` on.

    Nearly every frame is ` - name: number` between each ` - `: those are read with string
    splits, cheaper than the regex (this runs once per training step). Anything
    else, NaN included, goes to `grammar.KERAS_METRIC`, which gives the same pairs on the
    common shape and is the definition.
    """
    metrics = []
    for part in record[start:].split(" - ")[1:]:
        name, sep, value = part.partition(": ")
        if not sep:
            continue  # `211s`, `228ms/step`: no `: `, so the regex finds nothing there either
        if name == "ETA" and (value[-1:] == "s" or ":" in value) and not value.strip(_ETA_CHARS):
            continue  # Keras 2's `ETA: 3s`, `ETA: 1:23`: never a number the regex would take
        ok = _NAMES_SEEN.get(name)
        if ok is None:
            ok = g.fast().name.fullmatch(name) is not None
            if len(_NAMES_SEEN) < 4096:
                _NAMES_SEEN[name] = ok
        if not ok or not value or value.strip(_NUMBER_CHARS) or value[-1] == ".":
            break  # `val_acc: 0.` is a paste cut inside its number: Keras prints the decimals
        try:
            metrics.append((name, float(value)))
        except ValueError:
            break
    else:
        return metrics
    return keras_pairs(g.fast().keras_metric.findall(record, start))


def keras_pairs(found: list[tuple[str, str]]) -> list[tuple[str, float]]:
    """(name, number text) -> (name, float), without a number cut after its dot (`0.`): Keras
    prints every value with its decimals, so that is a paste cut mid-number, not 0."""
    metrics = []
    for name, value in found:
        if value[-1:] == ".":
            continue
        try:
            metrics.append((name, float(value)))  # float() reads nan, inf, -inf itself
        except ValueError:
            continue
    return metrics


class _Frame:
    """One Keras frame as read from a record."""

    __slots__ = ("current", "target", "metrics", "seconds", "bar")

    def __init__(self, current: int, target: int | None, metrics: list[tuple[str, float]],
                 seconds: float | None, bar: bool) -> None:
        self.current = current
        self.target = target
        self.metrics = metrics
        self.seconds = seconds  # elapsed at the epoch's end (the ETA before it)
        self.bar = bar  # verbose=1 draws a bar; verbose=2 and evaluate's one-liners do not


def read_frame(record: str, m: re.Match[str]) -> _Frame:
    """A Keras bar frame already matched by `grammar.fast().keras_step`."""
    f = g.fast()
    current_text, target_text = m.groups()
    target = None if target_text == "Unknown" else int(target_text)
    current = int(current_text)
    metrics = keras_metrics(record, m.end())
    seconds = None
    if target is None or current >= target:  # elapsed time is printed only at the end
        rest = record[m.end():]
        s = f.keras_seconds.search(rest.split(" - ", 1)[0])
        if s is None and " - " in rest:  # verbose=2: `875/875 - 211s - 228ms/step - loss: ...`
            s = f.keras_seconds.search(rest.split(" - ", 2)[1] if rest.count(" - ") >= 2 else "")
        if s is not None:
            seconds = float(s["seconds"])
    tail = record[m.end(): m.end() + 3]
    return _Frame(current, target, metrics, seconds, bar="━" in tail or "[" in tail)


class KerasState:
    """Per run; its epoch part resets when an epoch opens (`RunState.epoch_serial`)."""

    __slots__ = ("serial", "done", "last", "frame", "ends", "bar", "eval", "at")

    def __init__(self) -> None:
        self.serial = -1
        self.frame: tuple | None = None  # the last frame read, for redraw de-duplication
        self.at = -1  # `ctx.handled` just after the last frame: consecutive frames only
        self.reset()

    def reset(self) -> None:
        self.done = False  # this epoch's bar reached its target
        self.last = 0
        self.ends = 0  # frames at the target in this epoch
        self.bar: bool | None = None  # this epoch's frames draw a bar (verbose=1)
        self.eval = False  # an evaluate/predict bar has begun since the epoch ended


def _keras_state(state: RunState) -> KerasState:
    kst = state.own.get("keras")
    if kst is None:
        kst = state.own["keras"] = KerasState()
    if kst.serial != state.epoch_serial:
        kst.serial = state.epoch_serial
        kst.reset()
    return kst


_CURRENT, _TARGET = operator.itemgetter(0), operator.itemgetter(1)  # of a frame shape's groups


class KerasBar(Reader):
    """Keras progress-bar frames (`verbose=1`, `verbose=2`, `evaluate`)."""

    name = "keras"
    blank = False  # wants needs "/"
    batched = True
    batch = True  # False: every frame through `frame` (the tests compare both)

    def __init__(self) -> None:
        self._match = g.fast().keras_step.match
        self._shapes: dict[tuple[str, ...], Callable[[str], re.Match[str] | None]] = {}

    def wants(self, record: str) -> bool:
        return "/" in record

    def read_many(self, records: list[str], i: int, ctx: Context) -> int:
        record = records[i]
        m = self._match(record)
        if m is None:
            return 0
        state = ctx.state
        if state is not None and self.batch:
            done = self._keras_frames(state, records, i, m, ctx)
            if done:
                return done
        glued = record.find("Epoch", m.end())  # a paste that lost its line breaks:
        if glued > 0:  # `... - val_acc: 0.5752Epoch 23/100`, `...0.57Epoch 00023: val_acc ...`
            self.frame(read_frame(record[:glued], m), ctx)
            ctx.dispatch(record[glued:])
            return 1
        glued_at = _GLUED_PRINT.search(record, m.end())  # a callback's print glued to a frame:
        if glued_at is not None:  # `- accuracy: 0.4854val_acc: 0.92563, best_val_acc: ...`
            self.frame(read_frame(record[:glued_at.start()], m), ctx)
            ctx.dispatch(record[glued_at.start():])
            return 1
        self.frame(read_frame(record, m), ctx)
        return 1

    def read(self, record: str, ctx: Context) -> bool:
        return self.read_many([record], 0, ctx) > 0

    # --- the batch path ------------------------------------------------------------------
    def _keras_frames(self, state: RunState, records: list[str], i: int, m: re.Match[str],
                      ctx: Context) -> int:
        """The commonest records of all, read in a batch: consecutive Keras frames inside an
        open epoch, before its target, with the same metric names and finite values.

        Does exactly what `frame` would do with each of them, one frame after the other,
        and returns how many it read (0: none, the general path takes the frame). One
        compiled regex per frame shape (the metric names) reads a whole frame in one call;
        the numbers are converted column by column at the end.
        """
        epoch = state.epoch
        if epoch is None or state.base_epoch is None:
            return 0
        kst = _keras_state(state)
        if kst.done or kst.eval:
            return 0
        target_text = m["target"]
        if target_text == "Unknown":
            return 0
        target = int(target_text)
        remaining = target - int(m["current"])
        if remaining <= 0:
            return 0  # the bar's end: the general path reads it (the batch would stop there)
        names = tuple(name for name, _ in keras_metrics(records[i], m.end()))
        shape = self._shapes.get(names)
        if shape is None:
            shape = self._shapes[names] = g.keras_frame_shape(names).match

        # the frames up to another bar's (`f[2] != target`, text glued after a frame fails
        # the `\Z`) or this bar's end; every test runs over the whole run at C level
        frames = matched_run(shape, records, i, remaining + 1)
        frames = frames[:len(until_other(list(map(_TARGET, frames)), target_text))]
        currents = until_reaching(list(map(int, map(_CURRENT, frames))), target)
        frames = frames[:len(currents)]
        if not frames:
            return 0
        count = len(frames)
        # a redraw of the same step with the same numbers is skipped (`frame` would); the
        # frame before the first is the last one `frame` saw, if it was the record before
        prev = kst.frame if kst.at == ctx.handled else None
        columns = list(zip(*frames))[3:]
        values = list(zip(*(map(float, column) for column in columns))) or [()] * count
        keys = list(zip(currents, values))
        before = None
        if (prev is not None and prev[0] == epoch and prev[2] == target
                and tuple(name for name, _ in prev[3]) == names and prev[4] is None):
            before = (prev[1], tuple(value for _, value in prev[3]))
        repeats = list(map(operator.eq, keys, [before, *keys[:-1]]))
        if True in repeats:
            kept = [k for k, repeat in enumerate(repeats) if not repeat]
            frames = [frames[k] for k in kept]
            currents = [currents[k] for k in kept]
            values = [values[k] for k in kept]
        state.crashed = False
        state.bar_open = True
        run = state.run
        if "keras" not in run.formats:
            run.formats.append("keras")
        kst.at = ctx.handled + 1
        if not frames:
            return count  # redraws only
        kst.frame = (epoch, currents[-1], target, list(zip(names, values[-1])), None)
        kst.last = currents[-1]
        bar = frames[-1][2][:3]
        kst.bar = "━" in bar or "[" in bar
        run.steps_per_epoch = target
        base = (epoch - state.base_epoch) * target
        steps = [base + c for c in currents]
        run.step = steps[-1]
        row = state.rows.get(epoch)
        if row is None:
            row = ctx.row(state)
        series = run.series
        for name, column_values in zip(names, zip(*values)):
            column = series.get(name)
            if column is None:
                column = series[name] = Series(name)
            column.extend_known(epoch, steps, list(column_values))
        row.metrics.update(kst.frame[3])
        ctx.observed += len(frames)
        return count

    # --- one frame -----------------------------------------------------------------------
    def frame(self, step: _Frame, ctx: Context) -> None:
        state = ctx.progress()
        run = state.run
        if "keras" not in run.formats:
            run.formats.append("keras")
        kst = _keras_state(state)
        consecutive = kst.at == ctx.handled
        kst.at = ctx.handled + 1
        frame = (state.epoch, step.current, step.target, step.metrics, step.seconds)
        if consecutive and frame == kst.frame:
            return  # an identical redraw
        kst.frame = frame
        ctx.observed += len(step.metrics)
        # Once this epoch's bar is done, fit draws its last frame once more (verbose=1: the
        # epoch-end line with validation metrics) and nothing else before the next header:
        # a bar that starts over, has another length or style, or a further last frame, is
        # model.evaluate / predict, and so is everything after it until the next header.
        if kst.done and state.epoch is None and step.current < kst.last and (
                step.target == run.steps_per_epoch):
            # no headers (fit(epochs=1) in a loop prints none): the bar starting over is the
            # next fit, not an evaluation; the finished one was an epoch
            ctx.close_headerless(state)
            kst.serial = state.epoch_serial
            kst.done, kst.ends, kst.bar = False, 0, None
            state.epoch_done = False
        if not kst.eval and kst.done and (
            step.current < kst.last
            or step.target != run.steps_per_epoch
            or step.bar != kst.bar
            or kst.ends >= (2 if step.bar else 1)
        ):
            kst.eval = True
        if kst.eval:
            for name, value in step.metrics:
                name = name if DEV_PREFIX.match(name) else f"eval_{name}"
                ctx.observe(state, name, state.epoch, step.current, value, None, train=False)
            return
        kst.last = step.current
        kst.bar = step.bar
        target = step.target
        if target:
            run.steps_per_epoch = target
        gstep = step.current
        if target and state.epoch is not None and state.base_epoch is not None:
            gstep = (state.epoch - state.base_epoch) * target + step.current
        run.step = gstep
        row = ctx.row(state)
        epoch = state.epoch
        series = run.series
        for name, value in step.metrics:  # ctx.observe, inlined: this is the hottest loop
            column = series.get(name)
            if column is None:
                column = series[name] = Series(name)
            if epoch is None:
                column.append(epoch, gstep, value)
                state.unplaced.append((column, len(column) - 1, len(column), name, value))
            else:
                column.append_known(epoch, gstep, value)
            if row is not None:
                row.metrics[name] = value
            if value - value != 0 and LOSS.search(name) and not DEV_PREFIX.match(name):
                state.diverged = True  # NaN or infinite: inf - inf and nan - nan are NaN
        state.bar_open = target is not None and step.current < target
        if target is not None and step.current >= target:
            kst.done = state.epoch_done = True
            kst.ends += 1
            if step.seconds is not None and row is not None:  # the ETA `0s`, then the elapsed
                row.seconds = max(row.seconds or 0.0, step.seconds)
            elif step.seconds is not None:
                state.unplaced_seconds = step.seconds


# Keras callbacks name the epoch they speak about but open none: `Epoch 00012: val_acc did not
# improve` (Keras 1 counts from 0 there, Keras 2 from 1, zero-padded), `Epoch 3: val_loss improved
# from 0.69 to 0.65, saving model to ...`, `Epoch 5: early stopping`, `Epoch 4: ReduceLROnPlateau
# reducing learning rate to ...`, `Restoring model weights from the end of the best epoch: 3.`
_CALLBACK = re.compile(
    r"^\s*(?:Epoch\s+\d+:\s+(?:\S+\s+(?:improved|did not improve)|early stopping|"
    r"ReduceLROnPlateau|LearningRateScheduler|saving model|EarlyStopping)|"
    r"Restoring model weights from the end of the best epoch)")


class KerasLines(Reader):
    """`Epoch 3/10` (also `Epoch [3/10]`, after a logging prefix, values on the same line) and
    Keras 2.2's `verbose=2` epoch line ` - 4s - loss: 0.41 - acc: 0.80`."""

    name = "keras"
    blank = False  # wants needs "poch" or " - "

    def wants(self, record: str) -> bool:
        return "poch" in record or " - " in record

    def read(self, record: str, ctx: Context) -> bool:
        f = g.fast()
        if ("Epoch" in record or "Restoring" in record) and _CALLBACK.match(record):
            return True  # a callback's message: no header, no metric
        m = f.epoch_header.search(record) if "poch" in record else None
        if m:
            epoch, total, rest = int(m["epoch"]), int(m["total"]), record[m.end():]
            if rest[:1] == "/" and (split := self._glued_frame(m["total"], rest, epoch, ctx)):
                total, frame = split  # `Epoch 20/3012/345 [===...`: the break after `20/30` lost
                ctx.header(epoch, total)
                ctx.dispatch(frame)
                return True
            ctx.header(epoch, total)
            if f.keras_old_v2.match(rest):  # ` - 4s - loss: ...` on the header's line (rare)
                kv = key_values_in(rest, ws_ok=False)
            else:
                kv = key_values_in(rest, ws_ok=True) if rest.strip() else None
            if kv is not None:
                ctx.reader(KeyValueLines).apply(kv, ctx)
            return True
        m = f.keras_old_v2.match(record) if " - " in record else None
        if m:
            metrics = keras_pairs(f.keras_metric.findall(record))
            ctx.reader(KerasBar).frame(_Frame(1, 1, metrics, float(m["seconds"]), True), ctx)
            return True
        return False

    @staticmethod
    def _glued_frame(digits: str, rest: str, epoch: int, ctx: Context) -> tuple[int, str] | None:
        """`Epoch 20/30` + `12/345 [===...` printed without the line break between: where the
        header's total ends and the frame's step count begins. The planned total seen before
        wins; else the shortest total not below the epoch whose frame reads as a Keras frame."""
        planned = ctx.state.run.epochs_planned if ctx.state is not None else None
        candidates = []
        for k in range(1, len(digits)):
            total, current = digits[:k], digits[k:]
            if current[0] == "0" or int(total) < epoch:
                continue
            frame = current + rest
            if g.fast().keras_step.match(frame):
                candidates.append((int(total), frame))
        for total, frame in candidates:
            if total == planned:
                return total, frame
        return candidates[0] if candidates else None
