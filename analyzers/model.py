"""The data model every later stage reads: runs, their epoch table and metric series, findings.

Series are stored column-wise in `array` buffers so that memory grows with the number of
observations (8 to 12 bytes each), not with the size of the log they came from.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np

Status = Literal["running", "finished", "stopped", "crashed", "diverged"]
Severity = Literal["info", "warning", "error"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}

ROLE_NAMES = ("train_loss", "train_acc", "dev_loss", "dev_acc", "dev_score")

_NO_STEP = -1


class Point(NamedTuple):
    epoch: float | None
    step: int | None
    value: float


def _same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)  # NaN is the same as NaN here


STEP_CHUNK = 1 << 16  # plain steps gathered before they are turned into runs
_NEVER = 1 << 62


class StepRuns:
    """The older steps of a series, kept as runs of an arithmetic sequence: where each run
    starts, its first step and its stride. A bar's frames and a loop's step lines count on
    evenly: a chunk of 65,536 of their steps becomes a few runs of 24 bytes."""

    __slots__ = ("at", "first", "stride", "n")

    RUN_BYTES = 24

    def __init__(self) -> None:
        self.at = array("q")
        self.first = array("q")
        self.stride = array("q")
        self.n = 0

    @staticmethod
    def split(steps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(starts, firsts, strides) of runs that hold `steps` (int64, at least 2), or None
        where they would save less than half the 4 bytes a step of a plain column."""
        d = np.diff(steps)
        # a run ends where the step-to-step difference changes: in a run starting at s, every
        # difference d[s], d[s + 1], ... up to its last step is the same
        starts = np.concatenate(([0], np.flatnonzero(d[1:] != d[:-1]) + 2))
        if len(starts) * StepRuns.RUN_BYTES * 2 > len(steps) * 4:
            return None
        long = np.diff(starts, append=len(steps)) > 1
        strides = np.where(long, d[np.minimum(starts, len(d) - 1)], 0)
        return starts, steps[starts], strides

    def add(self, starts: np.ndarray, firsts: np.ndarray, strides: np.ndarray,
            count: int) -> None:
        self.at.frombytes((starts + self.n).astype(np.int64).tobytes())
        self.first.frombytes(firsts.astype(np.int64).tobytes())
        self.stride.frombytes(strides.astype(np.int64).tobytes())
        self.n += count

    def __getitem__(self, i: int) -> int:
        r = bisect_right(self.at, i) - 1
        return self.first[r] + (i - self.at[r]) * self.stride[r]

    def view(self, start: int, stop: int) -> np.ndarray:
        """Steps `start` to `stop` (within the runs) as int64."""
        if start >= stop:
            return np.zeros(0, dtype=np.int64)
        at = np.frombuffer(self.at, dtype=np.int64)
        lo, hi = bisect_right(self.at, start) - 1, bisect_left(self.at, stop)
        starts = np.clip(at[lo:hi], start, stop)
        counts = np.diff(starts, append=stop)
        strides = np.frombuffer(self.stride, dtype=np.int64)[lo:hi]
        firsts = (np.frombuffer(self.first, dtype=np.int64)[lo:hi]
                  + (starts - at[lo:hi]) * strides)
        # each run: its first step in the slice, plus its stride times the position after it
        offset = np.arange(stop - start, dtype=np.int64) - np.repeat(starts - start, counts)
        return np.repeat(firsts, counts) + offset * np.repeat(strides, counts)

    def nbytes(self) -> int:
        return self.RUN_BYTES * len(self.at)


