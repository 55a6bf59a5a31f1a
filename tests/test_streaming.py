"""Runs handed over as they finish (`LogParser(on_run_end=...)`) and the streamed JSON document."""

import io
import json
from pathlib import Path

import pytest

from bertmon.analyzers import LogParser, analyze, parse_bytes
from bertmon.analyzers.report import render
from bertmon.analyzers.report_json import write_json

LOGS = Path(__file__).resolve().parent.parent / "sample_logs"
MULTI = ["keras3_restart_file.log", "seed000_full_post.txt", "hf_trainer_file.log",
         "tqdm_nested_file.log", "keras3_crash_file.log"]


def _streamed(data: bytes, chunk: int) -> list:
    got = []
    parser = LogParser("x", on_run_end=got.append)
    for i in range(0, len(data), chunk):
        parser.feed(data[i : i + chunk])
    rest = parser.close()
    assert rest.runs == []  # everything was handed over
    return got


def _doc(runs) -> dict:
    buf = io.StringIO()
    write_json(buf, "x", runs)
    return json.loads(buf.getvalue())


@pytest.mark.parametrize("name", MULTI)
@pytest.mark.parametrize("chunk", [7, 4096, 1 << 20])
def test_handed_over_runs_equal_kept_runs(name, chunk):
    data = (LOGS / name).read_bytes() * 3  # at least three runs
    kept = parse_bytes(data, "x").runs
    streamed = _streamed(data, chunk)
    assert len(streamed) == len(kept) >= 3
    assert [r.index for r in streamed] == list(range(len(kept)))
    assert _doc(streamed) == _doc(kept)


def test_render_json_is_the_streamed_document():
    analysis = parse_bytes((LOGS / "keras3_nan_pty.log").read_bytes(), "nan.log")
    analyze(analysis)
    doc = json.loads(render(analysis, "json"),
                     parse_constant=lambda c: pytest.fail(f"non-strict {c}"))
    coverage = doc.pop("coverage")  # the whole log's, after the runs
    assert coverage["records"] == analysis.coverage.records > 0
    assert doc == _doc(analysis.runs) | {"source": "nan.log"}
    assert doc["runs"][0]["findings"]


def test_empty_document():
    assert _doc([]) == {"bertmon": _doc([])["bertmon"], "source": "x", "runs": []}


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bertmon.analyzers import Series  # noqa: E402
from bertmon.analyzers.report_json import write_series  # noqa: E402

_point = st.tuples(
    st.one_of(st.none(), st.integers(0, 10**6).map(float), st.floats(0, 1e6)),
    st.one_of(st.none(), st.integers(0, 2**40)),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_point, max_size=300))
def test_series_columns_are_strict_json_and_round_trip(points):
    import math

    import bertmon.analyzers.report_json as rj

    series = Series("loss")
    for epoch, step, value in points:
        series.append(epoch, step, value)
    buf = io.StringIO()
    old, rj.SLICE = rj.SLICE, 7  # several slices per column
    try:
        write_series(buf, series)
    finally:
        rj.SLICE = old
    cols = json.loads(buf.getvalue(), parse_constant=lambda c: pytest.fail(f"non-strict {c}"))
    assert len(cols["epoch"]) == len(cols["step"]) == len(cols["value"]) == len(points)
    for (epoch, step, value), e, s, v in zip(points, cols["epoch"], cols["step"], cols["value"]):
        assert e == epoch and s == step
        if math.isnan(value):
            assert v == "NaN"
        elif math.isinf(value):
            assert v == ("Infinity" if value > 0 else "-Infinity")
        else:
            assert v == value
