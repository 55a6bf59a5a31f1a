"""`Steps` keeps evenly counting steps as runs and the rest plainly: it must behave like a list."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bertmon.analyzers.model import Series, Steps

_int = st.one_of(st.integers(-1, 50), st.integers(2**31 - 3, 2**31 + 3),
                 st.integers(2**62, 2**63 - 1))
_ops = st.lists(st.one_of(
    st.tuples(st.just("append"), _int),
    st.tuples(st.just("extend"), st.lists(_int, max_size=6)),
    st.tuples(st.just("range"), st.tuples(st.integers(-1, 2**32), st.integers(-3, 10),
                                          st.integers(0, 40))),
    st.tuples(st.just("set"), st.tuples(st.integers(-60, 60), _int)),
    st.tuples(st.just("set_last"), _int),
), max_size=50)


class _EarlyPlain(Steps):
    __slots__ = ()
    MIN_RUNS = 2  # the column goes plain early


@pytest.mark.parametrize("kind", [Steps, _EarlyPlain])
@settings(max_examples=300, deadline=None)
@given(ops=_ops)
def test_steps_behave_like_a_list(ops, kind):
    steps, model = kind(), []
    for op, arg in ops:
        if op == "append":
            steps.append(arg)
            model.append(arg)
        elif op == "extend":
            steps.extend(list(arg))
            model.extend(arg)
        elif op == "range":
            first, stride, k = arg
            values = [first + stride * i for i in range(k)]
            steps.extend(values)
            model.extend(values)
        elif op == "set_last" and model:
            steps[len(model) - 1] = arg
            model[-1] = arg
        elif op == "set" and -len(model) <= arg[0] < len(model):
            steps[arg[0]] = arg[1]
            model[arg[0]] = arg[1]
        assert len(steps) == len(model)
    assert steps.tolist() == model
    assert [steps[i] for i in range(-len(model), len(model))] == model + model
    n = len(model)
    for start, stop in ((0, n), (1, n - 1), (n // 3, n // 2 + 1), (n, n + 3)):
        assert steps.view(start, stop).tolist() == model[max(0, start):stop]


def test_evenly_counting_steps_cost_nothing_an_observation():
    series = Series("loss")
    for epoch in range(1, 11):  # a bar's frames in batches, a loop's step lines one by one
        series.extend_known(float(epoch), list(range(epoch * 10_000, epoch * 10_000 + 5_000)),
                            [0.5] * 5_000)
        for step in range(epoch * 10_000 + 5_000, epoch * 10_000 + 10_000):
            series.append_known(float(epoch), step, 0.5)
    assert len(series) == 100_000
    assert series.nbytes() <= 8 * 100_000 + 24 * 20 + 16 * 10
    assert series.steps.tolist() == [e * 10_000 + i for e in range(1, 11) for i in range(10_000)]


def test_irregular_steps_fall_back_to_four_bytes():
    steps = Steps()
    for i in range(10_000):
        steps.append(i * i % 977)
    assert steps.plain and steps.nbytes() == 4 * 10_000
    assert steps.tolist() == [i * i % 977 for i in range(10_000)]


def test_a_step_learnt_after_its_value_keeps_the_runs():
    """The Trainer's dict is logged before the bar's next frame says its step."""
    steps = Steps()
    for i in range(1, 1001):
        steps.append(-1)
        steps[len(steps) - 1] = i * 10
    assert not steps.plain and steps.tolist() == [i * 10 for i in range(1, 1001)]
    assert steps.nbytes() <= 24


def test_a_step_past_int64_raises_as_an_array_would():
    steps = Steps()
    steps.extend([1, 2, 3])
    with pytest.raises(OverflowError):
        steps.append(2**64)
    assert steps.tolist() == [1, 2, 3]