class Series:
    """Every observation of one metric, in log order, in 8 to 12 bytes an observation.

    Values are an `array("d")`. Steps go to an `array("i")` (widened to `"q"` by a step past
    2**31); every STEP_CHUNK steps, those that count on evenly move to `StepRuns` (all but the
    newest: a step learnt after its value is set in the array), a series whose steps do not
    stays plain. Epochs, which change once every few thousand observations, are kept
    run-length encoded (where each run of one epoch starts, and its value). `epochs` and
    `steps` give numpy arrays of every observation's epoch (NaN where unknown) and step (-1
    where unknown).
    """

    __slots__ = ("name", "_ep_at", "_ep_val", "_epoch_last", "_steps", "_values", "_runs",
                 "_steps_limit")

    def __init__(self, name: str) -> None:
        self.name = name
        self._ep_at = array("q")  # index where each run of one epoch starts
        self._ep_val = array("d")  # that run's epoch
        self._epoch_last = math.nan  # the last run's epoch (NaN equals nothing: a new run)
        self._steps = array("i")  # the steps after those in `_runs`
        self._values = array("d")
        self._runs: StepRuns | None = None
        self._steps_limit = STEP_CHUNK  # `_steps` this long: try runs (_NEVER: it did not pay)

    def _new_epoch(self, epoch: float) -> None:
        if self._ep_at and _same(epoch, self._epoch_last):
            return
        self._ep_at.append(len(self._values))
        self._ep_val.append(epoch)
        self._epoch_last = epoch

    def append(self, epoch: float | None, step: int | None, value: float) -> None:
        e = math.nan if epoch is None else epoch
        if e != self._epoch_last:
            self._new_epoch(e)
        try:
            self._steps.append(_NO_STEP if step is None else step)
        except OverflowError:
            self._wide_steps()
            self._steps.append(step)  # type: ignore[arg-type]
        self._values.append(value)
        if len(self._steps) >= self._steps_limit:
            self._steps_to_runs()

    def append_known(self, epoch: float, step: int, value: float) -> None:
        """`append` for the hot path where epoch and step are known."""
        if epoch != self._epoch_last:
            self._new_epoch(epoch)
        try:
            self._steps.append(step)
        except OverflowError:
            self._wide_steps()
            self._steps.append(step)
        self._values.append(value)
        if len(self._steps) >= self._steps_limit:
            self._steps_to_runs()

    def extend_known(self, epoch: float, steps: list[int], values: list[float]) -> None:
        """`append_known` for a batch of one epoch's steps."""
        if not values:
            return
        if epoch != self._epoch_last:
            self._new_epoch(epoch)
        size = len(self._steps)
        try:
            self._steps.extend(steps)
        except OverflowError:
            del self._steps[size:]
            self._wide_steps()
            self._steps.extend(steps)
        self._values.extend(values)
        if len(self._steps) >= self._steps_limit:
            self._steps_to_runs()

    def _wide_steps(self) -> None:
        self._steps = array("q", self._steps)

    def _steps_to_runs(self) -> None:
        """Move every step but the newest to the runs, when runs hold them in less than half
        the bytes; else the steps stay plain for good."""
        steps = self._steps
        older = np.frombuffer(steps, dtype=np.int32 if steps.typecode == "i"
                              else np.int64)[:-1].astype(np.int64)
        split = StepRuns.split(older)
        if split is None:
            self._steps_limit = _NEVER
            return
        if self._runs is None:
            self._runs = StepRuns()
        self._runs.add(*split, len(older))
        self._steps = array(steps.typecode, steps[-1:])

    def _steps_plain(self) -> None:
        """All steps back in the array (a step set inside the runs: rare)."""
        runs, self._runs = self._runs, None
        assert runs is not None
        older = runs.view(0, runs.n)
        wide = self._steps.typecode == "q" or (len(older) and (
            older.min() < -(2**31) or older.max() >= 2**31))
        steps = array("q" if wide else "i")
        steps.frombytes(older.astype(np.int64 if wide else np.int32).tobytes())
        steps.extend(self._steps)
        self._steps = steps
        self._steps_limit = _NEVER

    def set_epoch(self, index: int, epoch: float | None) -> None:
        """Fill in an epoch learnt after the value (a summary printed after its epoch)."""
        n = len(self._values)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        self.set_epochs(index, index + 1, epoch)

    def set_epochs(self, start: int, stop: int, epoch: float | None) -> None:
        """`set_epoch` for observations `start` to `stop` (a summary after a run of step lines)."""
        e = math.nan if epoch is None else float(epoch)
        n = len(self._values)
        if not 0 <= start < stop <= n:
            raise IndexError((start, stop))
        at, val = self._ep_at, self._ep_val
        first, last = bisect_right(at, start) - 1, bisect_right(at, stop - 1) - 1
        if first == last and _same(val[first], e):
            return
        end = at[last + 1] if last + 1 < len(at) else n
        starts, values = [], []
        if start > at[first]:
            starts.append(at[first])
            values.append(val[first])
        starts.append(start)
        values.append(e)
        if stop < end:
            starts.append(stop)
            values.append(val[last])
        at[first : last + 1] = array("q", starts)
        val[first : last + 1] = array("d", values)
        i, hi = max(first, 1), min(first + len(starts) + 1, len(at))
        while i < hi:  # merge with equal neighbours: runs stay as few as the epochs
            if _same(val[i - 1], val[i]):
                del at[i]
                del val[i]
                hi -= 1
            else:
                i += 1
        self._epoch_last = val[-1]

    def set_step(self, index: int, step: int | None) -> None:
        """Fill in a step learnt after the value (a Trainer dict precedes its bar's redraw)."""
        if self._runs is not None:  # an index into the array after the runs
            n = len(self._values)
            if index < 0:
                index += n
            if not 0 <= index < n:
                raise IndexError(index)
            if index < self._runs.n:
                self._steps_plain()
            else:
                index -= self._runs.n
        try:
            self._steps[index] = _NO_STEP if step is None else step
        except OverflowError:
            self._wide_steps()
            self._steps[index] = step  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self._values)

    def _epoch_at(self, i: int) -> float:
        return self._ep_val[bisect_right(self._ep_at, i) - 1]

    def __getitem__(self, i: int) -> Point:
        n = len(self._values)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        epoch = self._epoch_at(i)
        runs = self._runs
        older = runs.n if runs is not None else 0
        step = self._steps[i - older] if i >= older else runs[i]  # type: ignore[index]
        return Point(
            None if math.isnan(epoch) else epoch,
            None if step == _NO_STEP else step,
            self._values[i],
        )

    def __iter__(self) -> Iterator[Point]:
        for epoch, step, value in zip(self.epochs.tolist(), self._step_list(), self._values):
            yield Point(None if math.isnan(epoch) else epoch,
                        None if step == _NO_STEP else step, value)

    @property
    def values(self) -> array:
        """The raw values (a view for numeric work; do not mutate)."""
        return self._values

    @property
    def steps(self) -> np.ndarray:
        """Every observation's step, -1 where unknown (int64; a copy)."""
        if not self._values:
            return np.zeros(0, dtype=np.int64)
        return self._step_view(0, len(self._values))

    def _step_list(self) -> list[int]:
        return self._steps.tolist() if self._runs is None else self.steps.tolist()

    def _step_view(self, start: int, stop: int) -> np.ndarray:
        steps = np.frombuffer(self._steps, dtype=np.int32 if self._steps.typecode == "i"
                              else np.int64)
        runs = self._runs
        if runs is None:
            return steps[start:stop].astype(np.int64)
        older = runs.n
        if stop <= older:
            return runs.view(start, stop)
        if start >= older:
            return steps[start - older : stop - older].astype(np.int64)
        return np.concatenate((runs.view(start, older), steps[: stop - older]))

    @property
    def epochs(self) -> np.ndarray:
        """Every observation's epoch, NaN where unknown (float64; expanded from the runs)."""
        n = len(self._values)
        if not n:
            return np.zeros(0, dtype=np.float64)
        starts = np.frombuffer(self._ep_at, dtype=np.int64)
        return np.repeat(np.frombuffer(self._ep_val, dtype=np.float64),
                         np.diff(starts, append=n))

    def epoch_runs(self) -> list[tuple[float, int]]:
        """(epoch, how many observations in a row have it) from the first observation to the
        last (NaN: unknown)."""
        at = self._ep_at.tolist()
        at.append(len(self._values))
        return [(value, at[r + 1] - at[r]) for r, value in enumerate(self._ep_val.tolist())
                if at[r + 1] > at[r]]

    def column_lists(self) -> tuple[list[float], list[int], list[float]]:
        """(epochs, steps, values) of every observation as lists (NaN, -1 where unknown): a
        short series' columns without numpy's fixed costs."""
        epochs: list[float] = []
        for value, count in self.epoch_runs():
            epochs += [value] * count
        return epochs, self._step_list(), self._values.tolist()

    def column_between(self, k: int, start: int, stop: int) -> np.ndarray:
        """Column `k` (0 epochs, NaN where unknown; 1 steps, -1 where unknown; 2 values) of
        observations `start` to `stop`: a long series is written a slice of one column at a
        time, without expanding all of it."""
        n = len(self._values)
        start, stop = max(0, start), min(stop, n)
        if start >= stop:
            return np.zeros(0, dtype=np.int64 if k == 1 else np.float64)
        if k == 2:
            return np.frombuffer(self._values, dtype=np.float64)[start:stop]
        if k == 1:
            return self._step_view(start, stop)
        at = np.frombuffer(self._ep_at, dtype=np.int64)
        first, end = bisect_right(self._ep_at, start) - 1, bisect_left(self._ep_at, stop)
        starts = np.clip(at[first:end], start, stop)
        return np.repeat(np.frombuffer(self._ep_val, dtype=np.float64)[first:end],
                         np.diff(starts, append=stop))

    @property
    def last(self) -> Point | None:
        return self[-1] if self._values else None

    def nbytes(self) -> int:
        """Bytes held by the columns (the benchmark's figure of memory per observation)."""
        runs = self._runs.nbytes() if self._runs is not None else 0
        return runs + sum(a.itemsize * len(a) for a in
                          (self._ep_at, self._ep_val, self._steps, self._values))


