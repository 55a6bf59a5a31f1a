"""Bytes -> records: redraws, ANSI, UTF-8, held-back tails, and chunking that changes nothing."""

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bertmon.analyzers.stream import MAX_RECORD, RecordSplitter


def split_all(data: bytes, chunks: list[int] | None = None) -> list[str]:
    s = RecordSplitter()
    out: list[str] = []
    if chunks is None:
        out += s.feed(data)
    else:
        pos = 0
        for size in chunks:
            out += s.feed(data[pos : pos + size])
            pos += size
        out += s.feed(data[pos:])
    return out + s.close()


def test_keras_backspace_redraws_become_frames():
    data = b"Epoch 1/2\n 1/3 [=>...] - loss: 0.9\x08\x08\x08\x08\r 2/3 [==>..] - loss: 0.8\n"
    assert split_all(data) == ["Epoch 1/2", " 1/3 [=>...] - loss: 0.9", " 2/3 [==>..] - loss: 0.8"]


def test_ansi_colour_and_cursor_up_are_dropped():
    data = b"\x1b[1m 3/12\x1b[0m \x1b[32m\xe2\x94\x81\x1b[0m - loss: 0.5\n\x1b[A\rEval:  50%|\n"
    assert split_all(data) == [" 3/12 \u2501 - loss: 0.5", "Eval:  50%|"]


def test_crlf_from_a_terminal_is_one_break_even_across_chunks():
    data = b"a\r\nb\r\nc"
    for cut in range(len(data) + 1):
        assert split_all(data, [cut]) == ["a", "b", "c"]


def test_partial_tail_is_held_until_complete():
    s = RecordSplitter()
    assert s.feed(b"loss: 0.5\nval_lo") == ["loss: 0.5"]
    assert s.feed(b"ss: 0.6") == []
    assert s.feed(b"\n") == ["val_loss: 0.6"]
    assert s.feed(b"tail") == []
    assert s.close() == ["tail"]


def test_invalid_utf8_is_replaced_not_fatal():
    assert split_all(b"acc: 0.5 \xff\xfe\n") == ["acc: 0.5 \ufffd\ufffd"]


def test_multibyte_character_split_between_chunks_survives():
    data = "━━ loss: 0.5\n".encode()
    for cut in range(len(data)):
        assert split_all(data, [cut]) == ["━━ loss: 0.5"]


def test_a_line_without_newline_keeps_bounded_memory():
    s = RecordSplitter()
    for _ in range(3 * MAX_RECORD // 65536):
        s.feed(b"x" * 65536)
    assert len(s._tail) <= MAX_RECORD
    assert s.dropped_bytes > 0
    (record,) = s.close()
    assert len(record) <= MAX_RECORD


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(min_value=0, max_value=50), max_size=12))
def test_any_chunking_gives_the_same_records(data, chunks):
    assert split_all(data, chunks) == split_all(data)


def test_an_over_long_record_is_cut_the_same_way_in_any_chunking():
    from bertmon.analyzers.stream import MAX_CHARS

    data = b"Epoch 1/1: " + "é".encode() * (3 * MAX_CHARS) + b" loss=0.5\nnext\n"
    whole = split_all(data)
    assert whole == split_all(data, [1 << 16] * 200)
    assert len(whole[0]) == MAX_CHARS and whole[0].endswith(" loss=0.5") and whole[1] == "next"


