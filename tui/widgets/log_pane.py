"""The cleaned log (what the parser saw, progress bars resolved), with follow and search."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Input, Log

from bertmon.tui.feed import Snapshot

MAX_LINES = 5000
FLUSH_EVERY = 0.25  # seconds: each write scrolls the log, so a burst of records is one write


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

    def compose(self) -> ComposeResult:
        yield Log(max_lines=MAX_LINES, auto_scroll=True, id="log")
        yield Input(placeholder="search the log (enter: find, escape: close)", id="log-search")

    def on_mount(self) -> None:
        self._title()

    def _title(self) -> None:
        follow = "following" if self.follow else "paused"
        found = f" · '{self._term}' at line {self._match_line + 1}" if self._term else ""
        self.border_title = f"log ({follow}){found}"

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
        if lines:
            self.query_one(Log).write_lines(lines)

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
