"""The records from a position on that one compiled pattern matches in full, found at C level.

Bar frames and a loop's step lines come in runs of thousands of records of one shape. Matching
them one Python call at a time costs more than the match itself; here `map` applies the
pattern to a window of records, `list.index(None)` finds where the run ends, and `map` again
takes each match's groups. Windows start small (a run of ten frames between two Trainer dicts
wastes little) and grow to `MAX_WINDOW`. `until` and `until_repeat` cut such a run where a
reader's test over the whole of it (one C-level call) says something in it stops the batch.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

_GROUPS = re.Match.groups
MAX_WINDOW = 4096


def matched_run(match: Callable[[str], re.Match[str] | None], records: list[str], j: int,
                first: int = 16) -> list[tuple]:
    """The groups of `records[j]`, `records[j + 1]`, ... up to the first record `match`
    does not match."""
    found: list[tuple] = []
    n, window = len(records), first
    while j < n:
        matches = list(map(match, records[j:j + window]))
        try:
            k = matches.index(None)
        except ValueError:
            k = len(matches)
        found += map(_GROUPS, matches[:k])
        if k < len(matches):
            break
        j += k
        window = min(window * 4, MAX_WINDOW)
    return found


def until(items: list, stop: Callable[[object], bool]) -> list:
    """`items` up to the first for which `stop` is true (callers test the whole list at C
    level first and search only a list that has one)."""
    for k, item in enumerate(items):
        if stop(item):
            return items[:k]
    return items


def until_repeat(items: list, before: object) -> list:
    """`items` up to the first equal to the one before it (`before`: the one before the first):
    a bar redrawing its last frame."""
    same = list(map(operator.eq, items, [before, *items[:-1]]))
    return items[:same.index(True)] if True in same else items
