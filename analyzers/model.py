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


_INT64 = 2**63
_NO_RUNS = array("q")  # shared by every column without runs: never appended to


def _check_int64(step: int) -> None:
    if not -_INT64 <= step < _INT64:
        raise OverflowError(f"step {step} is past int64")


class Steps:
    """Every observation's step (-1 where unknown), in about 0 bytes an observation where the
    steps count on evenly (a bar's frames, a loop's step lines), in 4 where they do not.

    Steps are kept as runs of an arithmetic sequence (where each run starts, its first step,
    its stride); a column whose runs would cost more than 4 bytes an observation becomes a
    plain `array("i")` (widened to `"q"` by a step past 2**31) and stays one. The newest step
    waits outside the runs until the next one comes: a step learnt after its value (the
    Trainer's dict comes before the bar's next frame) replaces it for nothing.
    """

    __slots__ = ("_at", "_first", "_stride", "_n", "_next", "_delta", "_last", "_plain")

    RUN_BYTES = 24  # a run's three int64s: a column of more than one run per 6 steps is plain
    MIN_RUNS = 64  # ... once it has this many runs

    def __init__(self) -> None:
        # made with the first run (a short series of a small run often needs none)
        self._at = _NO_RUNS  # where each run starts
        self._first = _NO_RUNS  # its first step
        self._stride = _NO_RUNS  # its stride (0 for a run of one step, yet)
        self._n = 0  # steps in the runs
        self._next: int | None = None  # the step that continues the last run (None: any)
        self._delta = 0  # the last run's stride
        self._last: int | None = None  # step `_n`, not in a run yet
        self._plain: array | None = None

    def __len__(self) -> int:
        if self._plain is not None:
            return len(self._plain)
        return self._n + (self._last is not None)

    @property
    def plain(self) -> bool:
        return self._plain is not None

    def append(self, step: int) -> None:
        plain = self._plain
        if plain is not None:
            try:
                plain.append(step)
            except OverflowError:
                self._plain = plain = array("q", plain)
                plain.append(step)
            return
        if not -_INT64 <= step < _INT64:
            raise OverflowError(f"step {step} is past int64")
        last, self._last = self._last, step
        if last is None:
            return
        if last == self._next:
            self._n += 1
            self._next = last + self._delta
        else:
            self._commit(last)

    def _commit(self, step: int) -> None:
        """Put `step` (step `_n`) in the runs: it does not continue the last run as it is."""
        n = self._n
        self._n = n + 1
        if self._at and self._next is None:  # the last run holds one step: any stride goes
            delta = step - self._first[-1]
            if -_INT64 <= delta < _INT64:
                self._stride[-1] = delta
                self._delta, self._next = delta, step + delta
                return
        self._new_run(n, step, 0)
        self._next, self._delta = None, 0

    def _new_run(self, at: int, first: int, stride: int) -> None:
        if self._at is _NO_RUNS:
            self._at, self._first, self._stride = array("q"), array("q"), array("q")
        self._at.append(at)
        self._first.append(first)
        self._stride.append(stride)
        runs = len(self._at)
        if runs > self.MIN_RUNS and runs * self.RUN_BYTES > self._n * 4:
            self._to_plain()

    def extend(self, steps: list[int]) -> None:
        k = len(steps)
        if not k:
            return
        if self._plain is None and k > 2:
            first, last = steps[0], steps[-1]
            delta = steps[1] - first
            if (-_INT64 <= first < _INT64 and -_INT64 <= last < _INT64
                    and -_INT64 <= delta < _INT64
                    and steps == (list(range(first, first + delta * k, delta)) if delta
                                  else [first] * k)):
                self.append(first)
                if self._plain is not None:  # its run made the column plain
                    self._extend_plain(steps[1:])
                    return
                self._block(first + delta, delta, k - 2)
                if self._plain is not None:  # the block's run made the column plain
                    self._plain.append(last)  # in int64, as checked above
                else:
                    self._last = last
                return
        for i, step in enumerate(steps):
            if self._plain is not None:
                self._extend_plain(steps[i:])
                return
            self.append(step)

    def _block(self, first: int, delta: int, m: int) -> None:
        """Put the pending step, then `first, first + delta, ...` (`m` >= 1 steps) in the
        runs; the caller sets the new pending step."""
        last = self._last
        assert last is not None
        self._last = None
        if last == self._next:
            self._n += 1
            self._next = last + self._delta
        else:
            self._commit(last)
        if self._plain is not None:
            self._extend_plain(list(range(first, first + delta * m, delta)) if delta
                               else [first] * m)
            return
        if self._next is None:  # the last run holds one step (`last`): give it this stride
            self._stride[-1] = delta
            self._delta, self._next = delta, last + delta
        if self._next == first and self._delta == delta:
            self._n += m
            self._next = first + delta * m
            return
        n = self._n
        self._n = n + m
        self._delta, self._next = delta, first + delta * m
        self._new_run(n, first, delta)

    def _extend_plain(self, steps: list[int]) -> None:
        plain = self._plain
        assert plain is not None
        size = len(plain)
        try:
            plain.extend(steps)
        except OverflowError:
            del plain[size:]
            self._plain = plain = array("q", plain)
            plain.extend(steps)

    def _to_plain(self) -> None:
        values = self.view(0, len(self))
        narrow = not len(values) or (values.min() >= -(2**31) and values.max() < 2**31)
        plain = array("i" if narrow else "q")
        plain.frombytes(values.astype(np.int32 if narrow else np.int64).tobytes())
        self._plain = plain
        self._at = self._first = self._stride = _NO_RUNS
        self._n, self._next, self._delta, self._last = 0, None, 0, None

    def __getitem__(self, i: int) -> int:
        if self._plain is not None:
            return self._plain[i]
        size = len(self)
        if i < 0:
            i += size
        if not 0 <= i < size:
            raise IndexError(i)
        if i == self._n:
            return self._last  # type: ignore[return-value]
        r = bisect_right(self._at, i) - 1
        return self._first[r] + (i - self._at[r]) * self._stride[r]

    def __setitem__(self, i: int, step: int) -> None:
        if self._plain is None:
            size = len(self)
            if i < 0:
                i += size
            if not 0 <= i < size:
                raise IndexError(i)
            _check_int64(step)
            if i == self._n:
                self._last = step
                return
            if self[i] == step:
                return
            self._to_plain()
        plain = self._plain
        assert plain is not None
        try:
            plain[i] = step
        except OverflowError:
            self._plain = plain = array("q", plain)
            plain[i] = step

    def view(self, start: int, stop: int) -> np.ndarray:
        """Steps `start` to `stop` as int64 (a copy)."""
        if self._plain is not None:
            return np.frombuffer(self._plain, dtype=np.int32 if self._plain.typecode == "i"
                                 else np.int64)[start:stop].astype(np.int64)
        n = self._n
        start, stop = max(0, start), min(stop, len(self))
        if start >= stop:
            return np.zeros(0, dtype=np.int64)
        runs = self._runs_view(start, min(stop, n))
        if stop <= n:
            return runs
        return np.append(runs, np.int64(self._last))

    def _runs_view(self, start: int, stop: int) -> np.ndarray:
        if start >= stop:
            return np.zeros(0, dtype=np.int64)
        at = np.frombuffer(self._at, dtype=np.int64)
        lo, hi = bisect_right(self._at, start) - 1, bisect_left(self._at, stop)
        starts = np.clip(at[lo:hi], start, stop)
        counts = np.diff(starts, append=stop)
        strides = np.frombuffer(self._stride, dtype=np.int64)[lo:hi]
        firsts = np.frombuffer(self._first, dtype=np.int64)[lo:hi] + (starts - at[lo:hi]) * strides
        # each run: its first step in the slice, plus its stride times the position after it
        offset = np.arange(stop - start, dtype=np.int64) - np.repeat(starts - start, counts)
        return np.repeat(firsts, counts) + offset * np.repeat(strides, counts)

    def tolist(self) -> list[int]:
        if self._plain is not None:
            return self._plain.tolist()
        return self.view(0, len(self)).tolist()

    def nbytes(self) -> int:
        if self._plain is not None:
            return self._plain.itemsize * len(self._plain)
        return self.RUN_BYTES * len(self._at)


