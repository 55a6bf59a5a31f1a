"""`numtext` writes columns of numbers as `str(list)` does (Python's `repr` of each), a block of
numpy cells at a time: the same text for any values, and the fast way for a log's values."""

import json
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bertmon.analyzers.numtext import BLOCK, _floats_block, floats_json, ints_json


def _listed(col: np.ndarray) -> str:
    return str(col.tolist())[1:-1]


_int = st.one_of(st.sampled_from([0, 1, 9, 10, 9999, 10_000, 10_001, 99_999_999, 2**52 - 1]),
                 st.integers(0, 2**52 - 1), st.integers(0, 10_000))


@settings(max_examples=300, deadline=None)
@given(st.lists(_int, min_size=1, max_size=80))
def test_integers_as_str_writes_them(values):
    col = np.array(values, dtype=np.int64)
    assert ints_json(col) == _listed(col)
    assert ints_json(col.astype(np.float64)) == _listed(col)  # whole epochs, kept as floats


def test_integers_it_cannot_write_are_left_to_the_caller():
    assert ints_json(np.array([3, -1], dtype=np.int64)) is None
    assert ints_json(np.array([2**53], dtype=np.int64)) is None


# a log's values: printed with a fixed number of decimals, now and then an integer, a zero,
# a tiny or huge one, one with every digit
_printed = st.builds(lambda x, k: float(f"{x:.{k}f}"), st.floats(-1e6, 1e6), st.integers(0, 9))
_value = st.one_of(
    _printed, _printed, _printed,
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e-4, 9.9999e-5, 2e-05, 1e15, 1e16, 4.5e15, 0.1 + 0.2, 5e-324,
                     1.7976931348623157e308, 0.5, 2.0, 100.0, 123456789.125]),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_value, min_size=1, max_size=120))
def test_floats_as_repr_writes_them(values):
    col = np.array(values, dtype=np.float64)
    text = floats_json(col, _listed)
    assert text == _listed(col)
    assert json.loads(f"[{text}]") == values


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 8), st.lists(st.floats(-50, 50), min_size=4, max_size=200),
       st.lists(st.integers(0, 199), max_size=3), st.sampled_from([3e-05, 0.1 + 0.2, -7e-07]))
def test_a_log_s_values_take_the_fast_way_and_a_few_odd_ones_are_patched_in(k, xs, odd, other):
    values = [float(f"{x:.{k}f}") for x in xs]
    for i in odd:  # a few values `repr` must write, among them
        values[i % len(values)] = other
    col = np.array(values)
    fast = _floats_block(col)
    odd = [v == other or 0 < abs(v) < 1e-4 for v in values]  # `repr` writes these
    if sum(odd) * 4 <= len(values) and sum(odd[:64]) * 4 <= len(odd[:64]):
        assert fast == _listed(col)
    assert floats_json(col, _listed) == _listed(col)


def test_long_columns_go_a_block_at_a_time():
    rng = np.random.default_rng(7)
    col = np.round(rng.uniform(0, 3, BLOCK * 3 + 5), 4)
    col[BLOCK + 2] = 2e-05  # a value only `repr` writes: patched into its block
    assert floats_json(col, _listed) == _listed(col)
    steps = np.arange(BLOCK * 2 + 3, dtype=np.int64) * 13
    assert ints_json(steps) == _listed(steps)
    tiny = np.full(BLOCK + 1, 2e-05)  # a learning rate below 1e-4: the caller writes it
    seen = []
    floats_json(tiny, lambda block: seen.append(len(block)) or _listed(block))
    assert seen == [BLOCK, 1]
    assert all(math.isfinite(v) for v in col)
