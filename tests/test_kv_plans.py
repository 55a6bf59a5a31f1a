"""Runs of key/value lines read by a plan (`formats/repeat.py`) give what reading each line in
full gives: on every sample log, on the benchmark's shapes, and on generated hand-rolled loops
with the cases a plan must leave to the full read (a new epoch, ambiguous numbers, `%`, `nan`,
a clock in front, a non-integer step, a quoted paste), in any chunking."""

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bertmon.analyzers import LogParser, parse_bytes
from bertmon.analyzers.formats.kv import KeyValueLines
from test_parse_support import bench_shape, chunked, picture

LOGS = Path(__file__).resolve().parent.parent / "sample_logs"
SAMPLES = sorted(p for p in LOGS.rglob("*") if p.is_file() and p.suffix in (".log", ".txt", ".md"))


def in_full(data: bytes) -> str:
    KeyValueLines.plans = False
    try:
        return picture(parse_bytes(data))
    finally:
        KeyValueLines.plans = True


def test_a_loop_of_step_lines_is_read_by_plan():
    data = b"".join(b"step %d: loss=%.4f lr=2e-05\n" % (i, 1 / i) for i in range(1, 2001))
    parser = LogParser()
    parser.feed(data)
    analysis = parser.close()
    (run,) = analysis.runs
    assert len(run.series["loss"]) == 2000
    assert list(run.series["loss"].steps[:3]) == [1, 2, 3]
    assert run.hints["lr"] == 2e-05
    assert analysis.coverage.with_metrics == 2000
    # the plan took the lines after the first in one batch per chunk, not one call each
    assert parser.reader(KeyValueLines)._plans
    assert picture(analysis) == in_full(data)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: str(p.relative_to(LOGS)))
def test_plans_equal_full_reads_on_sample_logs(path):
    data = path.read_bytes()
    assert picture(parse_bytes(data)) == in_full(data)
    rng = random.Random(path.name)
    assert chunked(data, [rng.choice([1, 7, 64, 333, 4096]) for _ in range(50)]) == in_full(data)


@pytest.mark.parametrize("shape", ["lines", "tqdm", "trainer", "keras2"])
def test_plans_equal_full_reads_on_bench_shapes(shape):
    data = bench_shape(shape)
    assert picture(parse_bytes(data)) == in_full(data)


_LINES = [
    b"step 1: loss=0.6931\n", b"step 2: loss=0.6800\n", b"step 3: loss=nan\n",
    b"step 4: loss=inf\n", b"step 5: loss=5\n", b"step 6: loss=6.5%\n", b"step 7.5: loss=0.5\n",
    b"step 8: loss=1e-3 acc=0.5 acc2=0.5\n", b"step 9: loss=0.4 time=12.5s\n",
    b"epoch 1 step 10: loss=0.3\n", b"epoch 1 step 11: loss=0.2\n", b"epoch 2 step 12: loss=0.1\n",
    b"epoch 1: dev_acc=0.8\n", b"epoch 2: dev_acc=0.85 train_loss=0.3\n",
    b"[10:12:33] step 13: loss=0.25\n", b"[10:12:34] step 14: loss=0.24\n",
    b"> step 15: loss=0.23\n", b"step 16: loss=0.22 lr=1e-05\n", b"step 17: loss=0.21 lr=2e-05\n",
    b"Epoch 1/3\n", b"test_acc=0.7\n", b"final_score = \n", b"0.46\n", b"val_loss=nan\n",
    b"Traceback (most recent call last):\n", b"RuntimeError: CUDA out of memory\n",
    b"step 18: loss=0.20 num_epochs=3\n", b"iter 19 | loss 0.19\n", b"iter 20 | loss 0.18\n",
    b"step 21: loss=0.17 loss=0.16\n", b"step 22: loss=0.15 loss=0.14\n",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_LINES), max_size=60),
       st.lists(st.integers(1, 60), min_size=1, max_size=8))
def test_any_mix_of_lines_in_any_chunking_gives_the_full_read(parts, sizes):
    data = b"".join(parts)
    assert chunked(data, sizes) == picture(parse_bytes(data)) == in_full(data)


def test_a_name_twice_in_a_line_keeps_the_printed_order():
    data = b"".join(b"step %d: loss=0.%d1 loss=0.%d2\n" % (i, i, i) for i in range(1, 6))
    (run,) = parse_bytes(data).runs
    assert list(run.series["loss"].values) == [0.11, 0.12, 0.21, 0.22, 0.31, 0.32, 0.41, 0.42,
                                               0.51, 0.52]
    assert picture(parse_bytes(data)) == in_full(data)


