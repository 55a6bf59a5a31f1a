"""A series' steps move to runs (`StepRuns`) a chunk at a time where they count on evenly: the
series must still behave like a list of its steps."""

from contextlib import contextmanager

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bertmon.analyzers import model
from bertmon.analyzers.model import Series, StepRuns

_int = st.one_of(st.integers(-1, 50), st.integers(2**31 - 3, 2**31 + 3),
                 st.integers(2**62, 2**63 - 1))
_ops = st.lists(st.one_of(
    st.tuples(st.just("append"), st.one_of(st.none(), _int)),
    st.tuples(st.just("extend"), st.lists(_int, max_size=6)),
    st.tuples(st.just("range"), st.tuples(st.integers(-1, 2**32), st.integers(-3, 10),
                                          st.integers(1, 40))),
    st.tuples(st.just("set"), st.tuples(st.integers(-60, 60), st.one_of(st.none(), _int))),
    st.tuples(st.just("set_last"), _int),
), max_size=50)


@contextmanager
def _chunk(size: int):
    keep, model.STEP_CHUNK = model.STEP_CHUNK, size
    try:
        yield
    finally:
        model.STEP_CHUNK = keep


@settings(max_examples=400, deadline=None)
@given(ops=_ops, chunk=st.sampled_from([3, 8, 1 << 16]))
def test_steps_behave_like_a_list(ops, chunk):
    with _chunk(chunk):  # small chunks: runs made, refused and undone all the time
        series, steps = Series("loss"), []
    for op, arg in ops:
        if op == "append":
            series.append(1.0, arg, 0.5)
            steps.append(arg)
        elif op in ("extend", "range"):
            values = arg if op == "extend" else [arg[0] + arg[1] * i for i in range(arg[2])]
            series.extend_known(1.0, list(values), [0.5] * len(values))
            steps.extend(values)
        elif op == "set_last" and steps:
            series.set_step(-1, arg)
            steps[-1] = arg
        elif op == "set" and -len(steps) <= arg[0] < len(steps):
            series.set_step(arg[0], arg[1])
            steps[arg[0]] = arg[1]
        assert len(series) == len(steps)
    expected = [-1 if s is None else s for s in steps]
    assert series.steps.tolist() == expected
    points = [None if s == -1 else s for s in expected]  # a Point says None for unknown
    assert [p.step for p in series] == points
    assert [series[i].step for i in range(-len(steps), len(steps))] == points + points
    n = len(steps)
    for start, stop in ((0, n), (1, n - 1), (n // 3, n // 2 + 1), (n, n + 3)):
        assert series.column_between(1, start, stop).tolist() == expected[max(0, start):stop]
    assert series.column_lists()[1] == expected


def test_evenly_counting_steps_cost_nothing_an_observation():
    series = Series("loss")
    for epoch in range(1, 11):  # a bar's frames in batches, a loop's step lines one by one
        series.extend_known(float(epoch), list(range(epoch * 100_000, epoch * 100_000 + 50_000)),
                            [0.5] * 50_000)
        for step in range(epoch * 100_000 + 50_000, epoch * 100_000 + 100_000):
            series.append_known(float(epoch), step, 0.5)
    assert len(series) == 1_000_000
    assert series._runs is not None and len(series._runs.at) < 100
    assert series.nbytes() <= 8 * 1_000_000 + 4 * model.STEP_CHUNK + 24 * 100 + 16 * 10
    assert series.steps.tolist() == [e * 100_000 + i for e in range(1, 11)
                                     for i in range(100_000)]


def test_irregular_steps_stay_plain():
    series = Series("loss")
    for i in range(200_000):
        series.append_known(1.0, i * i % 977, 0.5)
    assert series._runs is None and series.nbytes() <= 12 * 200_000 + 16
    assert series.steps.tolist() == [i * i % 977 for i in range(200_000)]


def test_runs_split_where_the_difference_changes():
    steps = np.array([0, 1, 2, 10, 11, 12, 12, 12, 5], dtype=np.int64)
    starts, firsts, strides = StepRuns.split(np.tile(steps, 1)) or (None, None, None)
    assert starts is None  # 5 runs for 9 steps: plain is cheaper
    long = np.concatenate([np.arange(0, 1000), np.arange(5000, 3000, -2), np.full(500, -1)])
    starts, firsts, strides = StepRuns.split(long)
    runs = StepRuns()
    runs.add(starts, firsts, strides, len(long))
    assert runs.view(0, len(long)).tolist() == long.tolist()
    assert len(runs.at) <= 6  # at most two runs where the difference changes