@dataclass
class EpochRow:
    """One epoch's final value of every metric printed for it."""

    epoch: int
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float | None = None


@dataclass
class Finding:
    """One problem a rule found. `basis` says in a few words what the verdict rests on: values
    the log printed ("printed: loss, epochs 1-30") or something inferred from them ("class
    count inferred from the first loss"), so a reader knows how far to trust it."""

    rule: str
    severity: Severity
    message: str
    epoch: int | None = None
    evidence: dict[str, object] = field(default_factory=dict)
    remedy: str = ""
    basis: str = ""


@dataclass
class Coverage:
    """How much of a run's part of the log was understood (the report says it, never hides it)."""

    records: int = 0  # cleaned records read
    with_metrics: int = 0  # records that gave at least one metric value
    unmatched_metric_like: int = 0  # a number beside a metric-like name, but no format took it
    unmatched_examples: list[str] = field(default_factory=list)  # the first few of those

    MAX_EXAMPLES = 5


@dataclass
class Run:
    """One training run found in a log: its epoch table, series, roles and status."""

    index: int = 0
    formats: list[str] = field(default_factory=list)
    status: Status = "running"
    epochs_planned: int | None = None
    epochs: list[EpochRow] = field(default_factory=list)
    series: dict[str, Series] = field(default_factory=dict)
    roles: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(ROLE_NAMES))
    error: str | None = None  # the last line of the traceback or the fatal message
    findings: list[Finding] = field(default_factory=list)
    hints: dict[str, object] = field(default_factory=dict)  # config seen in the log: lr, max_len, ...
    step: int | None = None  # the latest step seen (batch within the epoch or global step)
    steps_per_epoch: int | None = None
    coverage: Coverage = field(default_factory=Coverage)

    # --- reading helpers for rules, reports and widgets -------------------------------------
    def epoch_values(self, name: str | None) -> list[tuple[int, float]]:
        """(epoch, value) for every epoch that printed `name`, in order."""
        if name is None:
            return []
        return [(row.epoch, row.metrics[name]) for row in self.epochs if name in row.metrics]

    def role_values(self, role: str) -> list[tuple[int, float]]:
        return self.epoch_values(self.roles.get(role))

    def metric_names(self) -> list[str]:
        names: dict[str, None] = {}
        for row in self.epochs:
            names.update(dict.fromkeys(row.metrics))
        names.update(dict.fromkeys(self.series))
        return list(names)

    def best_dev(self) -> tuple[str, int, float] | None:
        """(metric, epoch, value) of the best dev score or accuracy, or of the lowest dev loss."""
        for role in ("dev_score", "dev_acc"):
            values = self.role_values(role)
            if values:
                epoch, value = max(values, key=lambda ev: (ev[1], -ev[0]))
                return self.roles[role], epoch, value  # type: ignore[return-value]
        values = self.role_values("dev_loss")
        if values:
            epoch, value = min(values, key=lambda ev: (ev[1], ev[0]))
            return self.roles["dev_loss"], epoch, value  # type: ignore[return-value]
        return None

    @property
    def current_epoch(self) -> int | None:
        return self.epochs[-1].epoch if self.epochs else None


@dataclass
class Analysis:
    """What one log holds: its runs in log order."""

    source: str
    runs: list[Run] = field(default_factory=list)
    coverage: Coverage = field(default_factory=Coverage)  # the whole log's, runs or none
