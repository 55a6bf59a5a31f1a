"""A record of blanks alone is put only to the readers that may take it (`Reader.blank`): every
log reads as it does when every reader is asked, blank lines sprinkled in or not."""

import random
from pathlib import Path

import pytest
from test_parse_support import bench_shape, picture

from bertmon.analyzers import parse_bytes
from bertmon.analyzers.formats import READERS

LOGS = Path(__file__).resolve().parent.parent / "sample_logs"
SAMPLES = sorted(p for p in LOGS.rglob("*") if p.is_file() and p.suffix in (".log", ".txt", ".md"))
BLANKS = [b"\n   \n", b"\r" + b" " * 46 + b"\r", b"\n\t \n", b"\n \n\n  \n"]


def every_reader_asked(data: bytes) -> str:
    kept = {cls: cls.blank for cls in READERS}
    try:
        for cls in READERS:
            cls.blank = True
        return picture(parse_bytes(data))
    finally:
        for cls, blank in kept.items():
            cls.blank = blank


def sprinkled(data: bytes, seed: int) -> bytes:
    """`data` with blank lines and a Trainer's bar clear after some of its line ends."""
    rng = random.Random(seed)
    lines = data.split(b"\n")
    return b"\n".join(line + rng.choice(BLANKS) if rng.random() < 0.2 else line
                      for line in lines)


def test_some_readers_are_spared_blank_records():
    assert {cls.__name__ for cls in READERS if cls.blank} == {
        "Traceback", "ResultsTable", "RichBar", "MetricsBlock"}  # their state decides


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: str(p.relative_to(LOGS)))
def test_sample_logs_read_alike(path):
    data = path.read_bytes()
    assert picture(parse_bytes(data)) == every_reader_asked(data)
    noisy = sprinkled(data, len(data))
    assert picture(parse_bytes(noisy)) == every_reader_asked(noisy)


@pytest.mark.parametrize("shape", ["trainer", "tqdm", "lightning", "seed000"])
def test_bench_shapes_read_alike(shape):
    data = bench_shape(shape)
    assert picture(parse_bytes(data)) == every_reader_asked(data)
