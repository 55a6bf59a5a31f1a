"""Bytes to records: what a terminal would have shown, one record per line or redraw frame.

Keras redraws its bar with runs of `\\b` followed by `\\r`, tqdm with `\\r` (and `\\x1b[A` to climb to
a nested bar); both may colour with ANSI codes. Every `\\n`, `\\r`, `\\r\\n` and run of `\\b` ends a
record, ANSI escape sequences are dropped, and bytes are decoded as UTF-8 with replacement.

Splitting happens on bytes (the terminators are ASCII and never occur inside a UTF-8 sequence),
and each chunk is decoded and split with a handful of C-level calls, so a line of any length
costs linear time. An unterminated tail is held back until it completes (tailing a growing
file) and flushed by `close()`. A tail longer than `MAX_RECORD` bytes keeps only its last
`MAX_RECORD` bytes, so memory stays bounded on a log with no newline at all.
"""

from __future__ import annotations

import re

MAX_RECORD = 1 << 20
MAX_CHARS = MAX_RECORD // 4  # UTF-8 takes at most 4 bytes a character

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), two-byte escapes (ESC + one char).
# Matched on bytes before decoding (the 8-bit CSI 0x9b is left alone: in UTF-8 it is a
# continuation byte, not a control).
_ANSI = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    rb"|\x1b[@-Z\\-_]"
)
_BS = b"\x08"
_TO_NEWLINE = bytes.maketrans(b"\x08\r", b"\n\n")
# the colour codes Keras and tqdm write thousands of times: plain replaces first, then the regex
_COMMON = (b"\x1b[0m", b"\x1b[1m", b"\x1b[32m", b"\x1b[37m", b"\x1b[A")


def strip_ansi(data: bytes) -> bytes:
    for code in _COMMON:
        if code in data:
            data = data.replace(code, b"")
    return _ANSI.sub(b"", data) if b"\x1b" in data else data


class RecordSplitter:
    """Incremental bytes -> records. Any chunking of the same bytes yields the same records."""

    def __init__(self) -> None:
        self._tail = b""
        self._pending_cr = False  # the last chunk ended in `\r`: a following `\n` joins it
        self.dropped_bytes = 0

    def feed(self, data: bytes) -> list[str]:
        if not data:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if data[:1] == b"\n":
                data = data[1:]
        buf = self._tail + data if self._tail else data
        last = buf.rfind(b"\n")
        last = max(last, buf.rfind(b"\r"), buf.rfind(b"\x08"))
        if last < 0:
            self._hold(buf)
            return []
        head, self._tail = buf[: last + 1], buf[last + 1 :]
        if not self._tail and head.endswith(b"\r"):
            self._pending_cr = True  # the `\n` of a `\r\n` may come in the next chunk
        if len(self._tail) > MAX_RECORD:
            self._hold(self._tail)
        return self._split(head)

    def close(self) -> list[str]:
        tail, self._tail = self._tail, b""
        self._pending_cr = False
        return self._split(tail) if tail else []

    def _hold(self, buf: bytes) -> None:
        if len(buf) > MAX_RECORD:
            self.dropped_bytes += len(buf) - MAX_RECORD
            buf = buf[-MAX_RECORD:]
        self._tail = buf

    @staticmethod
    def _split(data: bytes) -> list[str]:
        # all C-level passes. Keras erases a frame with one `\b` per character: shrink those
        # runs first (the buffer loses ~40% of a Keras log), then drop escapes, turn every
        # terminator into `\n` (`\r\n` and what is left of a `\b` run become empty records,
        # dropped like blank lines), decode once and split once.
        if _BS in data:
            for n in (48, 7):
                if _BS * n in data:
                    data = data.replace(_BS * n, _BS)
        data = strip_ansi(data).translate(_TO_NEWLINE)
        # a record keeps at most its last MAX_CHARS characters, whether it came whole or was
        # held back in pieces (MAX_RECORD bytes always cover MAX_CHARS characters)
        return [p if len(p) <= MAX_CHARS else p[-MAX_CHARS:]
                for p in data.decode("utf-8", "replace").split("\n") if p]