# --- escape sequences: each ends at its line's end, bounded, in every chunking ---------------
# The sequences a terminal capture holds (`script`, tmux logs, shells setting the window title):
# OSC titles and hyperlinks ended by BEL, by ST or not at all, DCS, cursor moves and erases,
# character-set selection, a lone ESC, alongside the bytes the emitters write.
ESCAPES = [
    b"\x1b]0;my run\x07", b"\x1b]0;my run\x1b\\", b"\x1b]0;my run", b"\x1b]2;", b"\x1b]8;;http://x/\x07",
    b"\x1bP1$r0m\x1b\\", b"\x1bP+q544e", b"\x1b_apc", b"\x1b^pm\x1b\\", b"\x1bXsos",
    b"\x1b[K", b"\x1b[2K", b"\x1b[A", b"\x1b[3A", b"\x1b[12;40H", b"\x1b[?25l", b"\x1b[?2004h",
    b"\x1b[1;32m", b"\x1b[0m", b"\x1b[38;5;208m", b"\x1b[12;", b"\x1b(B", b"\x1b7", b"\x1b8",
    b"\x1b=", b"\x1b>", b"\x1b\\", b"\x1b", b"\x1b[",
]
TEXT = [b"Epoch 1/2", b" 3/10 [==>...] - loss: 0.5", b"epoch 1: loss=0.5 acc=0.7", b"\xe2\x94\x81",
        b"\xe2\x94", b"\xff", b"\x07", b"x" * 9, b";", b"\\"]
BREAKS = [b"\n", b"\r", b"\r\n", b"\x08\x08\x08", b"\x08" * 50 + b"\r"]


def no_escape_left(records: list[str]) -> None:
    assert not any("\x1b" in r for r in records), records


def test_an_unterminated_title_ends_at_its_line():
    data = (b"\x1b]0;title\nEpoch 1/2\nepoch 1: loss=0.5 acc=0.7 dev_acc=0.6\nEpoch 2/2\n"
            b"epoch 2: loss=0.4 acc=0.8 dev_acc=0.65\n")
    expected = ["Epoch 1/2", "epoch 1: loss=0.5 acc=0.7 dev_acc=0.6", "Epoch 2/2",
                "epoch 2: loss=0.4 acc=0.8 dev_acc=0.65"]
    assert split_all(data) == expected
    for size in range(1, 20):
        assert split_all(data, [size] * (len(data) // size + 1)) == expected


@pytest.mark.parametrize("prefix", [b"\x1b]0;t\x07", b"\x1b]0;t\x1b\\", b"\x1b]0;t",
                                    b"\x1bP1$r0m\x1b\\", b"\x1bP1$r", b"\x1b[2J\x1b[H", b"\x1b[K",
                                    b"\x1b[A", b"\x1b(B\x1b[m"])
def test_each_sequence_is_dropped_and_the_line_goes_on(prefix):
    assert split_all(prefix + b"\r\nloss: 0.5\n") == ["loss: 0.5"]
    assert split_all(b"a" + prefix + b"\r\nloss: 0.5\n") in (["a", "loss: 0.5"],)


def test_a_terminated_sequence_keeps_the_rest_of_its_line():
    assert split_all(b"\x1b]0;title\x07Epoch 1/2\n") == ["Epoch 1/2"]
    assert split_all(b"\x1b]0;title\x1b\\Epoch 1/2\n") == ["Epoch 1/2"]
    assert split_all(b"\x1bP+q544e\x1b\\loss: 0.5\x1b[K\n") == ["loss: 0.5"]
    assert split_all(b"\x1b[?25l\x1b[12;40Hloss: 0.5\x1b(B\x1b7\n") == ["loss: 0.5"]


def test_an_unterminated_string_is_bounded_in_length():
    from bertmon.analyzers.stream import MAX_STRING

    body = b"0;" + b"t" * (MAX_STRING + 1)  # everything after `ESC ]` counts
    assert split_all(b"\x1b]" + body + b" loss=0.5\n") == ["ttt loss=0.5"]
    assert split_all(b"\x1b]" + body[:MAX_STRING] + b"\n") == []


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(ESCAPES + TEXT + BREAKS) | st.binary(max_size=6), max_size=40),
       st.lists(st.integers(min_value=0, max_value=40), max_size=12))
def test_terminal_sequences_in_any_chunking(parts, chunks):
    data = b"".join(parts)
    whole = split_all(data)
    assert split_all(data, chunks) == whole
    no_escape_left(whole)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ESCAPES + TEXT + BREAKS), max_size=30),
       st.lists(st.integers(min_value=0, max_value=30), max_size=12),
       st.integers(min_value=4, max_value=24))
