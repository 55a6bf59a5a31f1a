"""Events to runs: the epoch table, every observation, roles and status, built incrementally.

`LogParser.feed(bytes)` may be called with any chunking; the result equals one-shot parsing of
the same bytes. `runs` can be read at any time (a live view for the monitor); `close()` flushes
the held-back tail and settles each run's status.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable
from pathlib import Path

from . import events as ev
from . import grammar as g
from .model import Analysis, EpochRow, Run, Series
from .roles import DEV_PREFIX as _DEV_PREFIX
from .roles import infer_roles
from .stream import RecordSplitter

_EPOCH_IN_DESC = re.compile(r"(?:[Ee]poch|\b[Ee]p)\D{0,3}(\d+)(?:\s*(?:/|of)\s*(\d+))?")
_EVAL_DESC = re.compile(r"eval|valid|\bval\b|\bdev\b|test|predict|infer|inference", re.I)
# data preparation and loading bars (datasets' `Map`, tokenizers, downloads, checkpoint shards)
_PREP_DESC = re.compile(
    r"\bmap\b|token|load|download|generat|filter|process|extract|shard|convert|cach|upload|"
    r"sav|writ|creat|build|resolv|fetch|read|prepar|collat|encod|packing",
    re.IGNORECASE,
)
_EPOCH_BAR = re.compile(r"^\s*epochs?\s*$", re.IGNORECASE)  # the outer bar of an epoch loop
_TRAIN_DESC = re.compile(r"train|iteration|batch|\bstep", re.IGNORECASE)
_LOSS = re.compile(r"loss", re.I)


class _RunState:
    """Parsing state of the run being built; dropped when the run ends."""

    __slots__ = (
        "run", "epoch", "base_epoch", "rows", "keras_done", "keras_last", "keras_frame",
        "keras_ends", "keras_bar", "keras_eval",
        "tqdm_last", "train_key", "hf_epoch", "hf_last", "hf_unstepped", "diverged", "crashed",
        "ended", "unplaced", "unplaced_seconds", "unplaced_eval_seconds", "trailing",
    )

    def __init__(self, run: Run) -> None:
        self.run = run
        self.epoch: int | None = None
        self.base_epoch: int | None = None
        self.rows: dict[int, EpochRow] = {}
        self.keras_done = False  # this epoch's Keras bar reached its target
        self.keras_last = 0
        self.keras_frame: tuple | None = None
        self.keras_ends = 0  # frames at the target in this epoch
        self.keras_bar: bool | None = None  # this epoch's frames draw a bar (verbose=1)
        self.keras_eval = False  # an evaluate/predict bar has begun since the epoch ended
        self.tqdm_last: tuple | None = None
        self.train_key: tuple[str, int | None] | None = None  # (desc kind, total) of train bars
        self.hf_epoch = -1.0
        self.hf_last: dict[str, tuple[float, float]] = {}
        self.hf_unstepped: list[tuple[Series, int]] = []  # Trainer values awaiting their step
        self.diverged = False
        self.crashed = False
        self.ended = False  # the log said training is over
        # values seen while no epoch was open, placed by the next `epoch N: ...` summary line
        self.unplaced: list[tuple[Series, int, str, float]] = []
        self.unplaced_seconds: float | None = None
        self.unplaced_eval_seconds: float | None = None
        self.trailing = False  # epochs are named by summaries printed after their work


class LogParser:
    """Incremental log parser: bytes in, runs out."""

    def __init__(self, source: str = "-", keep_lines: int = 2000,
                 on_run_end: Callable[[Run], None] | None = None) -> None:
        """`on_run_end`, when given, receives each run once it is over (a new run began, or
        `close()`), settled, and the parser keeps nothing of it: a log of 100,000 runs is read
        in the memory of one. Without it, `runs` keeps every run (the monitor's view)."""
        self.source = source
        self._on_run_end = on_run_end
        self._run_count = 0
        self.records = 0
        self._splitter = RecordSplitter()
        self._lines: deque[str] = deque(maxlen=keep_lines)
        self._runs: list[Run] = []
        self._states: list[_RunState] = []
        self._state: _RunState | None = None
        self._pending_name: str | None = None
        self._in_traceback = False
        self._closed = False
        self._keras_shapes: dict[tuple[str, ...], Callable[[str], re.Match[str] | None]] = {}

    # --- public --------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        self._records(self._splitter.feed(data))

    def close(self) -> Analysis:
        if not self._closed:
            self._records(self._splitter.close())
            self._closed = True
            if self._on_run_end is not None:
                self._finish_run()
        return Analysis(self.source, self.runs)

    @property
    def runs(self) -> list[Run]:
        """The runs so far, with roles and status brought up to date."""
        for state in self._states:
            _settle(state.run, state, self._closed or state is not self._state)
        return self._runs

    def tail_lines(self, n: int) -> list[str]:
        """The last `n` cleaned records (for a log pane)."""
        return list(self._lines)[-n:] if n else []

    @property
    def dropped_bytes(self) -> int:
        return self._splitter.dropped_bytes

    # --- records -------------------------------------------------------------------------
    def _records(self, records: list[str]) -> None:
        self.records += len(records)
        self._lines.extend(records)
        classify = ev.classify
        event = self._event
        keras_match = g.fast().keras_step.match
        i, n = 0, len(records)
        while i < n:
            record = records[i]
            i += 1
            if self._in_traceback:
                self._traceback_line(record)
                continue
            # the commonest record by far, a Keras bar frame, skips the general dispatch
            m = keras_match(record) if "Traceback" not in record else None
            if m is not None:
                self._pending_name = None
                state = self._state
                if state is not None:
                    state.tqdm_last = None
                    done = self._keras_frames(state, records, i - 1, m)
                    if done:
                        i += done - 1
                        continue
                self._keras(ev.keras_step(record, m))
                continue
            found = classify(record)
            if found:
                for e in found:
                    event(e)

    def _traceback_line(self, record: str) -> None:
        stripped = record.strip()
        if not stripped or record[:1].isspace() or stripped.startswith(("Traceback", "^", "~")):
            return
        if stripped.startswith(("During handling", "The above exception")):
            return
        self._in_traceback = False
        state = self._state_for_event()
        state.crashed = True
        state.run.error = stripped[:500]

    def _event(self, event: ev.Event) -> None:
        if isinstance(event, ev.BareNumber):
            if self._pending_name is not None:
                name, self._pending_name = self._pending_name, None
                kv = ev.key_values([(name, repr(event.value))])
                if kv:
                    self._key_values(kv)
            return
        self._pending_name = None
        kind = type(event)
        state = self._state
        if state is not None:  # redraw de-duplication spans consecutive frames only
            if kind is not ev.TqdmUpdate:
                state.tqdm_last = None
            if kind is not ev.KerasStep:
                state.keras_frame = None
        if kind is ev.KerasStep:
            self._keras(event)
        elif kind is ev.TqdmUpdate:
            self._tqdm(event)
        elif kind is ev.EpochHeader:
            self._header(event.epoch, event.total)
        elif kind is ev.KeyValues:
            self._key_values(event)
        elif kind is ev.TrainerLog:
            self._trainer(event)
        elif kind is ev.PendingName:
            self._pending_name = event.name
        elif kind is ev.TracebackStart:
            self._in_traceback = True
        elif kind is ev.TrainingEnded:
            if self._state is not None:
                self._state.ended = True
        elif kind is ev.Fatal:
            state = self._state_for_event()
            state.crashed = True
            state.run.error = event.text[:500]

    # --- runs and epochs -----------------------------------------------------------------
    def _finish_run(self) -> None:
        """The current run is over: settle it once and drop its parsing state (nothing
        reaches back into a finished run); hand it over when asked to."""
        state = self._state
        if state is None:
            return
        self._state = None
        _settle(state.run, state, True)
        self._states.remove(state)
        if self._on_run_end is not None:
            self._runs = [run for run in self._runs if run is not state.run]
            self._on_run_end(state.run)

    def _new_run(self) -> _RunState:
        self._finish_run()
        run = Run(index=self._run_count)
        self._run_count += 1
        self._runs.append(run)
        self._state = _RunState(run)
        self._states.append(self._state)
        return self._state

    def _state_for_event(self) -> _RunState:
        return self._state or self._new_run()

    def _progress(self) -> _RunState:
        """A training event: a crash seen before it did not end the run."""
        state = self._state_for_event()
        state.crashed = False
        return state

    def _header(self, epoch: int, total: int | None) -> _RunState:
        state = self._state_for_event()
        run = state.run
        restarted = state.epoch is not None and (
            epoch < state.epoch
            or (total is not None and run.epochs_planned is not None and total != run.epochs_planned)
            or (state.crashed and epoch <= state.epoch)  # a rerun after a crash
        )
        if restarted:
            state = self._new_run()
            run = state.run
        state.crashed = False
        if total is not None:
            run.epochs_planned = total
        if epoch != state.epoch:
            state.epoch = epoch
            state.keras_done = False
            state.keras_last = 0
            state.keras_ends = 0
            state.keras_bar = None
            state.keras_eval = False
            if state.base_epoch is None:
                state.base_epoch = epoch
        return state

    def _row(self, state: _RunState) -> EpochRow | None:
        if state.epoch is None:
            return None
        row = state.rows.get(state.epoch)
        if row is None:
            row = EpochRow(state.epoch)
            state.rows[state.epoch] = row
            state.run.epochs.append(row)
        return row

    def _observe(self, state: _RunState, name: str, epoch: float | None, step: int | None,
                 value: float, row: EpochRow | None, train: bool = True) -> None:
        series = state.run.series.get(name)
        if series is None:
            series = state.run.series[name] = Series(name)
        series.append(epoch, step, value)
        if row is not None:
            row.metrics[name] = value
        if (train and not math.isfinite(value) and _LOSS.search(name)
                and not _DEV_PREFIX.match(name)):
            state.diverged = True

    @staticmethod
    def _add_format(run: Run, fmt: str) -> None:
        if fmt not in run.formats:
            run.formats.append(fmt)

    # --- Keras ---------------------------------------------------------------------------
    def _keras_frames(self, state: _RunState, records: list[str], i: int,
                      m: re.Match[str]) -> int:
        """The commonest records of all, read in a batch: consecutive Keras frames inside an
        open epoch, before its target, with the same metric names and finite values.

        Does exactly what `_keras` would do with each of them, one frame after the other,
        and returns how many it read (0: none, the general path takes the frame). One
        compiled regex per frame shape (the metric names) reads a whole frame in one call;
        the numbers are converted column by column at the end.
        """
        epoch = state.epoch
        if epoch is None or state.keras_done or state.keras_eval or state.base_epoch is None:
            return 0
        target_text = m["target"]
        if target_text == "Unknown":
            return 0
        target = int(target_text)
        names = tuple(name for name, _ in ev.keras_metrics(records[i], m.end()))
        shape = self._keras_shapes.get(names)
        if shape is None:
            shape = self._keras_shapes[names] = g.keras_frame_shape(names).match

        def frame(groups: tuple[str, ...]) -> tuple:  # `_keras`'s key for a frame
            metrics = list(zip(names, map(float, groups[3:])))
            return (epoch, int(groups[0]), target, metrics, None)

        prev = state.keras_frame
        prev_current = prev[1] if prev is not None and prev[0] == epoch else None
        prev_groups = None  # the last frame taken in this batch
        currents: list[int] = []
        taken: list[tuple[str, ...]] = []
        j, n = i, len(records)
        while j < n:
            record = records[j]
            f = shape(record)
            if f is None or f[2] != target_text or "Traceback" in record:
                break
            current = int(f[1])
            if current >= target:
                break
            j += 1
            groups = f.groups()
            if current == prev_current:  # a redraw of the same step: the same numbers?
                if prev_groups is not None:
                    prev = frame(prev_groups)
                if frame(groups) == prev:
                    continue
            prev_current, prev_groups = current, groups
            currents.append(current)
            taken.append(groups)
        if j == i:
            return 0
        state.crashed = False
        run = state.run
        if "keras" not in run.formats:
            run.formats.append("keras")
        if prev_groups is None:
            return j - i  # redraws only
        state.keras_frame = frame(prev_groups)
        state.keras_last = prev_current
        bar = prev_groups[2][:3]
        state.keras_bar = "━" in bar or "[" in bar
        run.steps_per_epoch = target
        base = (epoch - state.base_epoch) * target
        steps = [base + c for c in currents]
        run.step = steps[-1]
        row = state.rows.get(epoch)
        if row is None:
            row = self._row(state)
        series = run.series
        for name, texts in zip(names, list(zip(*taken))[3:]):
            column = series.get(name)
            if column is None:
                column = series[name] = Series(name)
            column.extend_known(epoch, steps, list(map(float, texts)))
        row.metrics.update(state.keras_frame[3])
        return j - i

    def _keras(self, step: ev.KerasStep) -> None:
        state = self._state or self._new_run()
        state.crashed = False
        run = state.run
        if "keras" not in run.formats:
            run.formats.append("keras")
        frame = (state.epoch, step.current, step.target, step.metrics, step.seconds)
        if frame == state.keras_frame:
            return  # an identical redraw
        state.keras_frame = frame
        # Once this epoch's bar is done, fit draws its last frame once more (verbose=1: the
        # epoch-end line with validation metrics) and nothing else before the next header:
        # a bar that starts over, has another length or style, or a further last frame, is
        # model.evaluate / predict, and so is everything after it until the next header.
        if state.keras_done and state.epoch is None and step.current < state.keras_last and (
                step.target == run.steps_per_epoch):
            # no headers (fit(epochs=1) in a loop prints none): the bar starting over is the
            # next fit, not an evaluation
            state.keras_done, state.keras_ends, state.keras_bar = False, 0, None
        if not state.keras_eval and state.keras_done and (
            step.current < state.keras_last
            or step.target != run.steps_per_epoch
            or step.bar != state.keras_bar
            or state.keras_ends >= (2 if step.bar else 1)
        ):
            state.keras_eval = True
        if state.keras_eval:
            for name, value in step.metrics:
                name = name if _DEV_PREFIX.match(name) else f"eval_{name}"
                self._observe(state, name, state.epoch, step.current, value, None, train=False)
            return
        state.keras_last = step.current
        state.keras_bar = step.bar
        target = step.target
        if target:
            run.steps_per_epoch = target
        gstep = step.current
        if target and state.epoch is not None and state.base_epoch is not None:
            gstep = (state.epoch - state.base_epoch) * target + step.current
        run.step = gstep
        row = self._row(state)
        epoch = state.epoch
        series = run.series
        for name, value in step.metrics:  # _observe, inlined: this is the hottest loop
            column = series.get(name)
            if column is None:
                column = series[name] = Series(name)
            if epoch is None:
                column.append(epoch, gstep, value)
                state.unplaced.append((column, len(column) - 1, name, value))
            else:
                column.append_known(epoch, gstep, value)
            if row is not None:
                row.metrics[name] = value
            if value - value != 0 and _LOSS.search(name) and not _DEV_PREFIX.match(name):
                state.diverged = True  # NaN or infinite: inf - inf and nan - nan are NaN
        if target is not None and step.current >= target:
            state.keras_done = True
            state.keras_ends += 1
            if step.seconds is not None and row is not None:  # the ETA `0s`, then the elapsed
                row.seconds = max(row.seconds or 0.0, step.seconds)
            elif step.seconds is not None:
                state.unplaced_seconds = step.seconds

    # --- tqdm ----------------------------------------------------------------------------
    def _tqdm(self, u: ev.TqdmUpdate) -> None:
        state = self._state_for_event()
        key = (u.desc, u.n, u.total, tuple(u.postfix))
        if key == state.tqdm_last:
            return  # the closing redraw of the same frame
        state.tqdm_last = key
        m = _EPOCH_IN_DESC.search(u.desc) if u.desc else None
        if m:
            state = self._header(int(m[1]), int(m[2]) if m[2] else None)
        elif u.total and _EPOCH_BAR.match(u.desc):
            # `trange(epochs, desc="Epoch")` around the batches: n epochs done, the next one
            # running. Its count can be redrawn stale (tqdm.write shows the last drawn `0/3`),
            # so it only moves the epoch forward, and summaries naming epochs take precedence.
            if state.run.epochs_planned is None:
                state.run.epochs_planned = u.total
            epoch = min(u.n + 1, u.total)
            if not state.trailing and (state.epoch is None or epoch > state.epoch):
                state = self._header(epoch, u.total)
            self._add_format(state.run, "tqdm")
            return
        run = state.run
        self._add_format(run, "tqdm")
        row = self._row(state) if state.epoch is not None else None
        done = u.total is not None and u.n >= u.total
        kind = self._bar_kind(state, u, bool(m))
        if kind == "other":  # an outer or side bar (`Training: 1/3` around epoch bars)
            for name, value in u.postfix:
                self._observe(state, name, state.epoch, u.n, value, None)
            return
        if kind == "eval":
            for name, value in u.postfix:
                name = name if _DEV_PREFIX.match(name) else f"eval_{name}"
                self._observe(state, name, state.epoch, u.n, value, row, train=False)
            if done and u.elapsed is not None:
                if state.epoch is not None:
                    run.hints.setdefault("eval_seconds", {})[state.epoch] = u.elapsed
                else:
                    state.unplaced_eval_seconds = u.elapsed
            return
        state.crashed = False
        gstep = u.n
        if m and u.total and state.base_epoch is not None:
            gstep = (state.epoch - state.base_epoch) * u.total + u.n
        run.step = gstep
        if u.total and m:
            run.steps_per_epoch = u.total
        for name, value in u.postfix:
            self._observe(state, name, state.epoch, gstep, value, row if m else None)
            if state.epoch is None:
                column = run.series[name]
                state.unplaced.append((column, len(column) - 1, name, value))
        if state.hf_unstepped:  # tqdm.write redraws the bar at the step the Trainer logged
            for series, index in state.hf_unstepped:
                series.set_step(index, gstep)
            state.hf_unstepped.clear()
        if done and m and u.elapsed is not None and row is not None:
            row.seconds = u.elapsed
        elif done and state.epoch is None and u.elapsed is not None:
            state.unplaced_seconds = u.elapsed

    @staticmethod
    def _bar_kind(state: _RunState, u: ev.TqdmUpdate, epoch_desc: bool) -> str:
        """`train`, `eval` or `other`: a bar's description, else its length, tells them apart.

        The first bar that is not an evaluation is the training bar (one with `Epoch k` in its
        description always is); an unnamed bar of another length is an evaluation (the
        Trainer's, a loop's), a named one of another length is some outer or side bar.
        """
        if u.desc and _EVAL_DESC.search(u.desc):
            return "eval"
        if not u.desc and "keras" in state.run.formats:
            return "eval"  # seed 000: a prediction bar after each Keras epoch
        if u.desc and not epoch_desc and _PREP_DESC.search(u.desc):
            return "other"  # `Map: 100%|...| 3668/3668`, `Loading checkpoint shards`, ...
        key = ("epoch" if epoch_desc else u.desc, u.total)
        trains = epoch_desc or bool(_TRAIN_DESC.search(u.desc)) or any(
            _LOSS.search(name) for name, _ in u.postfix)
        if trains or state.train_key is None:
            state.train_key = key
            return "train"
        if key == state.train_key:
            return "train"
        return "eval" if not u.desc else "other"

    # --- Hugging Face Trainer ------------------------------------------------------------
    def _trainer(self, log: ev.TrainerLog) -> None:
        state = self._progress()
        values = dict(log.values)
        epoch = values.pop("epoch", None)
        if epoch is not None and epoch < state.hf_epoch - 1e-9:
            state = self._new_run()
        run = state.run
        self._add_format(run, "hf-trainer")
        if epoch is not None:
            state.hf_epoch = epoch
        step = run.step
        is_eval = any(k.startswith("eval_") for k in values)
        summary = "train_runtime" in values
        for name, value in values.items():
            self._observe(state, name, epoch, step, value, None, train=not is_eval)
            series = run.series[name]
            state.hf_unstepped.append((series, len(series) - 1))
            if not is_eval and not summary and epoch is not None:
                state.hf_last[name] = (epoch, value)
        if epoch is None:
            return
        whole = round(epoch)  # a log at a whole epoch (eval, summary or training) ends that epoch
        if whole < 1 or abs(epoch - whole) > 1e-6:
            return
        if state.epoch != whole:
            state.epoch = whole
            if state.base_epoch is None:
                state.base_epoch = whole
        row = self._row(state)
        assert row is not None
        for name, (seen_at, value) in state.hf_last.items():
            if whole - 1 < seen_at <= whole + 1e-9:
                row.metrics.setdefault(name, value)
        if is_eval:  # the epoch's own evaluation wins over a later trainer.evaluate(...)
            for name, value in values.items():
                row.metrics.setdefault(name, value)
        else:
            row.metrics.update(values)

    # --- plain key/value lines -----------------------------------------------------------
    def _key_values(self, kv: ev.KeyValues) -> None:
        state = self._state_for_event()
        trailing = kv.epoch is not None and kv.pairs and (
            state.trailing or (state.epoch is None and bool(state.unplaced)))
        if trailing:
            self._place(state, kv.epoch)
        elif kv.epoch is not None and (
            state.epoch is None or kv.epoch >= state.epoch
            or kv.epoch <= (state.base_epoch or 0)  # back to the first epoch: a new run
        ):
            state = self._header(kv.epoch, kv.epoch_total)
        elif kv.epoch is not None and kv.epoch in state.rows:
            # a line about an earlier epoch: its values are that epoch's; nothing restarts
            row = state.rows[kv.epoch]
            self._add_format(state.run, "kv")
            for name, value in kv.pairs:
                self._observe(state, name, kv.epoch, kv.step, value, row)
            return
        if kv.hints:
            planned = kv.hints.pop("epochs_planned", None)
            if planned is not None and state.run.epochs_planned is None and planned == int(planned):
                state.run.epochs_planned = int(planned)
            state.run.hints.update(kv.hints)
        if not kv.pairs:
            return
        if kv.epoch is not None:
            state.crashed = False
        run = state.run
        self._add_format(run, "kv")
        # `Test accuracy: 0.80` after training: a held-out score, no epoch's value; kept as a
        # series, out of the epoch table
        held_out = kv.epoch is None and all(n.lower().startswith("test") for n, _ in kv.pairs)
        row = None if held_out else self._row(state)
        step = kv.step if kv.step is not None else None
        for name, value in kv.pairs:
            self._observe(state, name, state.epoch, step, value, row)
        if kv.seconds is not None and row is not None:
            row.seconds = kv.seconds
        if trailing:  # what follows belongs to the next summary's epoch
            state.epoch = None

    def _place(self, state: _RunState, epoch: int) -> None:
        """A summary printed after its epoch's work (`epoch 3: dev_acc=0.8` after a bar with no
        epoch in it): the values seen since the last summary are that epoch's."""
        state.trailing = True
        state.epoch = epoch
        if state.base_epoch is None:
            state.base_epoch = epoch
        row = self._row(state)
        assert row is not None
        for series, index, name, value in state.unplaced:
            series.set_epoch(index, epoch)
            row.metrics[name] = value
        state.unplaced.clear()
        if state.unplaced_seconds is not None:
            row.seconds = state.unplaced_seconds
        if state.unplaced_eval_seconds is not None:
            state.run.hints.setdefault("eval_seconds", {})[epoch] = state.unplaced_eval_seconds
        state.unplaced_seconds = state.unplaced_eval_seconds = None
        state.keras_done, state.keras_last, state.keras_ends = False, 0, 0
        state.keras_bar, state.keras_eval = None, False


# --- settling: status -------------------------------------------------------------------------
def _settle(run: Run, state: _RunState, closed: bool) -> None:
    run.roles = infer_roles(run)
    if state.crashed:
        run.status = "crashed"
    elif state.diverged:
        run.status = "diverged"
    elif not closed and not state.ended:
        run.status = "running"
    else:
        incomplete = (
            not state.ended
            and run.epochs_planned is not None
            and run.current_epoch is not None
            and run.current_epoch < run.epochs_planned
            and "keras" in run.formats
            and not state.keras_done
        )
        run.status = "running" if incomplete else "finished"


def parse_bytes(data: bytes, source: str = "-") -> Analysis:
    parser = LogParser(source)
    parser.feed(data)
    return parser.close()


CHUNK = 1 << 20


def resolve_log(path: str | Path) -> Path:
    """A log path, or a run directory's `train.log`."""
    p = Path(path)
    if p.is_dir():
        return p / "train.log"
    return p


def parse_path(path: str | Path, source: str | None = None) -> Analysis:
    log = resolve_log(path)
    parser = LogParser(source or str(path))
    with open(log, "rb") as fh:
        while chunk := fh.read(CHUNK):
            parser.feed(chunk)
    return parser.close()
