"""`Series` keeps epochs run-length encoded and steps as runs (or in 4 bytes): it must behave like
plain lists."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from bertmon.analyzers import Point, Series

_epoch = st.one_of(st.none(), st.sampled_from([1.0, 2.0, 3.0, 0.25, 0.5]))
_step = st.one_of(st.none(), st.integers(0, 100), st.integers(2**31 - 2, 2**40))
_ops = st.lists(st.one_of(
    st.tuples(st.just("append"), _epoch, _step, st.floats(allow_nan=True)),
    st.tuples(st.just("known"), st.sampled_from([1.0, 2.0, 3.0]), st.integers(0, 2**33),
              st.floats(-1, 1)),
    st.tuples(st.just("extend"), st.sampled_from([1.0, 2.0]),
              st.lists(st.integers(0, 2**32), max_size=5), st.just(0.5)),
    st.tuples(st.just("set_epoch"), st.integers(-50, 50), _epoch, st.just(0)),
    st.tuples(st.just("set_epochs"), st.integers(0, 50), _epoch, st.integers(1, 20)),
    st.tuples(st.just("set_step"), st.integers(-50, 50), _step, st.just(0)),
), max_size=60)


def _same(a, b):
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a)
                      and math.isnan(b))


@settings(max_examples=300, deadline=None)
@given(_ops)
def test_series_behaves_like_lists(ops):
    series, model = Series("loss"), []
    for op, a, b, c in ops:
        if op == "append":
            series.append(a, b, c)
            model.append([a, b, c])
        elif op == "known":
            series.append_known(a, b, c)
            model.append([a, b, c])
        elif op == "extend":
            series.extend_known(a, b, [c] * len(b))
            model.extend([a, s, c] for s in b)
        elif op == "set_epochs":
            stop = min(a + c, len(model))
            if a < stop:
                series.set_epochs(a, stop, b)
                for row in model[a:stop]:
                    row[0] = b
        elif model and -len(model) <= a < len(model):
            if op == "set_epoch":
                series.set_epoch(a, b)
                model[a][0] = b
            else:
                series.set_step(a, b)
                model[a][1] = b
    assert len(series) == len(model)
    expected = [Point(e, s, v) for e, s, v in model]
    assert all(_same(p.epoch, q.epoch) and p.step == q.step and _same(p.value, q.value)
               for p, q in zip(series, expected))
    assert all(_same(series[i].value, expected[i].value) and series[i].epoch == expected[i].epoch
               for i in range(-len(model), len(model)))
    epochs, steps = series.epochs.tolist(), series.steps.tolist()
    assert [e if not math.isnan(e) else None for e in epochs] == [e for e, _, _ in model]
    assert [None if s == -1 else s for s in steps] == [s for _, s, _ in model]
    for start, stop in ((0, len(model)), (3, 11), (len(model) // 2, len(model) + 5), (7, 7)):
        e, s, v = (series.column_between(k, start, stop) for k in range(3))
        rows = model[start:stop]
        assert [x if not math.isnan(x) else None for x in e.tolist()] == [r[0] for r in rows]
        assert [None if x == -1 else x for x in s.tolist()] == [r[1] for r in rows]
        assert all(_same(x, r[2]) for x, r in zip(v.tolist(), rows)) and len(v) == len(rows)
    _write_both_ways(series)
    runs = len(series._ep_at)
    changes = sum(1 for i in range(len(model)) if i == 0 or not _same(
        model[i][0] if model[i][0] is not None else math.nan,
        model[i - 1][0] if model[i - 1][0] is not None else math.nan))
    assert runs == changes  # as few runs as epoch changes


def test_at_most_twelve_bytes_an_observation():
    series = Series("loss")
    for i in range(100_000):  # steps that do not count on evenly: 4 bytes each
        series.append_known(float(1 + i // 10_000), i * i % 977, 0.5)
    assert series.nbytes() <= 12 * 100_000 + 16 * 10


def test_a_long_series_writes_its_columns_a_slice_at_a_time():
    import io
    import json

    from bertmon.analyzers.report_json import SLICE, write_series

    series = Series("loss")
    n = 2 * SLICE + 123
    for i in range(n):  # epochs change inside and across slices, some unknown, a wide step
        epoch = None if i % 50_000 < 7 else float(1 + i // 40_000)
        series.append(epoch, None if i == 5 else (2**35 if i == n - 1 else i), i / 7)
    buf = io.StringIO()
    write_series(buf, series, "all")
    doc = json.loads(buf.getvalue())
    assert doc["epoch"] == [None if math.isnan(e) else int(e) for e in series.epochs.tolist()]
    assert doc["step"] == [None if s == -1 else s for s in series.steps.tolist()]
    assert doc["value"] == list(series.values)
    whole = Series("acc")  # whole epochs only: written a run of equal epochs at a time
    for i in range(n):
        whole.append_known(float(1 + i // 30_000), i, 0.5)
    buf = io.StringIO()
    write_series(buf, whole, "all")
    assert json.loads(buf.getvalue())["epoch"] == [1 + i // 30_000 for i in range(n)]


def _write_both_ways(series) -> str:
    """A series' JSON columns from lists (short) and from numpy slices: the same text."""
    import io

    from bertmon.analyzers import report_json

    texts = []
    for short in (report_json.SHORT, -1):
        buf, keep = io.StringIO(), report_json.SHORT
        report_json.SHORT = short
        try:
            report_json.write_series(buf, series, "all")
        finally:
            report_json.SHORT = keep
        texts.append(buf.getvalue())
    assert texts[0] == texts[1]
    return texts[0]


def test_sample_logs_series_write_alike_from_lists_and_from_arrays():
    from pathlib import Path

    from bertmon.analyzers import parse_path

    logs = Path(__file__).resolve().parent.parent / "sample_logs"
    count = 0
    for path in sorted(logs.rglob("*.log")):
        for run in parse_path(path).runs:
            for series in run.series.values():
                _write_both_ways(series)
                count += 1
    assert count > 100


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 0.6931, 1e-05, 2.5e-5, 123456.789, 1e300, -3.25]),
                min_size=1100, max_size=1500),
       st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=1500))
def test_values_are_written_as_repr_writes_them(repeated, distinct):
    """The remembered texts (`_Reprs`, keyed by bits: 0.0 and -0.0 apart) and the fallback for
    mostly distinct values both write what `repr` writes."""
    import numpy as np

    from bertmon.analyzers.report_json import _values

    for values in (repeated, distinct, repeated + distinct, distinct + repeated):
        col = np.array(values, dtype=np.float64)
        assert _values(col) == ", ".join(map(repr, values))
        assert _values(col[::2]) == ", ".join(map(repr, values[::2]))  # a strided view
