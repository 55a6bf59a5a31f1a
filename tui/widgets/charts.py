"""The charts: train loss per step, loss per epoch, train vs dev accuracy or score per epoch.

Drawn with textual-plotext. The step chart draws the feed's downsampled points (min and max per
bucket), smoothed as chosen; epoch charts draw every epoch. A second log overlays its lines.
"""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from bertmon.tui.feed import RunView, Snapshot
from bertmon.tui.plotdata import SMOOTHING_LABEL, Smoothing, finite_points, smooth

REDRAW_EVERY = 0.3  # seconds: plotext draws in Python, so bursts of snapshots share a redraw
EPOCH_REDRAW_EVERY = 0.6  # seconds: the current epoch's row moves with every progress update
COLOURS = {"A": ("blue", "orange", "green"), "B": ("magenta", "red", "cyan")}


class MetricChart(PlotextPlot):
    """One plotext chart; `lines` are (label, xs, ys, colour)."""

    def draw(
        self,
        title: str,
        lines: list[tuple[str, list[float], list[float], str]],
        marks: list[tuple[str, float, float, str]] = (),
        xlabel: str = "",
    ) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title(title)
        if xlabel:
            plt.xlabel(xlabel)
        drawn = False
        for label, xs, ys, colour in lines:
            xs, ys = finite_points(xs, ys)
            if xs:
                plt.plot(xs, ys, label=label, color=colour, marker="braille")
                drawn = True
        for label, x, y, colour in marks:
            plt.scatter([x], [y], label=label, color=colour, marker="*")
            plt.vline(x, colour)
        if not drawn:
            plt.text("no data yet", 0.5, 0.5, alignment="center")
            plt.xlim(0, 1)
            plt.ylim(0, 1)
        self.refresh()


class Charts(Vertical):
    """The three charts, redrawn when a snapshot or the smoothing changes."""

    primary: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)
    secondary: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)
    smoothing: reactive[Smoothing] = reactive("none")

    def compose(self) -> ComposeResult:
        yield MetricChart(id="step-loss")
        with Horizontal(id="epoch-charts"):
            yield MetricChart(id="epoch-loss")
            yield MetricChart(id="epoch-acc")

    _drawn_at = 0.0
    _pending = False
    _step_key: object = None
    _epochs_key: object = None
    _epochs_count: object = None
    _epochs_at = 0.0

    def on_mount(self) -> None:
        self.redraw()

    def watch_primary(self) -> None:
        self.request_redraw()

    def watch_secondary(self) -> None:
        self.request_redraw()

    def watch_smoothing(self) -> None:
        self.redraw()

    def request_redraw(self) -> None:
        """Redraw now, or once when REDRAW_EVERY has passed since the last redraw."""
        if self._pending:
            return
        wait = self._drawn_at + REDRAW_EVERY - time.monotonic()
        if wait <= 0:
            self.redraw()
        else:
            self._pending = True
            self.set_timer(wait, self._deferred)

    def _deferred(self) -> None:
        self._pending = False
        self.redraw()

    def _runs(self) -> list[tuple[str, RunView]]:
        out = []
        for tag, snap in (("A", self.primary), ("B", self.secondary)):
            if snap is not None and snap.run is not None:
                out.append((tag, snap.run))
        return out

    def redraw(self) -> None:
        """Draw each chart whose data changed since it was last drawn, and only those.

        plotext builds its picture in Python, so an unchanged chart is left alone; the epoch
        charts change at most once per progress update of the current epoch, and are drawn at
        most every EPOCH_REDRAW_EVERY seconds unless an epoch was added.
        """
        if not self.is_mounted:
            return
        now = time.monotonic()
        self._drawn_at = now
        runs = self._runs()
        both = len(runs) > 1
        step_key = (
            self.smoothing,
            tuple((tag, id(run.step_x), run.loss_points) for tag, run in runs),
        )
        if step_key != self._step_key:
            self._step_key = step_key
            self._draw_step(runs, both)
        epochs_key = tuple(
            (
                tag,
                run.epochs_planned,
                run.best,
                tuple((r.epoch, tuple(r.metrics.items())) for r in run.epochs),
            )
            for tag, run in runs
        )
        count = tuple(len(run.epochs) for _, run in runs)
        if epochs_key != self._epochs_key:
            if count != self._epochs_count or now - self._epochs_at >= EPOCH_REDRAW_EVERY:
                self._epochs_key, self._epochs_count, self._epochs_at = epochs_key, count, now
                self._draw_epochs(runs, both)
            elif not self._pending:  # come back for the latest values
                self._pending = True
                self.set_timer(self._epochs_at + EPOCH_REDRAW_EVERY - now, self._deferred)

    def _draw_step(self, runs: list[tuple[str, RunView]], both: bool) -> None:
        step_lines = []
        for tag, run in runs:
            if len(run.step_y):
                ys = smooth(run.step_y, self.smoothing).tolist()
                name = run.roles.get("train_loss") or "loss"
                prefix = f"{tag} " if both else ""
                step_lines.append((f"{prefix}{name}", run.step_x.tolist(), ys, COLOURS[tag][0]))
        points = sum(run.loss_points for _, run in runs)
        self.query_one("#step-loss", MetricChart).draw(
            f"train loss per step ({SMOOTHING_LABEL[self.smoothing]}; {points:,} points)",
            step_lines,
            xlabel="step",
        )

    def _draw_epochs(self, runs: list[tuple[str, RunView]], both: bool) -> None:
        loss_lines, acc_lines, marks, loss_marks = [], [], [], []
        for tag, run in runs:
            prefix = f"{tag} " if both else ""
            c_train, c_dev, c_extra = COLOURS[tag]
            for role, colour in (("train_loss", c_train), ("dev_loss", c_dev)):
                values = run.role_values(role)
                if values:
                    label = f"{prefix}{run.roles[role]}"
                    loss_lines.append(
                        (label, [e for e, _ in values], [v for _, v in values], colour)
                    )
            for role, colour in (
                ("train_acc", c_train),
                ("dev_acc", c_dev),
                ("dev_score", c_extra),
            ):
                values = run.role_values(role)
                if values:
                    label = f"{prefix}{run.roles[role]}"
                    acc_lines.append(
                        (label, [e for e, _ in values], [v for _, v in values], colour)
                    )
            if run.best is not None:  # the best dev epoch, on the chart that draws its metric
                name, epoch, value = run.best
                mark = (f"{prefix}best {name} {value:.4f} @ {epoch}", epoch, value, "red")
                (loss_marks if name == run.roles.get("dev_loss") else marks).append(mark)
        self.query_one("#epoch-loss", MetricChart).draw("loss per epoch", loss_lines, loss_marks)
        self.query_one("#epoch-acc", MetricChart).draw(
            "train vs dev accuracy / score per epoch", acc_lines, marks
        )
