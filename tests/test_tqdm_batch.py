"""tqdm training frames read in a batch give what the frame-by-frame path gives, in any chunking."""

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bertmon.analyzers import parse_bytes
from bertmon.analyzers.formats.tqdm import TqdmBar
from test_parse_support import bench_shape, chunked, picture

LOGS = Path(__file__).resolve().parent.parent / "sample_logs"
TQDM_LOGS = sorted(p for p in LOGS.glob("*.log") if b"%|" in p.read_bytes())


def general(data: bytes) -> str:
    TqdmBar.batch = False
    try:
        return picture(parse_bytes(data))
    finally:
        TqdmBar.batch = True


@pytest.mark.parametrize("path", TQDM_LOGS, ids=lambda p: p.name)
def test_batch_equals_frame_by_frame_on_real_captures(path):
    data = path.read_bytes()
    assert picture(parse_bytes(data)) == general(data)
    rng = random.Random(path.name)
    assert chunked(data, [rng.choice([1, 5, 64, 333, 4096]) for _ in range(50)]) == general(data)


@pytest.mark.parametrize("shape", ["tqdm", "lightning", "trainer", "seed000"])
def test_batch_equals_frame_by_frame_on_bench_shapes(shape):
    data = bench_shape(shape)
    assert picture(parse_bytes(data)) == general(data)


_FRAMES = [
    b"\rEpoch 1/2:  10%|#         | 1/10 [00:00<00:01, 9.9it/s, loss=0.7, lr=1e-5]",
    b"\rEpoch 1/2:  10%|#         | 1/10 [00:00<00:01, 9.9it/s, loss=0.7, lr=1e-5]",
    b"\rEpoch 1/2:  20%|##        | 2/10 [00:00<00:01, 9.9it/s, loss=0.6, lr=1e-5]",
    b"\rEpoch 1/2:  30%|###       | 3/10 [00:00<00:01, 9.9it/s, loss=nan, lr=1e-5]",
    b"\rEpoch 1/2:  40%|####      | 4/10 [00:00<00:01, 9.9it/s, loss=0.5]",
    b"\rEpoch 1/2: 100%|##########| 10/10 [00:01<00:00, 9.9it/s, loss=0.4, lr=1e-5]\n",
    b"\rEpoch 2/2:  50%|#####     | 5/10 [00:00<00:01, 9.9it/s, loss=0.3, lr=1e-5]",
    b"\rEvaluating:  50%|#####     | 5/10 [00:00<00:00, 50it/s]",
    b"\rEpoch 2/2:  60%|######    | 6/10 [00:00<00:01, 9.9it/s, loss=0.2, lr=1e-5]{'loss': 0.2}",
    b"epoch 1: dev_acc=0.8\n", b"\n", b"\x1b[A",
    b"\r 10%|#         | 1/10 [00:00<00:01, 9.9it/s]",  # the Trainer's unnamed bar
    b"\r 20%|##        | 2/10 [00:00<00:01, 9.9it/s]",
    b"\r 30%|###       | 3/10 [00:00<00:01, 9.9it/s]",
    b"\r100%|##########| 10/10 [00:01<00:00, 9.9it/s]",
    b"\r" + b" " * 20 + b"\r{'loss': '0.5', 'grad_norm': '1.2', 'epoch': '0.2'}\n",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_FRAMES), max_size=40), st.lists(st.integers(1, 40), min_size=1,
                                                                  max_size=8))
def test_any_chunking_of_tqdm_frames_gives_the_one_shot_result(parts, sizes):
    data = b"".join(parts)
    assert chunked(data, sizes) == picture(parse_bytes(data)) == general(data)
