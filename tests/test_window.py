"""`formats/window.py`: a run of records one pattern matches, found a window at a time, and
the C-level cuts of such a run. The window lengths are a hint: any gives the same run."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers.formats import window
from analyzers.formats.window import matched_run, until, until_other, until_reaching

FRAME = re.compile(r"(\d+)/(\d+) loss=([\d.]+)").fullmatch
RECORDS = st.lists(st.sampled_from(["1/9 loss=0.5", "2/9 loss=0.4", "Epoch 2/3", "", "x"]),
                   max_size=80)


def one_by_one(records: list[str], j: int) -> list[tuple]:
    found = []
    for record in records[j:]:
        m = FRAME(record)
        if m is None:
            break
        found.append(m.groups())
    return found


@settings(max_examples=300, deadline=None)
@given(RECORDS, st.integers(0, 80), st.integers(0, 5000), st.integers(0, 5000))
def test_any_window_gives_the_run_one_record_at_a_time_gives(records, j, last, most):
    window._LAST_RUN[FRAME] = last  # the hint left by an earlier run of this pattern
    assert matched_run(FRAME, records, j, most) == one_by_one(records, j)


def test_the_next_window_starts_at_the_last_runs_length():
    records = ["1/9 loss=0.5"] * 30 + ["x"] + ["2/9 loss=0.4"] * 300
    window._LAST_RUN.pop(FRAME, None)
    assert len(matched_run(FRAME, records, 0)) == 30
    assert window._LAST_RUN[FRAME] == 30
    assert len(matched_run(FRAME, records, 31)) == 300  # longer: the window grows


@given(st.lists(st.integers(0, 12), max_size=30), st.integers(0, 12))
def test_the_c_level_cuts_are_until(items, bound):
    assert until_reaching(items, bound) == until(items, lambda x: x >= bound)
    assert until_other(items, bound) == until(items, lambda x: x != bound)
    assert until_other(tuple(items), bound) == until(items, lambda x: x != bound)