_SHAPED = [
    "loss: 0.5 acc: 0.7", "loss: 1. acc: 0.7", "loss: nan acc: 0.7", "loss: 5% acc: 0.7",
    "loss: 0.5. done", "loss: 1. done", "loss: 1.5x acc: 2", "loss: 12s acc: 0.1",
    "{'loss': '0.69', 'epoch': '0.5'}", "{'loss': '1e-05', 'epoch': '1.0'}", "{'loss': 'nan'}",
    "lr=2e-5 loss=0.3", "lr=2e-5, loss=0.3", "step 3-5 loss=0.2", "loss=0.2%, acc=0.3",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_SHAPED), max_size=30))
def test_the_shape_cache_reads_each_line_as_pyparsing_does(lines):
    from bertmon.analyzers import grammar as g
    from bertmon.analyzers.formats.kv import kv_pairs
    from bertmon.analyzers.formats.trainer import dict_entries

    for parse in (kv_pairs, dict_entries):
        cache = g.ShapeCache(parse)
        for line in lines:
            try:
                expected = parse(line)
            except Exception as exc:  # noqa: BLE001 - the cache must raise alike
                with pytest.raises(type(exc)):
                    cache(line)
                continue
            assert cache(line) == expected, line


_NUMBER = st.sampled_from(["0.5", "1.", ".5", "1e-05", "-0.0", "+1", "nan", "inf", "-inf", "12",
                           "7", "3%", "NaN", "Infinity", "1,000", "0.25", "2.5e3", "nan.0"])
_TEMPLATE = st.sampled_from([
    "step {}: loss={} acc={}", "step {}: loss={} lr={}", "epoch 2 step {}: loss={} f1={}",
    "[10:0{}] iter {} | loss {}", "Step {} | train_loss: {} | time={}s", "batch {}: loss={}, {}",
    "{} {} {}", "test_acc={} test_f1={} step {}",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_TEMPLATE, _NUMBER, _NUMBER, _NUMBER), max_size=50),
       st.lists(st.integers(1, 80), min_size=1, max_size=6))
def test_lines_with_any_numbers_read_by_plan_as_in_full(lines, sizes):
    for order in (lines, sorted(lines, key=lambda line: line[0])):  # sorted: runs of a shape
        data = "".join(t.format(a, b, c) + "\n" for t, a, b, c in order).encode()
        assert chunked(data, sizes) == picture(parse_bytes(data)) == in_full(data)


def _summary_after_steps(epochs: int, steps: int, cut: int = 0) -> bytes:
    """A loop that prints its step lines, then `epoch N: dev_acc=...` once the epoch is over."""
    out = []
    for e in range(1, epochs + 1):
        out += [b"step %d: loss=%.4f\n" % (s, 1.0 / e + s * 1e-6)
                for s in range((e - 1) * steps + 1, e * steps + 1)]
        out.append(b"epoch %d: dev_acc=%.2f\n" % (e, 0.5 + e / 100))
    out += [b"step %d: loss=0.1\n" % (epochs * steps + s) for s in range(1, cut + 1)]
    return b"".join(out)


@pytest.mark.parametrize("plans", [True, False])
def test_step_lines_belong_to_the_summary_printed_after_them(plans):
    KeyValueLines.plans = plans
    try:
        analysis = parse_bytes(_summary_after_steps(4, 300, cut=5))
    finally:
        KeyValueLines.plans = True
    (run,) = analysis.runs
    # each epoch's loss is its own last step's, not the epoch before's
    assert [(row.epoch, round(row.metrics["loss"], 4)) for row in run.epochs] == [
        (1, 1.0003), (2, 0.5006), (3, 0.3342), (4, 0.2512)]
    loss = run.series["loss"]
    epochs = loss.epochs.tolist()
    assert epochs[:300] == [1.0] * 300 and epochs[300:600] == [2.0] * 300
    assert epochs[1199] == 4.0
    assert all(e != e for e in epochs[1200:])  # the epoch under way when the log ends: unknown
    assert len(loss._ep_at) == 5  # one run an epoch, not one a line


def test_a_summary_after_step_lines_keeps_one_entry_a_series():
    parser = LogParser()
    parser.feed(b"".join(b"step %d: loss=0.5 acc=0.6\n" % s for s in range(1, 5001)))
    state = parser.current()
    assert [(s.name, start, stop) for s, start, stop, _, _ in state.unplaced_lines] == [
        ("loss", 0, 5000), ("acc", 0, 5000)]
    parser.feed(b"epoch 1: dev_acc=0.7\n")
    (run,) = parser.close().runs
    assert run.epochs[0].metrics == {"loss": 0.5, "acc": 0.6, "dev_acc": 0.7}
    assert run.series["acc"].epochs.tolist() == [1.0] * 5000
