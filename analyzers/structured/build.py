"""Observations from a structured file to a `Run`: the one place that makes runs for these readers.

A structured file states its numbers (no redraws, no guessing where a value ends), so a reader
only says, for each value, its printed name, its epoch and step, and which epoch row it belongs
to; this builder keeps the series, the epoch table, coverage, divergence and roles the way the log
parser does, so every later stage reads these runs as it reads a parsed log.
"""

from __future__ import annotations

import math

from ..model import EpochRow, Run, Series, Status
from ..roles import DEV_PREFIX, infer_roles


class RunBuilder:
    """Collects one run's observations in file order."""

    def __init__(self, fmt: str) -> None:
        self.run = Run(formats=[fmt])
        self.rows: dict[int, EpochRow] = {}
        self._pinned: set[tuple[int, str]] = set()  # row values that later ones must not replace
        self.diverged = False

    def record(self, gave_metrics: bool) -> None:
        """Count one record (an entry, a row, an event) for the run's coverage."""
        cov = self.run.coverage
        cov.records += 1
        if gave_metrics:
            cov.with_metrics += 1

    def observe(self, name: str, value: float, *, epoch: float | None, step: int | None,
                row: int | None, pin: bool = False) -> None:
        """One value; `row` is the epoch row it belongs to (None: series only). A value set with
        `pin` stays the row's value (an evaluation at the epoch's end over a later one)."""
        series = self.run.series.get(name)
        if series is None:
            series = self.run.series[name] = Series(name)
        series.append(epoch, step, value)
        if value - value != 0 and "loss" in name.lower() and not DEV_PREFIX.match(name):
            self.diverged = True  # NaN or infinite train loss, as the log parser decides
        if row is None:
            return
        epoch_row = self.rows.get(row)
        if epoch_row is None:
            epoch_row = self.rows[row] = EpochRow(row)
        if (row, name) in self._pinned:
            return
        epoch_row.metrics[name] = value
        if pin:
            self._pinned.add((row, name))

    def seconds(self, row: int, seconds: float) -> None:
        epoch_row = self.rows.get(row)
        if epoch_row is None:
            epoch_row = self.rows[row] = EpochRow(row)
        epoch_row.seconds = seconds

    def finish(self, status: Status, *, epochs_planned: int | None = None,
               step: int | None = None, steps_per_epoch: int | None = None,
               last_row: int | None = None) -> Run:
        """The run, its rows in order (none past `last_row`: an epoch not reached yet)."""
        run = self.run
        run.epochs = [self.rows[k] for k in sorted(self.rows)
                      if last_row is None or k <= last_row]
        run.epochs_planned = epochs_planned
        run.step = step
        run.steps_per_epoch = steps_per_epoch
        run.status = "diverged" if self.diverged and status != "crashed" else status
        run.roles = infer_roles(run)
        return run


def epoch_row(epoch: float) -> int:
    """The row of a fractional epoch (the Trainer's 0.25 .. 1.0 are epoch 1's)."""
    return max(1, math.ceil(epoch - 1e-6))


def number(value: object) -> float | None:
    """A JSON or CSV value as a float, or None when it is not a number (bools are not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