class Series:
    """Every observation of one metric, in log order, in 8 to 12 bytes an observation.

    Values are an `array("d")`; steps a `Steps` column (runs of evenly counting steps, else 4
    bytes a step); epochs, which change once every few thousand observations, are kept run-length encoded
    (where each run of one epoch starts, and its value). `epochs` and `steps` give numpy arrays
    of every observation's epoch (NaN where unknown) and step (-1 where unknown).
    """

    __slots__ = ("name", "_ep_at", "_ep_val", "_epoch_last", "_steps", "_values")

    def __init__(self, name: str) -> None:
        self.name = name
        self._ep_at = array("q")  # index where each run of one epoch starts
        self._ep_val = array("d")  # that run's epoch
        self._epoch_last = math.nan  # the last run's epoch (NaN equals nothing: a new run)
        self._steps = Steps()
        self._values = array("d")

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
        self._steps.append(_NO_STEP if step is None else step)
        self._values.append(value)

    def append_known(self, epoch: float, step: int, value: float) -> None:
        """`append` for the hot path where epoch and step are known."""
        if epoch != self._epoch_last:
            self._new_epoch(epoch)
        self._steps.append(step)
        self._values.append(value)

    def extend_known(self, epoch: float, steps: list[int], values: list[float]) -> None:
        """`append_known` for a batch of one epoch's steps."""
        if not values:
            return
        if epoch != self._epoch_last:
            self._new_epoch(epoch)
        self._steps.extend(steps)
        self._values.extend(values)

    def set_epoch(self, index: int, epoch: float | None) -> None:
        """Fill in an epoch learnt after the value (a summary printed after its epoch)."""
        e = math.nan if epoch is None else float(epoch)
        n = len(self._values)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        at, val = self._ep_at, self._ep_val
        r = bisect_right(at, index) - 1
        cur = val[r]
        if _same(cur, e):
            return
        end = at[r + 1] if r + 1 < len(at) else n
        starts, values = [], []
        if index > at[r]:
            starts.append(at[r])
            values.append(cur)
        starts.append(index)
        values.append(e)
        if index + 1 < end:
            starts.append(index + 1)
            values.append(cur)
        at[r : r + 1] = array("q", starts)
        val[r : r + 1] = array("d", values)
        i, hi = max(r, 1), min(r + len(starts) + 1, len(at))
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
        self._steps[index] = _NO_STEP if step is None else step

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
        step = self._steps[i]
        return Point(
            None if math.isnan(epoch) else epoch,
            None if step == _NO_STEP else step,
            self._values[i],
        )

    def __iter__(self) -> Iterator[Point]:
        for epoch, step, value in zip(self.epochs.tolist(), self._steps.tolist(), self._values):
            yield Point(None if math.isnan(epoch) else epoch,
                        None if step == _NO_STEP else step, value)

    @property
    def values(self) -> array:
        """The raw values (a view for numeric work; do not mutate)."""
        return self._values

    @property
    def steps(self) -> np.ndarray:
        """Every observation's step, -1 where unknown (int64; a copy)."""
        return self._steps.view(0, len(self._values))

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
        return epochs, self._steps.tolist(), self._values.tolist()

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
            return self._steps.view(start, stop)
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
        return self._steps.nbytes() + sum(a.itemsize * len(a) for a in
                                          (self._ep_at, self._ep_val, self._values))


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
