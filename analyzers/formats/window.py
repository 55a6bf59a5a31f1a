"""The records from a position on that one compiled pattern matches in full, found at C level.

Bar frames and a loop's step lines come in runs of thousands of records of one shape. Matching
them one Python call at a time costs more than the match itself; here `map` applies the
pattern to a window of records, `list.index(None)` finds where the run ends, and `map` again
takes each match's groups. Windows start small (a run of ten frames between two Trainer dicts
wastes little) and grow to `MAX_WINDOW`.
"""

from __future__ import annotations

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
