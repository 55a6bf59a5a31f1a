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

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), two-byte escapes (ESC + one char),
# and a lone 8-bit CSI introducer.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_BREAK = re.compile(r"\r\n|[\r\n]|\x08+")


def clean(text: str) -> str:
    """Drop ANSI escape sequences from already-decoded text."""
    return _ANSI.sub("", text) if "\x1b" in text or "\x9b" in text else text


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
        text = clean(data.decode("utf-8", "replace"))
        parts = _BREAK.split(text)
        return [p for p in parts if p]
