"""Bytes -> records: redraws, ANSI, UTF-8, held-back tails, and chunking that changes nothing."""

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
