"""The epoch table: one row per epoch, every metric as printed, the best dev epoch highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

from bertmon.tui.feed import RunView, Snapshot

BEST_STYLE = "bold black on green"


def fmt(value: float | None) -> str:
    if value is None:
        return ""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value == int(value) and abs(value) >= 1000:
        return f"{int(value)}"
    return f"{value:.4f}"


class EpochTable(DataTable):
    """Rebuilt only when the epochs change; a comparison shows both logs side by side."""

    primary: reactive[Snapshot | None] = reactive(None, always_update=True)
    secondary: reactive[Snapshot | None] = reactive(None, always_update=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(zebra_stripes=True, cursor_type="row", **kwargs)
        self._shown: object = None

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
        runs = self._runs()
        key = tuple(
            (prefix, run.index, len(run.epochs), tuple(run.epochs[-1].metrics.items()) if run.epochs else (), run.best)
            for prefix, run in runs
        )
        if key == self._shown:
            return
        self._shown = key
        columns: list[tuple[str, RunView, str]] = []  # (label, run, metric)
        for prefix, run in runs:
            names: dict[str, None] = {}
            for row in run.epochs:
                names.update(dict.fromkeys(row.metrics))
            columns += [(f"{prefix}{name}", run, name) for name in names]
            if any(row.seconds is not None for row in run.epochs):
                columns.append((f"{prefix}seconds", run, "\0seconds"))
        epochs = sorted({row.epoch for _, run in runs for row in run.epochs})
        best = {id(run): run.best[1] for _, run in runs if run.best is not None}
        rows_by = {id(run): {row.epoch: row for row in run.epochs} for _, run in runs}
        self.clear(columns=True)
        self.add_column("epoch", key="epoch")
        for label, _, _ in columns:
            self.add_column(label)
        for epoch in epochs:
            is_best = any(best.get(id(run)) == epoch for _, run in runs)
            style = BEST_STYLE if is_best else ""
            cells: list[Text] = [Text(f"{'★ ' if is_best else ''}{epoch}", style=style)]
            for _, run, metric in columns:
                row = rows_by[id(run)].get(epoch)
                if row is None:
                    value = ""
                elif metric == "\0seconds":
                    value = fmt(row.seconds)
                else:
                    value = fmt(row.metrics.get(metric))
                cell_style = style
                if run.best is not None and metric == run.best[0] and best.get(id(run)) == epoch:
                    cell_style = BEST_STYLE
                cells.append(Text(value, style=cell_style, justify="right"))
            self.add_row(*cells, key=str(epoch))
        if epochs:
            self.move_cursor(row=len(epochs) - 1, animate=False)
