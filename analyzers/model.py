"""The data model every later stage reads: runs, their epoch table and metric series, findings.

Series are stored column-wise in `array` buffers so that memory grows with the number of
observations (24 bytes each), not with the size of the log they came from.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Status = Literal["running", "finished", "stopped", "crashed", "diverged"]
Severity = Literal["info", "warning", "error"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}

ROLE_NAMES = ("train_loss", "train_acc", "dev_loss", "dev_acc", "dev_score")

_NO_STEP = -1


class Point(NamedTuple):
    epoch: float | None
    step: int | None
    value: float


class Series:
    """Every observation of one metric, in log order."""

    __slots__ = ("name", "_epochs", "_steps", "_values")

    def __init__(self, name: str) -> None:
        self.name = name
        self._epochs = array("d")
        self._steps = array("q")
        self._values = array("d")

    def append(self, epoch: float | None, step: int | None, value: float) -> None:
        self._epochs.append(math.nan if epoch is None else epoch)
        self._steps.append(_NO_STEP if step is None else step)
        self._values.append(value)

    def append_known(self, epoch: float, step: int, value: float) -> None:
        """`append` for the hot path where epoch and step are known."""
        self._epochs.append(epoch)
        self._steps.append(step)
        self._values.append(value)

    def extend_known(self, epoch: float, steps: list[int], values: list[float]) -> None:
        """`append_known` for a batch of one epoch's steps."""
        self._epochs.extend(array("d", (epoch,)) * len(values))
        self._steps.extend(steps)
        self._values.extend(values)

    def set_epoch(self, index: int, epoch: float | None) -> None:
        """Fill in an epoch learnt after the value (a summary printed after its epoch)."""
        self._epochs[index] = math.nan if epoch is None else epoch

    def set_step(self, index: int, step: int | None) -> None:
        """Fill in a step learnt after the value (a Trainer dict precedes its bar's redraw)."""
        self._steps[index] = _NO_STEP if step is None else step

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, i: int) -> Point:
        epoch = self._epochs[i]
        step = self._steps[i]
        return Point(
            None if math.isnan(epoch) else epoch,
            None if step == _NO_STEP else step,
            self._values[i],
        )

    def __iter__(self) -> Iterator[Point]:
        for i in range(len(self._values)):
            yield self[i]

    @property
    def values(self) -> array:
        """The raw values (a view for numeric work; do not mutate)."""
        return self._values

    @property
    def steps(self) -> array:
        """The raw steps, -1 where unknown (a view for numeric work; do not mutate)."""
        return self._steps

    @property
    def epochs(self) -> array:
        """The raw epochs, NaN where unknown (a view for numeric work; do not mutate)."""
        return self._epochs

    @property
    def last(self) -> Point | None:
        return self[-1] if self._values else None


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
