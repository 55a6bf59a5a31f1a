"""The epoch table: one row per epoch, every metric as printed, the best dev epoch highlighted.

Columns never change order between a live run and the same log read finished (roles first, then
the rest as first printed, then the epoch time), and a column either fits whole or is left out
and named in the border: a value cut at the edge (`0.51` for `0.5123`) reads as another number.
"""

from __future__ import annotations

import math
from itertools import zip_longest

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

from bertmon.tui.feed import RunView, Snapshot

BEST_STYLE = "bold black on green"


def fmt(value: float | None) -> str:
    if value is None:
        return ""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) >= 1000:
        return f"{int(value)}"
    if value and abs(value) < 1e-3:  # learning rates: 2.00e-05, not 0.0000
        return f"{value:.2e}"
    return f"{value:.4f}"


def fmt_seconds(value: float | None) -> str:
    """An epoch's time as a time: `2.0s`, `199s` (not `2.0000`)."""
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.1f}s" if value < 10 else f"{value:.0f}s"


TIME_FORMATS = ("keras", "tqdm")  # formats whose epochs carry a time: the column is always there
CELL_PADDING = 2  # DataTable's default cell padding, one each side


class EpochTable(DataTable):
    """Rebuilt only when the epochs change; a comparison shows both logs side by side."""

    primary: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)
    secondary: reactive[Snapshot | None] = reactive(None, always_update=True, repaint=False)

    def __init__(self, **kwargs) -> None:
        super().__init__(zebra_stripes=True, cursor_type="row", **kwargs)
        self._shown: object = None
        self.hidden: list[str] = []  # columns left out for want of width

    def on_resize(self) -> None:
        self._shown = None  # the width changed: which columns fit may have too
        self.rebuild()

    def watch_primary(self) -> None:
        self.rebuild()

    def watch_secondary(self) -> None:
        self.rebuild()

    def _runs(self) -> list[tuple[str, RunView]]:
        both = self.secondary is not None
        out = []
        for tag, snap in (("A", self.primary), ("B", self.secondary)):
            if snap is not None and snap.run is not None:
                out.append((f"{tag} " if both else "", snap.run))
        return out

    def rebuild(self) -> None:
        """Redraw only the cells that changed; rebuild only when rows or columns change.

        A Keras epoch row changes at every progress-bar update, and a full rebuild there would
        relayout the screen several times a second.
        """
        runs = self._runs()
        per_run: list[list[tuple[str, RunView, str]]] = []  # (label, run, metric)
        for prefix, run in runs:
            names: dict[str, None] = {}
            for row in run.epochs:
                names.update(dict.fromkeys(row.metrics))
            mine = [(f"{prefix}{name}", run, name) for name in _ordered(names, run)]
            if any(row.seconds is not None for row in run.epochs) or any(
                f in TIME_FORMATS for f in run.formats
            ):
                mine.append((f"{prefix}time", run, "\0seconds"))
            per_run.append(mine)
        # a comparison interleaves A's and B's columns, so that both keep their first ones
        columns = [c for group in zip_longest(*per_run) for c in group if c is not None]
        epochs = sorted({row.epoch for _, run in runs for row in run.epochs})
        best = {id(run): run.best[1] for _, run in runs if run.best is not None}
        rows_by = {id(run): {row.epoch: row for row in run.epochs} for _, run in runs}
        grid: list[list[Text]] = []
        for epoch in epochs:
            is_best = any(best.get(id(run)) == epoch for _, run in runs)
            style = BEST_STYLE if is_best else ""
            cells: list[Text] = [Text(f"{'★ ' if is_best else ''}{epoch}", style=style)]
            for _, run, metric in columns:
                row = rows_by[id(run)].get(epoch)
                if row is None:
                    value = ""
                elif metric == "\0seconds":
                    value = fmt_seconds(row.seconds)
                else:
                    value = fmt(row.metrics.get(metric))
                cell_style = style
                if run.best is not None and metric == run.best[0] and best.get(id(run)) == epoch:
                    cell_style = BEST_STYLE
                cells.append(Text(value, style=cell_style, justify="right"))
            grid.append(cells)
        labels = ["epoch"] + [label for label, _, _ in columns]
        labels, grid = self._fit(labels, grid)
        shape = (tuple(labels), tuple(epochs))
        if (
            self._shown is not None
            and self._shown[0] == shape
            and _widths(labels, self._shown[1]) == _widths(labels, grid)
        ):
            for epoch, old, new in zip(epochs, self._shown[1], grid):
                for label, a, b in zip(labels, old, new):
                    if a != b:
                        self.update_cell(str(epoch), label, b)
            self._shown = (shape, grid)
            return
        self._shown = (shape, grid)
        self.clear(columns=True)
        # explicit widths: no reliance on the table measuring rows it has not laid out yet
        for label, width in zip(labels, _widths(labels, grid)):
            self.add_column(label, key=label, width=width)
        for epoch, cells in zip(epochs, grid):
            self.add_row(*cells, key=str(epoch))
        if epochs:
            self.move_cursor(row=len(epochs) - 1, animate=False)


    def _fit(
        self, labels: list[str], grid: list[list[Text]]
    ) -> tuple[list[str], list[list[Text]]]:
        """The leading columns that fit whole in the widget's width; the rest are named in the
        border's subtitle."""
        room = self.size.width - 2  # a vertical scrollbar's width
        if room <= 0:  # not laid out yet
            self.hidden = []
            return labels, grid
        widths = _widths(labels, grid)
        keep, used = 0, 0
        for width in widths:
            if keep >= 2 and used + width + CELL_PADDING > room:
                break
            used += width + CELL_PADDING
            keep += 1
        self.hidden = labels[keep:]
        if self.hidden:
            names = ", ".join(self.hidden)
            self.border_subtitle = f"+{len(self.hidden)} not shown: {names}"
        else:
            self.border_subtitle = ""
        return labels[:keep], [row[:keep] for row in grid]


def _widths(labels: list[str], grid: list[list[Text]]) -> list[int]:
    """Each column's width as a full rebuild would size it: same widths, same layout."""
    return [max([len(label)] + [row[i].cell_len for row in grid]) for i, label in enumerate(labels)]


# the dev metrics first: a narrow table scrolls sideways, and they are what a user looks for
ROLE_ORDER = ("dev_score", "dev_acc", "dev_loss", "train_acc", "train_loss")


def _ordered(names: dict[str, None], run: RunView) -> list[str]:
    first = [run.roles.get(role) for role in ROLE_ORDER]
    first = [name for name in dict.fromkeys(first) if name in names]
    return first + [name for name in names if name not in first]
