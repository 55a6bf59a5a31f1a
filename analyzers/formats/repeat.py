"""Runs of key/value lines of one shape, read at C speed after the first was read in full.

A hand-rolled loop prints `step 12: loss=0.6931` once a step: ten million lines that differ only
in their numbers. The key/value reader reads the first through its pre-filters, pyparsing and
`grammar.ShapeCache`; when that line only added values to the open epoch, `plan_for` turns its
shape into one compiled pattern whose groups are those values, and `take` reads the records that
follow and match the pattern in full: one `fullmatch` per record, mapped at C level a window at
a time, each column converted with one `map(float, ...)` and appended to its series in one call.

A plan is made only where the pattern decides everything the full read would: every number token
of the line has a role (a metric's value, the step, the seconds, a configuration hint, the
epoch, kept as a literal so a new epoch ends the run of lines, or an integer nobody reads, such
as a clock's digits, kept as `\\d+` so a non-integer there ends it too); a token whose role is
ambiguous (two tokens with the same value) makes no plan. Names are literal text of the pattern,
so what a value means does not change within a run. `test_formats_repeat.py` reads every sample
log and several generated shapes with and without plans and compares the results.
"""

from __future__ import annotations

import math
import operator
import re
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import grammar as g
from ..model import Series
from ..roles import DEV_PREFIX
from .values import LOSS, epoch_position
from .values import held_out as is_held_out
from .window import matched_run

if TYPE_CHECKING:
    from .base import Context, RunState
    from .kv import KeyValues

# a value's number as `float()` reads it (no `%`, no `nan.0`: such lines take the full read)
# and never `100.`, which the full read takes for a number cut at the end of its line
_VALUE = r"([-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|NaN|NAN|inf|Inf|INF|Infinity))"
MAX_PLAN_LINE = 1000  # longer lines are not planned (the full read cuts at 4096 characters)


@dataclass(slots=True, frozen=True)
class LinePlan:
    """A line shape's pattern and what each of its groups is."""

    pattern: re.Pattern[str]
    values: tuple[tuple[str, int], ...]  # (metric name, group)
    step: int | None  # group of the step
    seconds: int | None  # group of the epoch's seconds
    hints: tuple[tuple[str, int], ...]  # (hint name, group)
    epoch: int | None  # the epoch the line names (a literal of the pattern)
    held_out: bool  # `test_acc` alone: a series outside the epoch table


class _NoPlan(Exception):
    pass


def plan_for(record: str, kv: KeyValues, hint_names: tuple[str, ...],
             hint_values: tuple[float, ...]) -> LinePlan | None:
    """The plan for lines shaped like `record`, whose full read gave `kv` (hints as read, before
    `apply` consumed any), or None when its numbers' roles are not all certain."""
    if len(record) > MAX_PLAN_LINE or "epochs_planned" in hint_names:
        return None
    if len({name for name, _ in kv.pairs}) != len(kv.pairs):
        return None  # a name twice in a line: its values interleave, a column each would not
    tokens = list(g.NUM_TOKEN.finditer(record))
    texts = [m.group(1) for m in tokens]
    numbers = []
    for text in texts:
        try:
            numbers.append(g.to_float(text))
        except ValueError:
            return None
    roles: list[str | None] = [None] * len(tokens)  # value, step, literal or None (unread)

    def claim(value: float, role: str) -> int:
        found = [k for k, v in enumerate(numbers)
                 if roles[k] is None and (v == value or (math.isnan(v) and math.isnan(value)))]
        if len(found) != 1:
            raise _NoPlan
        roles[found[0]] = role
        return found[0]

    groups: dict[int, int] = {}  # token index -> group number
    try:
        values = []
        for name, value in kv.pairs:
            k = claim(value, "value")
            values.append((name, k))
        step = claim(kv.step, "step") if kv.step is not None else None
        seconds = claim(kv.seconds, "value") if kv.seconds is not None else None
        hints = [(name, claim(value, "value")) for name, value in zip(hint_names, hint_values)]
        if kv.epoch is not None:
            claim(kv.epoch, "literal")
    except _NoPlan:
        return None
    parts, pos = [], 0
    for k, m in enumerate(tokens):
        parts.append(re.escape(record[pos:m.start(1)]))
        text, role = texts[k], roles[k]
        if role == "literal":
            parts.append(re.escape(text))
        elif role == "step":
            if not text.isdigit():
                return None
            groups[k] = len(groups) + 1
            parts.append(r"(\d+)")
        elif role == "value":
            if text.endswith("%") or text.lower().endswith(".0") and text[-3:-2].isalpha():
                return None
            groups[k] = len(groups) + 1
            parts.append(_VALUE)
        else:  # a number nobody reads: an integer here stays unread in every line
            if not text.isdigit():
                return None
            parts.append(r"\d+")
        pos = m.end(1)
    parts.append(re.escape(record[pos:]))
    return LinePlan(
        pattern=re.compile("".join(parts)),
        values=tuple((name, groups[k]) for name, k in values),
        step=None if step is None else groups[step],
        seconds=None if seconds is None else groups[seconds],
        hints=tuple((name, groups[k]) for name, k in hints),
        epoch=kv.epoch,
        held_out=kv.epoch is None and is_held_out([n for n, _ in kv.pairs]),
    )


def take(plan: LinePlan, records: list[str], j: int, ctx: Context, state: RunState) -> int:
    """Read the records from `records[j]` on that match `plan` in full, as the full read would
    have: their values go to the open epoch of `state`. Returns how many were read."""
    found = matched_run(plan.pattern.fullmatch, records, j)
    count = len(found)
    # a line naming its step printed twice: the full read drops the copy
    twice = list(map(operator.eq, records[j:j + count], records[j - 1:j + count - 1]))
    if True in twice:
        count = next((k for k, same in enumerate(twice) if same and epoch_position(records[j + k])),
                     count)
        found = found[:count]
    if not count:
        return 0
    columns = list(zip(*found))
    steps = (list(map(int, columns[plan.step - 1])) if plan.step is not None
             else [-1] * count)
    row = None if plan.held_out else ctx.row(state)
    epoch = math.nan if state.epoch is None else float(state.epoch)
    series_of = state.run.series
    for name, group in plan.values:
        values = array("d", map(float, columns[group - 1]))
        series = series_of.get(name)
        if series is None:
            series = series_of[name] = Series(name)
        size = len(series)
        series.extend_known(epoch, steps, values)  # type: ignore[arg-type]
        if row is not None:
            row.metrics[name] = values[-1]
        elif not plan.held_out:  # no epoch open: the summary after these lines names it
            ctx.unplace(state, series, size, name, values[-1])
        if (LOSS.search(name) and not DEV_PREFIX.match(name)
                and not all(map(math.isfinite, values))):
            state.diverged = True
    if plan.seconds is not None and row is not None:
        row.seconds = float(columns[plan.seconds - 1][-1])
    if plan.hints:
        last = found[-1]
        state.run.hints.update((name, g.to_float(last[group - 1])) for name, group in plan.hints)
    ctx.observed += count * len(plan.values)
    ctx.handled += count
    return count