def test_the_over_long_line_cut_is_the_same_in_any_chunking(parts, chunks, max_record):
    """A line longer than `max_record` keeps its last `max_record` bytes, cut on the same byte
    whether it came whole, in pieces, or in chunks longer than `max_record`."""
    data = b"".join(parts)

    def run(sizes):
        s = RecordSplitter(max_record)
        out: list[str] = []
        pos = 0
        for size in sizes:
            out += s.feed(data[pos : pos + size])
            pos += size
        return out + s.feed(data[pos:]) + s.close()

    whole = run([])
    assert run(chunks) == whole
    assert run([max_record * 3 + 1] * 3) == whole
    assert all(len(r) <= max(1, max_record // 4) for r in whole)
    no_escape_left(whole)


# --- real sample logs behind a terminal's prefixes: incremental == one-shot == no prefix -----
PREFIXES = {
    "osc-bel": b"\x1b]0;my run\x07",
    "osc-st": b"\x1b]0;my run\x1b\\",
    "osc-unterminated": b"\x1b]0;my run\n",
    "dcs": b"\x1bP1$r0m\x1b\\",
    "clear-home": b"\x1b[2J\x1b[H\x1b[K",
    "cursor-up": b"\x1b[A\x1b[2K\r",
    "charset": b"\x1b(B\x1b[m\x1b]8;;\x1b\\",
}
SAMPLES = Path(__file__).resolve().parent.parent / "sample_logs"


def snapshot(analysis) -> str:
    """Every run's comparable picture (as tests/test_parser.py takes it; repr: NaN == NaN)."""
    return repr([(r.formats, r.status, r.epochs_planned, r.roles, r.error,
                  [(row.epoch, row.metrics, row.seconds) for row in r.epochs],
                  {k: [tuple(p) for p in s] for k, s in r.series.items()}) for r in analysis.runs])


@pytest.mark.parametrize("prefix", PREFIXES, ids=str)
@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.log")), ids=lambda p: p.name)
def test_sample_log_behind_a_prefix_parses_alike_in_every_chunking(path, prefix):
    from bertmon.analyzers.series import LogParser, parse_bytes

    raw = path.read_bytes()
    data = PREFIXES[prefix] + raw
    expected = snapshot(parse_bytes(data))
    assert expected == snapshot(parse_bytes(raw))  # the prefix costs nothing
    rng = random.Random(f"{path.name}{prefix}")
    for sizes in ([1, 2, 3], [16], [7, 64, 1000], [4096, 65536]):
        p = LogParser()
        pos = 0
        while pos < len(data):
            size = rng.choice(sizes)
            p.feed(data[pos : pos + size])
            pos += size
        assert snapshot(p.close()) == expected, sizes


def test_a_no_break_space_is_a_space_in_any_chunking():
    """A log copied from a web page or a mail has U+00A0 where the terminal showed spaces."""
    data = "Epoch 1/2\n12/12 - 1s - loss:\u00a00.5 - accuracy:\u00a00.7\n".encode()
    want = ["Epoch 1/2", "12/12 - 1s - loss: 0.5 - accuracy: 0.7"]
    for size in (1, 2, 3, 7, len(data)):
        splitter = RecordSplitter()
        got = [r for i in range(0, len(data), size) for r in splitter.feed(data[i:i + size])]
        assert got + splitter.close() == want


def test_codes_that_lost_their_escape_are_dropped_only_beside_a_lost_reset():
    lost = b"\r[1m 3/12[0m [32m\xe2\x94\x81\xe2\x94\x81[0m[37m\xe2\x94\x81[0m [1m1s[0m - loss: 0.5\n"
    assert RecordSplitter().feed(lost) == [" 3/12 \u2501\u2501\u2501 1s - loss: 0.5"]
    kept = b"ETA [10m 23s] at step [2K]\n"  # no `[0m`: nothing lost, nothing dropped
    assert RecordSplitter().feed(kept) == ["ETA [10m 23s] at step [2K]"]
