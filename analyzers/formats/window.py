"""The records from a position on that one compiled pattern matches in full, found at C level.

Bar frames and a loop's step lines come in runs of thousands of records of one shape. Matching
them one Python call at a time costs more than the match itself; here `map` applies the pattern
to a window of records, `list.index(None)` finds where the run ends, and `map` again takes each
match's groups. Every record of a window is matched, also those past the run's end (the next
epoch's frames often match as well), so the first window holds the record that ends the run
plus as many as the last run that pattern matched or the caller's bound (a bar's remaining
steps), whichever is less: runs repeat (an epoch's frames, ten Trainer frames between two
dicts, a thousand step lines between two summaries). When the first window matches in full, a
short one follows (a run one redrawn frame longer than the hint ends there), then each is four
times longer than the one before, up to `MAX_WINDOW`. The lengths are a hint only: any window
gives the same result. `until` (and its C-level forms `until_other`, `until_reaching`) and
`until_repeat` cut such a run where a reader's test over the whole of it (one C-level call)
says something in it stops the batch.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from itertools import repeat

_GROUPS = re.Match.groups
MAX_WINDOW = 4096
FIRST_WINDOW = 16
_LAST_RUN: dict[Callable, int] = {}  # match -> the length of the last run it matched


def matched_run(match: Callable[[str], re.Match[str] | None], records: list[str], j: int,
                most: int = MAX_WINDOW) -> list[tuple]:
    """The groups of `records[j]`, `records[j + 1]`, ... up to the first record `match`
    does not match. `most`: how many records the run likely holds at most (a bar's remaining
    steps), for the first window only."""
    found: list[tuple] = []
    n, start = len(records), j
    window = min(_LAST_RUN.get(match, FIRST_WINDOW - 1), most, MAX_WINDOW - 1) + 1
    while j < n:
        matches = list(map(match, records[j:j + window]))
        try:
            k = matches.index(None)
        except ValueError:
            k = len(matches)
        found += map(_GROUPS, matches[:k])
        if k < len(matches):
            break
        # a run a little longer than the hint (a redrawn last frame) ends in a short window
        window = FIRST_WINDOW if j == start else min(window * 4, MAX_WINDOW)
        j += k
    if found:
        if len(_LAST_RUN) >= 1024:
            _LAST_RUN.clear()
        _LAST_RUN[match] = len(found)
    return found


def until(items: list, stop: Callable[[object], bool]) -> list:
    """`items` up to the first for which `stop` is true (callers test the whole list at C
    level first and search only a list that has one)."""
    for k, item in enumerate(items):
        if stop(item):
            return items[:k]
    return items


def until_other(items: Sequence, value: object) -> list:
    """`items` up to the first that is not `value` (another bar's frame), at C level."""
    same = list(map(operator.eq, items, repeat(value)))
    return list(items[:same.index(False)] if False in same else items)


def until_reaching(items: list, bound: float) -> list:
    """`items` up to the first at or past `bound` (a bar's end), at C level."""
    below = list(map(operator.lt, items, repeat(bound)))
    return items[:below.index(False)] if False in below else items


def until_repeat(items: list, before: object) -> list:
    """`items` up to the first equal to the one before it (`before`: the one before the first):
    a bar redrawing its last frame."""
    same = list(map(operator.eq, items, [before, *items[:-1]]))
    return items[:same.index(True)] if True in same else items
