"""The cleaned log (what the parser saw, progress bars resolved), with follow and search.

Progress bars redraw themselves many times a line (`\r`, `\b`); the parser sees each frame as
a record. The pane shows them as a terminal would, the last frame of each bar only, until `a`
asks for every frame.
"""

from __future__ import annotations

import re
from collections import deque

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Input, Log

from bertmon.tui.feed import Snapshot

MAX_LINES = 5000
FLUSH_EVERY = 0.25  # seconds: each write scrolls the log, so a burst of records is one write

_TQDM_FRAME = re.compile(r"^(.*?)\s*\d{1,3}%\|")
_KERAS_FRAME = re.compile(r"^\s*\d+/(\d+)\s+(?:\[|━)")


def frame_key(line: str) -> tuple[str, str] | None:
    """Which progress bar `line` is a frame of (tqdm: its description; Keras: its total), or
    None for a line that is not a bar frame."""
    m = _KERAS_FRAME.match(line)
    if m:
        return ("keras", m[1])
    if "%|" in line:
        m = _TQDM_FRAME.match(line)
        if m:
            return ("tqdm", m[1].strip())
    return None


def collapse(lines: list[str], last: tuple[str, str] | None = None) -> tuple[list[str], bool]:
    """`lines` with each run of one bar's frames reduced to its last frame, and whether the first
    of them redraws the bar `last` already shown (so it replaces that line)."""
    out: list[str] = []
    replaces = False
    key = last
    for line in lines:
        k = frame_key(line)
        if k is not None and k == key:
            if out:
                out[-1] = line
            else:
                out.append(line)
                replaces = True
        else:
            out.append(line)
        key = k
    return out, replaces


class FrameLog(Log):
    """A Log whose last line can be redrawn in place, as a terminal redraws a progress bar."""

    def replace_last(self, line: str) -> None:
        lines = getattr(self, "_lines", None)
        cache = getattr(self, "_render_line_cache", None)
        if not lines or cache is None:  # not this Textual's Log: append instead
            self.write_line(line)
            return
        index = len(lines) - 1 - (lines[-1] == "")
        lines[index] = line
        cache.discard(index)
        self.refresh_lines(index)


class LogPane(Vertical):
    """New records are appended as snapshots arrive; `follow` keeps the end in view."""

    primary: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)
    follow: reactive[bool] = reactive(True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._records_shown = 0
        self._pending: list[str] = []
        self._flush_due = False
        self._term = ""
        self._match_line = -1
        self.all_frames = False  # every redraw of a progress bar as its own line
        self._raw: deque[str] = deque(maxlen=MAX_LINES)  # every line, to redraw either way
        self._last_key: tuple[str, str] | None = None  # the bar the last shown line is from

    def compose(self) -> ComposeResult:
        yield FrameLog(max_lines=MAX_LINES, auto_scroll=True, id="log")
        yield Input(placeholder="search the log (enter: find, escape: close)", id="log-search")

    def on_mount(self) -> None:
        self._title()

    def _title(self) -> None:
        follow = "following" if self.follow else "paused"
        frames = "every redraw, a: last only" if self.all_frames else "redraws collapsed, a: all"
        found = f" · '{self._term}' at line {self._match_line + 1}" if self._term else ""
        self.border_title = f"log ({follow} · {frames}){found}"

    def watch_follow(self, follow: bool) -> None:
        log = self.query_one(Log)
        log.auto_scroll = follow
        if follow:
            log.scroll_end(animate=False)
        self._title()

    def watch_primary(self, snap: Snapshot | None) -> None:
        """Queue the records this snapshot adds; they are written in one batch per FLUSH_EVERY."""
        if snap is None:
            return
        new = snap.records - self._records_shown
        if new <= 0:
            return
        if new > len(snap.log_tail):
            if self._records_shown:
                self._pending.append(f"… {new - len(snap.log_tail):,} records not shown …")
            self._pending.extend(snap.log_tail)
        else:
            self._pending.extend(snap.log_tail[-new:])
        del self._pending[:-MAX_LINES]
        self._records_shown = snap.records
        if not self._flush_due:
            self._flush_due = True
            self.set_timer(FLUSH_EVERY, self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        lines, self._pending = self._pending, []
        if not lines:
            return
        self._raw.extend(lines)
        log = self.query_one(FrameLog)
        if self.all_frames:
            log.write_lines(lines)
            return
        shown, replaces = collapse(lines, self._last_key)
        self._last_key = frame_key(lines[-1])
        if replaces:
            log.replace_last(shown.pop(0))
        if shown:
            log.write_lines(shown)

    def toggle_frames(self) -> None:
        """Every redraw of the progress bars, or the last frame of each (as a terminal shows)."""
        self.all_frames = not self.all_frames
        log = self.query_one(FrameLog)
        lines = list(self._raw)
        log.clear()
        if self.all_frames:
            log.write_lines(lines)
        else:
            shown, _ = collapse(lines)
            log.write_lines(shown)
        self._last_key = frame_key(lines[-1]) if lines else None
        self._match_line = -1
        self._title()

    @property
    def lines(self) -> list[str]:
        return list(self.query_one(Log).lines)

    def start_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.add_class("-open")
        box.focus()

    @on(Input.Submitted, "#log-search")
    def _submitted(self, event: Input.Submitted) -> None:
        self._term = event.value.strip()
        self._match_line = -1
        self.find_next()
        self.query_one(Log).focus()
        event.input.remove_class("-open")

    def close_search(self) -> None:
        self.query_one("#log-search", Input).remove_class("-open")

    def find_next(self) -> bool:
        """Move to the next line holding the search term; following stops so it stays in view."""
        if not self._term:
            return False
        log = self.query_one(Log)
        lines = log.lines
        term = self._term.lower()
        order = list(range(self._match_line + 1, len(lines))) + list(range(self._match_line + 1))
        for i in order:
            if term in lines[i].lower():
                self._match_line = i
                self.follow = False
                log.scroll_to(y=max(0, i - 2), animate=False)
                self._title()
                return True
        self.notify(f"'{self._term}' is not in the log", severity="warning")
        self._title()
        return False
