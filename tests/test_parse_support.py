"""What the fast-path tests share (no tests here): a parse's comparable picture, a parse fed in
given chunk sizes, and a benchmark shape's bytes at test size."""

import io
import random
import sys
from pathlib import Path

from bertmon.analyzers import LogParser

ROOT = Path(__file__).resolve().parent.parent


def picture(analysis) -> str:
    """Everything a run holds, as text (repr: NaN equals NaN), and the log's coverage."""
    return repr([(r.formats, r.status, r.epochs_planned, r.roles, r.error, r.step,
                  r.steps_per_epoch, vars(r.coverage),
                  [(row.epoch, row.metrics, row.seconds) for row in r.epochs],
                  {k: [tuple(p) for p in s] for k, s in r.series.items()}, r.hints)
                 for r in analysis.runs]) + repr(vars(analysis.coverage))


def chunked(data: bytes, sizes) -> str:
    """The picture of `data` fed in chunks of `sizes`, in turn."""
    p = LogParser()
    pos, k = 0, 0
    while pos < len(data):
        size = sizes[k % len(sizes)]
        p.feed(data[pos : pos + size])
        pos, k = pos + size, k + 1
    return picture(p.close())


def bench_shape(name: str) -> bytes:
    """A few hundred kB of one of `bench/parse_speed.py`'s shapes (the 10-million-line one cut to
    20,000 lines)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import parse_speed

    buf = io.StringIO()
    if name == "lines":
        parse_speed.gen_lines(buf, 0, random.Random(1), lines=20_000)
    else:
        parse_speed.SHAPES[name](buf, 150_000, random.Random(1))
    return buf.getvalue().encode("utf-8", "surrogateescape")
