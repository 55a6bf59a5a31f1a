"""The monitor screen: one or two sources, each read and parsed in a worker thread of its own."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import get_current_worker

from bertmon.tui.compare import CompareScreen
from bertmon.tui.feed import Feed, Snapshot, drive
from bertmon.tui.messages import SnapshotReady, SourceEnded, SourceNotice
from bertmon.tui.plotdata import SMOOTHING_LABEL, SMOOTHINGS, Smoothing
from bertmon.tui.widgets.charts import Charts
from bertmon.tui.widgets.epoch_table import EpochTable
from bertmon.tui.widgets.findings import FindingsPanel
from bertmon.tui.widgets.header import RunHeader, run_name
from bertmon.tui.widgets.log_pane import LogPane


@dataclass
class SourceSpec:
    """A source to show and how to label it."""

    source: Iterable
    label: str
    live: bool
    config: dict[str, object] = field(default_factory=dict)
    config_path: Path | None = None  # a run directory's config.json, read again when it changes


class MonitorScreen(Screen):
    """Header, charts, epoch table, findings, log; the parent of every reactive they draw."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "smoothing", "smoothing"),
        Binding("f", "follow", "follow log"),
        Binding("a", "all_frames", "all redraws"),
        Binding("slash", "search", "search log"),
        Binding("n", "next_match", "next match"),
        Binding("left_square_bracket", "switch_run(-1)", "previous run"),
        Binding("right_square_bracket", "switch_run(1)", "next run"),
        Binding("c", "compare", "compare runs"),
        Binding("e", "export", "export"),
        Binding("s", "stop_trainer", "stop trainer"),
        Binding("escape", "close", "close", show=False),
    ]

    primary: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)
    secondary: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)
    smoothing: reactive[Smoothing] = reactive("none")

    def __init__(
        self,
        specs: list[SourceSpec],
        *,
        process=None,
        export_dir: Path | None = None,
        closable: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.specs = specs
        self.process = process
        self.export_dir = export_dir
        self.closable = closable
        self.clock = clock
        self.wall = wall
        self.feeds: list[Feed | None] = [None] * len(specs)
        self.ended = [False] * len(specs)
        self.exit_code: int | None = None
        self.stopping = False
        self.exported: list[Path] = []
        self.notices: list[str] = []  # every word about the sources, in order
        self._raw: list[Snapshot | None] = [None] * len(specs)  # as the workers sent them
        self.choice: list[int | None] = [None] * len(specs)  # run picked per source; None: latest

    def compose(self) -> ComposeResult:
        yield RunHeader(self.clock, self.wall, id="header").data_bind(
            MonitorScreen.primary, MonitorScreen.secondary
        )
        with Horizontal(id="main"):
            yield Charts(id="charts").data_bind(
                MonitorScreen.primary, MonitorScreen.secondary, MonitorScreen.smoothing
            )
            with Vertical(id="side"):
                yield EpochTable(id="epochs").data_bind(
                    MonitorScreen.primary, MonitorScreen.secondary
                )
                yield FindingsPanel(id="findings").data_bind(
                    MonitorScreen.primary, MonitorScreen.secondary
                )
        yield LogPane(id="logpane").data_bind(MonitorScreen.primary)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#epochs").border_title = "epochs"
        for slot, spec in enumerate(self.specs):
            self.run_worker(
                lambda slot=slot: self._pump(slot),
                name=f"source-{slot}",
                group=f"source-{slot}",
                exclusive=True,
                exit_on_error=False,
                thread=True,
                description=f"read and parse {spec.label}",
            )

    # --- worker thread: reads, parses, posts; touches no widget -----------------------------
    def _pump(self, slot: int) -> None:
        spec = self.specs[slot]
        worker = get_current_worker()
        try:
            feed = Feed(
                spec.label,
                live=spec.live,
                config=spec.config,
                config_path=spec.config_path,
                log_path=getattr(spec.source, "path", None),
                clock=self.clock,
                wall=self.wall,
            )
            self.feeds[slot] = feed
            drive(
                spec.source,
                feed,
                on_snapshot=lambda snap: self.post_message(SnapshotReady(slot, snap)),
                on_event=lambda ev: self.post_message(SourceNotice(slot, ev.level, ev.text)),
                cancelled=lambda: worker.is_cancelled,
            )
        except Exception as exc:  # noqa: BLE001 - the screen says so and keeps running
            self.post_message(SourceNotice(slot, "error", f"reading {spec.label} failed: {exc}"))
            return
        if feed.ended:
            self.post_message(SourceEnded(slot, feed.exit_code))

    # --- messages from the workers ----------------------------------------------------------
    @on(SnapshotReady)
    def _snapshot(self, message: SnapshotReady) -> None:
        before = self._raw[message.slot]
        self._raw[message.slot] = message.snapshot
        self._publish(message.slot)
        if before is None or len(before.runs) != len(message.snapshot.runs):
            self.refresh_bindings()  # [ and ] appear once a source holds several runs

    def _publish(self, slot: int) -> None:
        """Hand the widgets the slot's latest snapshot, showing the run picked for it."""
        snap = self._raw[slot]
        if snap is None:
            return
        if self.choice[slot] is not None:
            snap = replace(snap, chosen=self.choice[slot])
        if slot == 0:
            self.primary = snap
        else:
            self.secondary = snap

    @on(SourceNotice)
    def _notice(self, message: SourceNotice) -> None:
        self.notices.append(message.text)
        if message.level in ("warning", "error"):
            self.notify(message.text, severity=message.level, timeout=6)

    @on(SourceEnded)
    def _ended(self, message: SourceEnded) -> None:
        self.ended[message.slot] = True
        if message.slot == 0 and self.process is not None:
            self.exit_code = message.exit_code
            self.stopping = False
            self.refresh_bindings()

    def exit_summary(self) -> str | None:
        """The paragraph `bertmon tail` leaves on the terminal: the run on screen, how it
        ended, its best dev score and findings, and where the log is."""
        from bertmon.tui.summary import summary_paragraph
        from bertmon.tui.widgets.header import shown_status

        snap = self.primary
        if snap is None or snap.run is None:
            return None
        run = snap.run
        status = shown_status(snap, run, self.wall())
        return summary_paragraph(
            run_name(snap.label),
            status,
            epochs_done=len(run.epochs),
            epochs_planned=run.epochs_planned,
            best=run.best,
            findings=snap.findings,
            error=run.error,
            where=f"log: {snap.label}",
            stopped_by_user=snap.stopped_by_user,
            run_of=(snap.shown + 1, len(snap.runs)),
        )

    @property
    def trainer_running(self) -> bool:
        return self.process is not None and not self.ended[0]

    # --- actions ----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop_trainer":
            if self.process is None:
                return False
            return True if self.trainer_running and not self.stopping else None
        if action == "close":
            return self.closable
        if action == "compare":
            return len(self.specs) == 2
        if action == "switch_run":
            snap = self._raw[0]
            return snap is not None and len(snap.runs) > 1
        return True

    def action_smoothing(self) -> None:
        i = SMOOTHINGS.index(self.smoothing)
        self.smoothing = SMOOTHINGS[(i + 1) % len(SMOOTHINGS)]
        self.notify(f"smoothing: {SMOOTHING_LABEL[self.smoothing]}", timeout=2)

    def action_follow(self) -> None:
        pane = self.query_one(LogPane)
        pane.follow = not pane.follow

    def action_all_frames(self) -> None:
        pane = self.query_one(LogPane)
        pane.toggle_frames()
        words = "every progress-bar redraw" if pane.all_frames else "the last frame of each bar"
        self.notify(f"log: {words}", timeout=2)

    def action_search(self) -> None:
        self.query_one(LogPane).start_search()

    def action_next_match(self) -> None:
        self.query_one(LogPane).find_next()

    def action_compare(self) -> None:
        """`bertmon compare`'s epoch-by-epoch view of the two sources."""
        if len(self.specs) == 2:
            self.app.push_screen(CompareScreen(lambda: list(self.feeds), self.run_picks))

    def run_picks(self) -> list[int | None]:
        """The run shown of each source (None: the latest)."""
        return list(self.choice)

    def action_switch_run(self, step: int) -> None:
        """Show the previous or next run of a log that holds several (of source A)."""
        snap = self._raw[0]
        if snap is None or len(snap.runs) < 2:
            return
        last = len(snap.runs) - 1
        current = self.choice[0] if self.choice[0] is not None else last
        target = min(last, max(0, current + step))
        self.choice[0] = None if target == last else target  # the last run: follow new ones
        self._publish(0)
        self.notify(f"run {target + 1} of {last + 1}", timeout=2)

    def action_close(self) -> None:
        if self.closable:
            self.dismiss()

    def action_stop_trainer(self) -> None:
        if self.trainer_running and not self.stopping:
            self.stopping = True
            self.refresh_bindings()
            self.notify("stopping the trainer after its current step…", timeout=4)
            self._stop_trainer()

    @work(
        thread=True,
        group="trainer",
        exclusive=True,
        exit_on_error=False,
        description="ask the trainer to stop gracefully",
    )
    def _stop_trainer(self) -> None:
        self.process.stop()

    def action_export(self) -> None:
        feeds = [feed for feed in self.feeds if feed is not None]
        if not feeds:
            self.notify("nothing to export yet", severity="warning")
            return
        self._export(feeds)

    @work(
        thread=True,
        group="export",
        exclusive=False,
        exit_on_error=False,
        description="write the series (CSV, JSON), the report (Markdown) and the figure (PNG)",
    )
    def _export(self, feeds: list[Feed]) -> None:
        from bertmon.plots import PlotUnavailable, require

        directory = self.export_dir or Path.cwd()
        written: list[Path] = []
        try:
            require()
            plot = True
        except PlotUnavailable as exc:
            plot = False
            self.app.call_from_thread(self.notify, f"no PNG: {exc}", severity="warning")
        try:
            for feed in feeds:
                stem = "bertmon-" + re.sub(r"[^\w.-]+", "_", run_name(feed.label))
                written += feed.export(directory, stem, plot=plot)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"export failed: {exc}", severity="error")
            return
        self.app.call_from_thread(self._exported, written)

    def _exported(self, written: list[Path]) -> None:
        self.exported = written
        self.notify("exported " + ", ".join(str(p) for p in written), timeout=8)
