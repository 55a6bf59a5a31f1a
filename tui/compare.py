"""The comparison screen (key `c`): `bertmon compare`'s view of the two sources, kept up to date.

Epoch by epoch, lined up by role, with deltas, who is ahead and the best of each, the configuration
difference that most likely explains a gap, and both runs' findings: exactly what
`bertmon.analyzers.compare.render` prints. Built in a worker thread from the two feeds' parsers
(under their locks), never on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from bertmon.tui.feed import Feed

REFRESH_EVERY = 2.0  # seconds between rebuilds while a source is still live


def comparison_text(feeds: list[Feed], picks: list[int | None]) -> str:
    """The text report of `compare()` on each feed's chosen run (None: the latest with epochs)."""
    from bertmon.analyzers import analyze
    from bertmon.analyzers.compare import CompareError, Side, compare, render

    sides = []
    for feed, pick in zip(feeds, picks):
        with feed.lock:
            runs = feed.analysis.runs if feed.analysis is not None else list(feed.parser.runs)
            if pick is not None and 0 <= pick < len(runs):
                run = runs[pick]
            else:
                with_epochs = [r for r in runs if r.epochs]
                if not with_epochs:
                    return f"{feed.label}: no epochs recognised yet; nothing to compare"
                run = with_epochs[-1]
            if feed.analysis is None:
                analyze(run)  # the findings as they stand now
            config = feed.config if feed.config_path is not None and feed.config else None
            sides.append(Side(feed.label, run, config))
    try:
        return render(compare(*sides), "text")
    except CompareError as exc:
        return str(exc)


class CompareScreen(Screen):
    """The two runs lined up epoch by epoch; escape or `c` goes back to the monitor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "back"),
        Binding("c", "back", "back", show=False),
        Binding("r", "rebuild", "refresh"),
    ]

    @dataclass
    class Built(Message):
        """A fresh comparison text, made in the worker."""

        text: str

    def __init__(
        self, feeds: Callable[[], list[Feed | None]], picks: Callable[[], list[int | None]]
    ) -> None:
        super().__init__()
        self.feeds = feeds
        self.picks = picks
        self.text = ""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="compare-body"):
            yield Static("comparing…", id="compare-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#compare-body").border_title = "comparison (bertmon compare A B)"
        self.action_rebuild()
        self.set_interval(REFRESH_EVERY, self._tick)

    def _tick(self) -> None:
        if any(feed is not None and feed.live for feed in self.feeds()):
            self.action_rebuild()

    def action_rebuild(self) -> None:
        feeds = self.feeds()
        if any(feed is None for feed in feeds):
            self.query_one("#compare-text", Static).update("waiting for both sources…")
            return
        self._build(feeds, self.picks())

    @work(
        thread=True,
        group="compare",
        exclusive=True,
        exit_on_error=False,
        description="line the two runs up epoch by epoch (bertmon compare)",
    )
    def _build(self, feeds: list[Feed], picks: list[int | None]) -> None:
        try:
            text = comparison_text(feeds, picks)
        except Exception as exc:  # noqa: BLE001 - said on the screen
            text = f"comparing failed: {exc}"
        self.post_message(self.Built(text))

    def on_compare_screen_built(self, message: Built) -> None:
        if message.text != self.text:
            self.text = message.text
            self.query_one("#compare-text", Static).update(message.text)

    def action_back(self) -> None:
        self.dismiss()
