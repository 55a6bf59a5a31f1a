"""Bytes to records: what a terminal would have shown, one record per line or redraw frame.

Keras redraws its bar with runs of `\\b` followed by `\\r`, tqdm with `\\r` (and `\\x1b[A` to climb to
a nested bar); both may colour with ANSI codes. Every `\\n`, `\\r`, `\\r\\n` and run of `\\b` ends a
record, escape sequences are dropped (also those a copy left without their ESC: `[0m`), a no-break
space (a log copied from a web page) is a space, and bytes are decoded as UTF-8 with replacement.

An escape sequence never reaches past the end of its line and is bounded in length: a terminal
capture that starts with a window title whose terminator never came (`ESC ] 0;title`) loses that
line, not the log. So every escape lies inside one record, and dropping escapes line by line gives
the same result in any chunking.

Splitting happens on bytes (the terminators are ASCII and never occur inside a UTF-8 sequence),
and each chunk is decoded and split with a handful of C-level calls, so a line of any length
costs linear time. An unterminated tail is held back until it completes (tailing a growing
file) and flushed by `close()`. A line longer than `max_record` bytes keeps only its last
`max_record` bytes, whether it arrived whole or in pieces, so memory stays bounded on a log with
no newline at all and the cut lands on the same byte in every chunking.
"""

from __future__ import annotations

import re

MAX_RECORD = 1 << 20
MAX_CHARS = MAX_RECORD // 4  # UTF-8 takes at most 4 bytes a character
MAX_STRING = 4096  # an OSC/DCS/SOS/PM/APC body ends here at the latest (or at BEL, ST, the line end)

# Every alternative starts with ESC (a literal prefix the regex engine scans for quickly):
# CSI (`ESC [` parameters, intermediates, final: colours, cursor moves, `ESC [ K`, `ESC [ A`);
# the control strings OSC, DCS, SOS, PM, APC, ending at BEL or ST (`ESC \\`), at the line's end
# or after MAX_STRING bytes; every other escape (`ESC ( B`, `ESC 7`, `ESC =`, a lone ST) and a
# stray ESC. None can contain `\n`, `\r` or `\b`. Matched on bytes before decoding (the 8-bit
# CSI 0x9b is left alone: in UTF-8 it is a continuation byte, not a control).
_ANSI = re.compile(
    rb"\x1b(?:"
    rb"\[[0-?]{0,64}[ -/]{0,16}[@-~]"
    rb"|[\]PX^_][^\x07\x1b\n\r\x08]{0,%d}(?:\x07|\x1b\\)?"
    rb"|[ -/]{0,16}[0-~]?"
    rb")" % MAX_STRING
)
_TERMINATOR = re.compile(rb"[\n\r\x08]")
_BS = b"\x08"
# a run of `\b` shrinks five to one, twice (100 -> 20 -> 4). Needles of 6 bytes or more
# CPython searches with a two-way algorithm that prepares the needle at every occurrence:
# (48, 7) took 10% longer on a Keras log
_SHRINK = (_BS * 5, _BS * 5)
_TO_NEWLINE = bytes.maketrans(b"\x08\r", b"\n\n")
_NBSP = "\u00a0".encode()
# colour and cursor codes whose ESC a copy dropped; looked for only where `[0m` (the reset every
# coloured line ends with) shows the log lost them
_LOST_RESET = b"[0m"
_LOST_CSI = re.compile(rb"\[(?:\d{1,3}(?:;\d{1,3}){0,4})?m|\[[012]?K|\[\d?A")
# the colour codes Keras and tqdm write thousands of times: plain replaces first, then the regex
_COMMON = (b"\x1b[0m", b"\x1b[1m", b"\x1b[32m", b"\x1b[37m", b"\x1b[A")


def strip_ansi(data: bytes) -> bytes:
    if b"\x1b" not in data:
        return data
    for code in _COMMON:
        if code in data:
            data = data.replace(code, b"")
    return _ANSI.sub(b"", data) if b"\x1b" in data else data


class RecordSplitter:
    """Incremental bytes -> records. Any chunking of the same bytes yields the same records.

    `max_record` (bytes kept of an over-long line) is a parameter so tests can reach the cut
    with small inputs.
    """

    def __init__(self, max_record: int = MAX_RECORD) -> None:
        self.max_record = max_record
        self.max_chars = max(1, max_record // 4)
        self._tail = b""
        self._pending_cr = False  # the last chunk ended in `\r`: a following `\n` joins it
        self.dropped_bytes = 0

    def feed(self, data: bytes) -> list[str]:
        if len(data) <= self.max_record:
            return self._feed(data)
        # pieces of at most max_record bytes: a line inside one piece is never over-long, so
        # only a line continued from the held tail needs the cut (the same one in any chunking)
        out: list[str] = []
        view = memoryview(data)
        for start in range(0, len(data), self.max_record):
            out += self._feed(bytes(view[start : start + self.max_record]))
        return out

    def _feed(self, data: bytes) -> list[str]:
        if not data:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if data[:1] == b"\n":
                data = data[1:]
        held = len(self._tail)
        buf = self._tail + data if held else data
        last = buf.rfind(b"\n")
        last = max(last, buf.rfind(b"\r"), buf.rfind(b"\x08"))
        if last < 0:
            self._hold(buf)
            return []
        start = 0
        if held and len(buf) > self.max_record:
            # the held line ends at the first terminator: keep its last max_record bytes
            first = _TERMINATOR.search(buf, held)
            assert first is not None
            start = max(0, first.start() - self.max_record)
            self.dropped_bytes += start
        head, self._tail = buf[start : last + 1], buf[last + 1 :]
        if not self._tail and head.endswith(b"\r"):
            self._pending_cr = True  # the `\n` of a `\r\n` may come in the next chunk
        if len(self._tail) > self.max_record:
            self._hold(self._tail)
        return self._split(head)

    def close(self) -> list[str]:
        tail, self._tail = self._tail, b""
        self._pending_cr = False
        return self._split(tail) if tail else []

    def _hold(self, buf: bytes) -> None:
        if len(buf) > self.max_record:
            self.dropped_bytes += len(buf) - self.max_record
            buf = buf[-self.max_record :]
        self._tail = buf

    def _split(self, data: bytes) -> list[str]:
        # all C-level passes. Keras erases a frame with one `\b` per character: shrink those
        # runs first (the buffer loses ~40% of a Keras log), then drop escapes, turn every
        # terminator into `\n` (`\r\n` and what is left of a `\b` run become empty records,
        # dropped like blank lines), decode once and split once.
        if _BS in data:
            for run in _SHRINK:
                if run in data:
                    data = data.replace(run, _BS)
        data = strip_ansi(data).translate(_TO_NEWLINE)
        if _LOST_RESET in data:  # a paste that lost its ESC bytes: `[1m12/12[0m [32m━━[0m`
            data = _LOST_CSI.sub(b"", data)
        if _NBSP in data:  # a copy from a web page or a mail: a space to the reader's eye
            data = data.replace(_NBSP, b" ")
        # a record keeps at most its last max_chars characters (max_record bytes always cover
        # max_chars characters)
        limit = self.max_chars
        records = data.decode("utf-8", "replace").split("\n")
        if "" in records:
            records = list(filter(None, records))
        if len(data) > limit and records and max(map(len, records)) > limit:
            records = [p if len(p) <= limit else p[-limit:] for p in records]
        return records
