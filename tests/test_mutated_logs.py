"""Real logs damaged the ways pastes are (cut anywhere, line breaks lost, pieces of other logs
spliced in, stray bytes, ESC bytes dropped, no-break spaces, a logger's prefixes) go through
the whole pipeline — parser, rules, text and JSON reports — without raising, and read the same
in any chunking. Fuzzing this way found `5/2.1.0` read as a bar's count and a flattened tqdm
log exhausting the stack."""

from __future__ import annotations

import io
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers import analyze, parse_bytes
from analyzers.report import writer
from test_parse_support import chunked, picture

LOGS = Path(__file__).resolve().parent.parent / "sample_logs"
SOURCES = [p.read_bytes()[:20000] for p in
           sorted(LOGS.glob("*.log")) + sorted((LOGS / "public").glob("*.txt"))]
JUNK = b" \n\r\x08\x1b[]{}:=/|%-.,0123456789eEnaif'"


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SOURCES)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        j = min(len(data), i + draw(st.integers(1, 400)))
        op = draw(st.integers(0, 7))
        if op == 0:
            del data[i:j]
        elif op == 1:
            data[i:i] = draw(st.binary(max_size=20).map(
                lambda b: bytes(JUNK[c % len(JUNK)] for c in b)))
        elif op == 2:
            data[i:j] = data[i:j].replace(b"\n", b" ")
        elif op == 3:
            del data[i:]
        elif op == 4:
            data[i:i] = draw(st.sampled_from(SOURCES))[:draw(st.integers(0, 3000))]
        elif op == 5:
            data[i:j] = data[i:j].replace(b"\n", b"")
        elif op == 6:  # a copy that dropped the ESC bytes
            data[i:] = data[i:].replace(b"\x1b", b"")
        else:  # a web page's no-break spaces, a logger's prefix on each line
            data[i:j] = data[i:j].replace(b" ", "\u00a0".encode()).replace(
                b"\n", b"\n[2023-05-01 12:00:00] ")
    return bytes(data)


@settings(max_examples=150, deadline=None)
@given(damaged())
def test_a_damaged_real_log_goes_through_without_raising(data):
    analysis = parse_bytes(data)
    for run in analysis.runs:
        analyze(run)
    for fmt in ("text", "json"):
        out = io.StringIO()
        report = writer(out, "pasted.log", fmt)
        for run in analysis.runs:
            report.add(run)
        report.end(analysis.coverage)
        if fmt == "json":
            assert json.loads(out.getvalue())["runs"] is not None


@settings(max_examples=100, deadline=None)
@given(damaged(), st.lists(st.integers(1, 5000), min_size=1, max_size=20))
def test_a_damaged_real_log_reads_the_same_in_any_chunking(data, sizes):
    assert chunked(data, sizes) == picture(parse_bytes(data))
